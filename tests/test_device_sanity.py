"""The test device is what devicelib claims: checked from outside, with paramiko.

Every assertion is on real output of the running device, so a device that
drifts (bash sneaks in, ss goes missing, the config becomes readable) fails here
before it silently weakens the tests that rely on it.
"""

import gzip
import hashlib
import os
import platform
import socket
from pathlib import Path

import devicelib
import paramiko
import pytest
import servers

pytestmark = pytest.mark.device

IDENTITY = (
    "echo $0; readlink /bin/sh; ls /usr/bin/bash /bin/bash 2>&1; ls /usr/lib/openssh/sftp-server 2>&1; hostname; id -u"
)
UIDS = {"root": 0, "support": 1000}


def connect(dev, who="root", *, auth="password", password=None, key=None, known_hosts=None):
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or dev.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    is_root = who == "root"
    if auth == "password":
        password = password or (dev.root_password if is_root else dev.user_password)
    else:
        key = key or (dev.root_key if is_root else dev.user_key)
    try:
        client.connect(
            dev.host,
            dev.port,
            username=who,
            password=password,
            key_filename=str(key) if key else None,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
    except BaseException:
        client.close()
        raise
    return client


def run(dev, cmd, who="root"):
    """(exit status, stdout, stderr) of `cmd` run by `who` on the device."""
    with connect(dev, who) as client:
        _, stdout, stderr = client.exec_command(cmd, timeout=20)
        out, err = stdout.read().decode(), stderr.read().decode()
        return stdout.channel.recv_exit_status(), out, err


def host_config_lines():
    return gzip.decompress(Path("/proc/config.gz").read_bytes()).decode().splitlines()


# --------------------------------------------------------------- logins


@pytest.mark.parametrize("auth", ["password", "key"])
@pytest.mark.parametrize("who", ["root", "support"])
def test_login(device, who, auth):
    with connect(device, who, auth=auth) as client:
        assert client.get_transport().is_authenticated()
        _, stdout, _ = client.exec_command("id -u; id -un")
        assert stdout.read().decode().split() == [str(UIDS[who]), who]


def test_wrong_password_is_rejected(device):
    with pytest.raises(paramiko.AuthenticationException):
        connect(device, "root", password="not-" + device.root_password)


def test_keys_are_per_user(device):
    with pytest.raises(paramiko.AuthenticationException):
        connect(device, "support", auth="key", key=device.root_key)
    with pytest.raises(paramiko.AuthenticationException):
        connect(device, "root", auth="key", key=device.user_key)


def test_host_key_matches_known_hosts_and_fingerprint(device, tmp_path):
    line = device.known_hosts.read_text()
    assert line.startswith(f"[127.0.0.1]:{device.port} ssh-ed25519 AAAA")
    with connect(device) as client:
        assert client.get_transport().get_remote_server_key().fingerprint == device.host_key_sha256
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(device, known_hosts=empty)


def test_private_keys_are_openssh_format_mode_600(device):
    for key in (device.root_key, device.user_key):
        assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        assert key.stat().st_mode & 0o777 == 0o600
        paramiko.Ed25519Key.from_private_key_file(str(key))


# --------------------------------------------------------------- the root file system


@pytest.mark.parametrize("who", ["root", "support"])
def test_identity_busybox_sh_no_bash_no_sftp_server(device, who):
    rc, out, err = run(device, IDENTITY, who)
    assert (rc, err) == (0, "")
    assert out.splitlines() == [
        "sh",
        "/bin/busybox",
        "ls: /usr/bin/bash: No such file or directory",
        "ls: /bin/bash: No such file or directory",
        "ls: /usr/lib/openssh/sftp-server: No such file or directory",
        "kit-testdev",
        str(UIDS[who]),
    ]


def test_root_holds_busybox_dropbear_ss_only(device):
    rc, out, err = run(
        device,
        "busybox | head -1; "
        "find / -xdev -type f ! -path '/lib*' ! -path '/etc/*' "
        "! -path '/root/*' ! -path '/home/*' | sort",
    )
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("BusyBox v")
    assert lines[1:] == ["/bin/busybox", "/bin/ss", "/usr/sbin/dropbear"]
    rc, out, _ = run(
        device, "find / -xdev -name '*bash*' -o -xdev -name 'python*' -o -xdev -name 'sftp-server' -o -xdev -name perl"
    )
    assert (rc, out) == (0, "")


def test_uts_and_pid_namespaces(device):
    rc, out, _ = run(device, "uname -n; cat /proc/1/comm; ps -o pid,comm | grep -c .")
    hostname, init, nproc = out.split()
    assert (rc, hostname, init) == (0, "kit-testdev", "dropbear")
    assert int(nproc) < 10  # header, dropbear x2, sh, ps, grep: not the host's
    assert socket.gethostname() != "kit-testdev"  # the host kept its name
    assert Path("/proc/1/comm").read_text().strip() != "dropbear"


def test_sftp_is_refused(device):
    with connect(device) as client, pytest.raises(paramiko.SSHException):
        client.open_sftp()


# --------------------------------------------------------------- ss


def test_ss_works_and_sees_the_device(device):
    rc, out, err = run(device, "ss -tanp")
    assert (rc, err) == (0, "")
    assert out.split()[:2] == ["State", "Recv-Q"]
    listen = [line for line in out.splitlines() if f"127.0.0.1:{device.port} " in line]
    assert listen and listen[0].startswith("LISTEN")
    assert 'users:(("dropbear",pid=1,' in listen[0]  # ss reads the device's /proc


def test_no_ss_anywhere(device_no_ss):
    rc, out, err = run(device_no_ss, "ss -tan")
    assert rc == 127
    assert "ss: not found" in out + err
    rc, out, _ = run(device_no_ss, "find / -xdev -name ss; command -v ss")
    assert out == ""


# --------------------------------------------------------------- kernel config


def test_config_readable(device):
    if Path("/proc/config.gz").exists():
        rc, out, err = run(device, "zcat /proc/config.gz | head -1; zcat /proc/config.gz | md5sum")
        assert (rc, err) == (0, "")
        first, md5 = out.splitlines()
        expected = gzip.decompress(Path("/proc/config.gz").read_bytes())
        assert first == host_config_lines()[0]
        assert md5.split()[0] == hashlib.md5(expected).hexdigest()
    else:
        boot = f"/boot/config-{platform.release()}"
        rc, out, err = run(device, f"head -1 {boot}")
        assert (rc, err) == (0, "")
        assert out.strip() == Path(boot).read_text().splitlines()[0]


@pytest.mark.parametrize("who", ["root", "support"])
def test_config_unreadable(device_config_unreadable, who):
    path = "/proc/config.gz" if Path("/proc/config.gz").exists() else f"/boot/config-{platform.release()}"
    rc, out, err = run(device_config_unreadable, f"[ -e {path} ] && echo exists; zcat {path} | head -1", who)
    assert out == "exists\n"
    assert f"zcat: {path}: Permission denied" in err
    rc, out, err = run(device_config_unreadable, f"cat {path}")
    assert rc != 0 and "Permission denied" in err
    rc, out, _ = run(device_config_unreadable, "ls /boot")
    assert out == ("" if path == "/proc/config.gz" else path.split("/")[-1] + "\n")
    if Path("/proc/config.gz").exists():  # the mask stayed inside the device
        assert host_config_lines()


@pytest.mark.parametrize("who", ["root", "support"])
def test_config_none(device_config_none, who):
    rc, out, err = run(
        device_config_none, "[ -e /proc/config.gz ] || echo absent; zcat /proc/config.gz | head -1; ls /boot", who
    )
    assert out == "absent\n"
    assert "zcat: /proc/config.gz: No such file or directory" in err
    rc, out, err = run(device_config_none, "ls /boot/config-* 2>&1; ls /proc/sys/kernel/ostype")
    assert "No such file or directory" in out
    assert "/proc/sys/kernel/ostype" in out  # the rest of /proc is intact
    if Path("/proc/config.gz").exists():
        assert host_config_lines()  # the host still reads its config


# --------------------------------------------------------------- lifecycle


def test_stop_device_leaves_nothing_running(device_pool):
    dev = devicelib.start_device(device_pool.workdir, with_ss=False)
    try:
        init = servers._children(dev.pid)[0]
        ns = os.readlink(f"/proc/{init}/ns/pid")
        assert run(dev, "sleep 300 >/dev/null 2>&1 & echo started")[1] == "started\n"
        assert len(servers._pids_in_ns(ns)) >= 2  # dropbear + the orphaned sleep
    finally:
        devicelib.stop_device(dev)
    assert servers._pids_in_ns(ns) == []
    assert not Path(f"/proc/{dev.pid}").exists()
    with pytest.raises(OSError):
        socket.create_connection((dev.host, dev.port), timeout=2).close()
    devicelib.stop_device(dev)  # idempotent
