"""Legacy devices (real OpenSSH sshd restricted to ssh-rsa, SHA-1 DH groups, aes128-cbc,
hmac-sha1) need --legacy, and say so in one line; jump hosts over direct-tcpip channels."""

from __future__ import annotations

import socket
import subprocess

import devicelib
import pytest
import sshdlib

from kit import capture

pytestmark = pytest.mark.device


def test_this_openssh_still_has_the_legacy_algorithms():
    assert (
        sshdlib.sshd_supports(
            ("kex", "diffie-hellman-group1-sha1"),
            ("kex", "diffie-hellman-group14-sha1"),
            ("cipher", "aes128-cbc"),
            ("mac", "hmac-sha1"),
            ("key", "ssh-rsa"),
        )
        == []
    )


def test_openssh_client_also_refuses_without_opt_in(sshd_legacy):
    """The server is as legacy as intended: ssh itself refuses it by default."""
    res = subprocess.run(
        [
            "ssh",
            "-F",
            "none",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={sshd_legacy.known_hosts}",
            "-p",
            str(sshd_legacy.port),
            f"support@{sshd_legacy.host}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert res.returncode == 255 and "no matching" in res.stderr


def test_without_legacy_one_line_naming_the_offer_and_the_flag(sshd_legacy, kit_collect):
    run = kit_collect(*devicelib.kit_args(sshd_legacy, "support"))
    assert run.code == 3 and run.out == []
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    line = lines[0]
    assert "offers only legacy algorithms" in line
    assert "kex: diffie-hellman-group14-sha1, diffie-hellman-group1-sha1" in line
    assert "host key: ssh-rsa" in line and "cipher: aes128-cbc" in line
    assert "--legacy" in line and "OpenSSH_9" in line
    assert "Traceback" not in run.err


@pytest.mark.parametrize("auth", ["ed25519", "rsa", "password"])
def test_legacy_reaches_it_as_a_non_root_user_without_sbin_in_path(sshd_legacy, kit_collect, monkeypatch, auth):
    args = devicelib.kit_args(sshd_legacy, "support", key=False)
    if auth == "ed25519":
        args += ["-i", sshd_legacy.user_key]
    elif auth == "rsa":
        args += ["-i", sshd_legacy.user_rsa_key]  # signed with ssh-rsa (SHA-1): the server allows nothing else
    else:
        monkeypatch.setenv("KIT_TEST_PW", sshd_legacy.user_password)
        args += ["--password-env", "KIT_TEST_PW"]
    run = kit_collect(*args, "--legacy")
    assert run.code in (0, 1), run
    cap = capture.load(run.capture)
    assert cap.header["host_key"].startswith("ssh-rsa SHA256:")
    assert cap.sections["id"].text.startswith("uid=1000(support)")
    assert cap.sections["ss"].rc == 0 and cap.sections["ss"].text.startswith("Netid")  # found in /usr/sbin
    if auth == "rsa":
        assert "Accepted publickey for support" in sshd_legacy.log.read_text()


def test_user_path_lacks_sbin_on_the_legacy_server(sshd_legacy):
    """What the probe is up against: sshd gives `support` a PATH without /usr/sbin."""
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(str(sshd_legacy.known_hosts))
    client.connect(
        sshd_legacy.host,
        sshd_legacy.port,
        username="support",
        key_filename=str(sshd_legacy.user_key),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    try:
        _, out, _ = client.exec_command("echo $PATH; command -v ss || echo none")
        path, where = out.read().decode().split()
    finally:
        client.close()
    assert "sbin" not in path and where == "none"


# ---------------------------------------------------------------- jump hosts


def test_jump_through_the_device_itself(device, kit_collect):
    run = kit_collect(*devicelib.kit_args(device), "-J", f"root@{device.host}:{device.port}")
    assert run.code in (0, 1), run


def test_jump_through_another_device_with_its_own_user(device, device_no_ss, kit_collect, tmp_path):
    known = tmp_path / "kh"
    known.write_text(device.known_hosts.read_text() + device_no_ss.known_hosts.read_text())
    # The jump logs in with its own key (IdentityFile from ssh_config), the target with -i.
    cfg = tmp_path / "cfg"
    cfg.write_text(
        f"Host jumpdev\n HostName {device_no_ss.host}\n Port {device_no_ss.port}\n"
        f" User support\n IdentityFile {device_no_ss.user_key}\n"
    )
    run = kit_collect(
        f"root@{device.host}",
        "-p",
        device.port,
        "--known-hosts",
        known,
        "-i",
        device.root_key,
        "-J",
        "jumpdev",
        "-F",
        cfg,
    )
    assert run.code in (0, 1), run
    cap = capture.load(run.capture)
    assert cap.sections["ss"].rc == 0  # the target (with ss), not the jump host


def test_two_jumps(device, device_no_ss, kit_collect, tmp_path):
    known = tmp_path / "kh"
    known.write_text(device.known_hosts.read_text() + device_no_ss.known_hosts.read_text())
    jumps = f"root@{device_no_ss.host}:{device_no_ss.port},root@{device.host}:{device.port}"
    run = kit_collect(
        f"root@{device.host}", "-p", device.port, "--known-hosts", known, "-i", device.root_key, "-J", jumps
    )
    assert run.code in (0, 1), run


def test_jump_host_key_is_checked_too(device, device_no_ss, kit_collect):
    run = kit_collect(*devicelib.kit_args(device), "-J", f"root@{device_no_ss.host}:{device_no_ss.port}")
    assert run.code == 3 and f"unknown host key for [127.0.0.1]:{device_no_ss.port}" in run.err


def test_jump_cannot_reach_the_target(device, kit_collect):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    run = kit_collect(
        f"root@{device.host}",
        "-p",
        closed_port,
        "--known-hosts",
        device.known_hosts,
        "-i",
        device.root_key,
        "-J",
        f"root@{device.host}:{device.port}",
    )
    assert run.code == 3 and run.err.count("\n") == 1
    assert f"the jump host root@127.0.0.1:{device.port} could not connect" in run.err
