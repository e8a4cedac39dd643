"""known_hosts with OpenSSH's habits, against real servers: hashed and [host]:port entries,
--accept-new, and a device really re-keyed (changed key refused, exit 3, old and new
fingerprints, the file and line to fix)."""

from __future__ import annotations

import subprocess

import devicelib
import paramiko
import pytest

pytestmark = pytest.mark.device


def hashed_copy(src, dst):
    """known_hosts hashed by OpenSSH itself (ssh-keygen -H)."""
    dst.write_text(src.read_text())
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(dst)], check=True, capture_output=True)
    assert dst.read_text().startswith("|1|")
    return dst


def test_hashed_known_hosts_entry(device, kit_collect, tmp_path):
    known = hashed_copy(device.known_hosts, tmp_path / "known_hosts")
    run = kit_collect(*devicelib.kit_args(device)[:3], "--known-hosts", known, "-i", device.root_key)
    assert run.code in (0, 1), run


def test_port_22_style_entry_does_not_match_other_port(device, kit_collect, tmp_path):
    key = device.known_hosts.read_text().split(None, 1)[1]
    known = tmp_path / "known_hosts"
    known.write_text(f"{device.host} {key}")  # as if for port 22
    run = kit_collect(f"root@{device.host}", "-p", device.port, "--known-hosts", known, "-i", device.root_key)
    assert run.code == 3 and "unknown host key for [127.0.0.1]:" in run.err
    assert device.host_key_sha256 in run.err and "--accept-new" in run.err


def test_accept_new_records_in_openssh_format_then_plain_run_works(device, kit_collect, tmp_path):
    known = tmp_path / "sub" / "known_hosts"
    base = [f"root@{device.host}", "-p", device.port, "--known-hosts", known, "-i", device.root_key]
    assert kit_collect(*base).code == 3
    assert not known.exists()
    assert kit_collect(*base, "--accept-new").code in (0, 1)
    assert known.read_text() == device.known_hosts.read_text()
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    # OpenSSH reads what kit wrote.
    assert paramiko.HostKeys(str(known)).lookup(f"[{device.host}]:{device.port}")
    out = subprocess.run(
        ["ssh-keygen", "-F", f"[{device.host}]:{device.port}", "-f", str(known)], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert kit_collect(*base).code in (0, 1)


def test_hash_known_hosts_from_ssh_config(device, kit_collect, tmp_path):
    known = tmp_path / "known_hosts"
    cfg = tmp_path / "cfg"
    cfg.write_text("Host *\n HashKnownHosts yes\n")
    run = kit_collect(
        f"root@{device.host}",
        "-p",
        device.port,
        "--known-hosts",
        known,
        "-i",
        device.root_key,
        "--accept-new",
        "-F",
        cfg,
    )
    assert run.code in (0, 1), run
    assert known.read_text().startswith("|1|")
    assert paramiko.HostKeys(str(known)).lookup(f"[{device.host}]:{device.port}")


@pytest.fixture(scope="module")
def rekeyed(tmp_path_factory):
    """A device of its own: its key is recorded, then it is re-keyed and restarted on the same port."""
    work = tmp_path_factory.mktemp("rekey")
    try:
        dev = devicelib.start_device(work, with_ss=False)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"test device unavailable: {exc}")
    old = dev.known_hosts.read_text()
    old_fp = dev.host_key_sha256
    new = devicelib.rekey_device(dev)
    yield new, old, old_fp
    devicelib.stop_device(new)


@pytest.mark.parametrize("hashed", [False, True])
def test_changed_host_key_is_refused_with_both_fingerprints_and_the_line(rekeyed, kit_collect, tmp_path, hashed):
    dev, old_line, old_fp = rekeyed
    assert dev.host_key_sha256 != old_fp
    known = tmp_path / "known_hosts"
    # Line 3 is the device's; other lines around it.
    known.write_text(
        "# kit test\nexample.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
        + old_line
        + "[other]:2222 "
        + old_line.split(None, 1)[1]
    )
    if hashed:
        subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    before = known.read_text()
    for extra in ([], ["--accept-new"]):  # even --accept-new does not accept a changed key
        run = kit_collect(f"root@{dev.host}", "-p", dev.port, "--known-hosts", known, "-i", dev.root_key, *extra)
        assert run.code == 3, run
        assert run.out == [] and run.err.count("\n") == 1
        assert "HOST KEY CHANGED" in run.err
        assert old_fp in run.err and dev.host_key_sha256 in run.err
        assert f"{known}:3" in run.err
        assert f"ssh-keygen -R '[127.0.0.1]:{dev.port}'" in run.err
    assert known.read_text() == before  # nothing recorded


def test_after_removing_the_old_key_accept_new_records_the_new_one(rekeyed, kit_collect, tmp_path):
    dev, old_line, _ = rekeyed
    known = tmp_path / "known_hosts"
    known.write_text(old_line)
    subprocess.run(["ssh-keygen", "-R", f"[{dev.host}]:{dev.port}", "-f", str(known)], check=True, capture_output=True)
    run = kit_collect(f"root@{dev.host}", "-p", dev.port, "--known-hosts", known, "-i", dev.root_key, "--accept-new")
    assert run.code in (0, 1), run
    assert known.read_text() == dev.known_hosts.read_text()


def test_known_rsa_key_is_preferred_over_unknown_types(sshd_legacy, kit_collect):
    # The legacy sshd has only ssh-rsa; known_hosts has it: verified, not "unknown".
    run = kit_collect(*devicelib.kit_args(sshd_legacy, "support"), "--legacy")
    assert run.code in (0, 1), run
    assert b'"host_key": "ssh-rsa SHA256:' in run.capture.read_bytes()


def test_global_known_hosts_vouch_and_a_different_key_there_is_a_changed_key(
    device, device_no_ss, kit_collect, tmp_path
):
    """GlobalKnownHostsFile (default /etc/ssh/ssh_known_hosts) is read, never written."""
    user_known = tmp_path / "known_hosts"
    global_known = tmp_path / "ssh_known_hosts"
    global_known.write_text(device.known_hosts.read_text())
    cfg = tmp_path / "cfg"
    cfg.write_text(f"Host *\n GlobalKnownHostsFile {global_known}\n")
    base = [f"root@{device.host}", "-p", device.port, "--known-hosts", user_known, "-i", device.root_key]
    run = kit_collect(*base, "-F", cfg)
    assert run.code in (0, 1), run
    assert not user_known.exists()  # vouched for by the global file: nothing recorded

    other_key = device_no_ss.known_hosts.read_text().split(None, 1)[1]
    global_known.write_text(f"[{device.host}]:{device.port} {other_key}")
    run = kit_collect(*base, "-F", cfg, "--accept-new")
    assert run.code == 3 and "HOST KEY CHANGED" in run.err and f"{global_known}:1" in run.err
    assert not user_known.exists()
