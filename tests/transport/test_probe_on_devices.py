"""The hardened probe on the real device variants: non-root without sbin in PATH, no ss,
kernel config unreadable or absent, stuck and flooding commands, and nothing written."""

from __future__ import annotations

import re

import devicelib
import paramiko
import pytest

from kit import capture
from kit.capture import split_sections
from kit.probe import new_token, render_probe
from kit.sections import SECTIONS, Section
from kit.transport.ssh import SshTransport
from kit.transport.sshconfig import Target

pytestmark = pytest.mark.device

PROC_NET = (
    "proc_net_tcp",
    "proc_net_tcp6",
    "proc_net_udp",
    "proc_net_udp6",
    "proc_net_raw",
    "proc_net_raw6",
    "proc_net_unix",
)


def sh(dev, cmd, who="root"):
    client = paramiko.SSHClient()
    client.load_host_keys(str(dev.known_hosts))
    key = dev.root_key if who == "root" else dev.user_key
    client.connect(
        dev.host, dev.port, username=who, key_filename=str(key), look_for_keys=False, allow_agent=False, timeout=10
    )
    try:
        _, out, err = client.exec_command(cmd, timeout=30)
        return out.read().decode(errors="replace"), err.read().decode(errors="replace")
    finally:
        client.close()


def collect(kit_collect, dev, who="root"):
    run = kit_collect(*devicelib.kit_args(dev, who))
    assert run.code in (0, 1), run
    cap = capture.load(run.capture)
    assert cap.problems == [] and not cap.partial
    assert list(cap.sections) == [s.name for s in SECTIONS]
    return cap


def test_non_root_user_finds_ss_off_its_path(device_usr_sbin_ss, kit_collect):
    out, _ = sh(device_usr_sbin_ss, "echo $PATH; command -v ss || echo none", "support")
    path, where = out.split()
    assert "sbin" not in path and where == "none"  # dropbear's PATH for users
    cap = collect(kit_collect, device_usr_sbin_ss, "support")
    assert cap.sections["id"].text.startswith("uid=1000(support) gid=1000(support)")
    assert cap.sections["ss"].rc == 0 and cap.sections["ss"].text.startswith("Netid")
    for name in ("socket_owners", "netstat"):
        assert cap.sections[name].stdout == b"" and "skipped: ss works" in cap.sections[name].stderr


def test_without_ss_proc_net_tables_socket_owners_and_netstat(device_no_ss, kit_collect):
    cap = collect(kit_collect, device_no_ss)
    assert cap.sections["ss"].rc == 127
    for name in PROC_NET:
        assert cap.sections[name].rc == 0, name
    assert cap.sections["proc_net_tcp"].text.startswith("  sl  local_address")
    assert cap.sections["proc_net_unix"].text.startswith("Num       RefCount")
    # dropbear (PID 1 of the device) owns the listening socket; its inode is in /proc/net/tcp.
    owners = [line.split() for line in cap.sections["socket_owners"].text.splitlines()]
    assert owners and all(len(f) >= 4 and f[0].isdigit() and f[-2].isdigit() and f[-1].isdigit() for f in owners)
    port_hex = f"{device_no_ss.port:04X}"
    listen = next(
        line.split()
        for line in cap.sections["proc_net_tcp"].text.splitlines()
        if f"0100007F:{port_hex} 00000000:0000 0A" in line
    )
    assert ["1", "dropbear", listen[9]] == owners[[o[-2] for o in owners].index(listen[9])][:3]
    netstat = cap.sections["netstat"]
    assert netstat.rc == 0 and netstat.text.startswith("Active Internet connections")
    assert f"127.0.0.1:{device_no_ss.port}" in netstat.text


def test_socket_owners_as_non_root_sees_only_its_own(device_no_ss, kit_collect):
    cap = collect(kit_collect, device_no_ss, "support")
    assert cap.sections["id"].text.startswith("uid=1000(support)")
    pids = {line.split()[0] for line in cap.sections["socket_owners"].text.splitlines()}
    assert "1" not in pids  # dropbear runs as root: not visible to support


@pytest.mark.parametrize("variant", ["readable", "unreadable", "none"])
def test_kernel_config_judged_by_the_read(device_pool, kit_collect, variant):
    dev = device_pool.get(kconfig=variant)
    kconfig = collect(kit_collect, dev).sections["kconfig"]
    if variant == "readable":
        assert kconfig.rc == 0 and "# kit: source /proc/config.gz" in kconfig.stderr
        assert b"CONFIG_INET=y" in kconfig.stdout
    else:
        assert kconfig.rc == 1 and kconfig.stdout == b""
        assert "# kit: source" not in kconfig.stderr


def test_page_size_without_getconf(device, kit_collect):
    cap = collect(kit_collect, device)
    assert "getconf" not in sh(device, "command -v getconf || echo none")[0]
    assert cap.sections["pagesize"].text.strip().isdigit()
    assert cap.sections["pagesize"].rc == 0


def test_stuck_and_flooding_commands_on_the_device(device):
    table = (
        Section("flood", "yes", max_bytes=100_000),
        Section("stuck", "sleep 47", timeout=2),
        Section("stuck_pipeline", "sleep 48 | cat", timeout=2),
        Section("after", "echo still-running"),
    )
    token = new_token()
    target = Target(
        host=device.host, port=device.port, user="root", key_files=(device.root_key,), known_hosts=device.known_hosts
    )
    result = SshTransport(target).run(render_probe(token, table).encode(), timeout=60)
    sections, problems = split_sections(result.stdout, token, table)
    assert problems == [] and result.exit_status == 0
    assert sections["flood"].truncated and len(sections["flood"].stdout) == 100_000
    assert sections["stuck"].rc == 143 and sections["stuck_pipeline"].rc == 143
    assert sections["after"].text == "still-running\n"
    assert result.finished - result.started < 20
    ps, _ = sh(device, "ps -o pid,args")
    assert not re.search(r"sleep 4[78]", ps), ps  # the watchdog took the whole pipeline down


def _writable_listing(dev) -> str:
    out, err = sh(
        dev, "find / /tmp /var /dev /root /home -xdev ! -path '/dev/pts*' -exec stat -c '%n %s %Y %i' {} + | sort"
    )
    assert out.count("\n") > 50, err
    return out


def test_nothing_is_written_on_the_device(device, kit_collect):
    before = _writable_listing(device)
    collect(kit_collect, device)
    collect(kit_collect, device, "support")
    assert _writable_listing(device) == before


def test_probe_runs_on_a_read_only_device(device_readonly, kit_collect):
    out, err = sh(device_readonly, "touch /tmp/x /var/x /x /dev/shm/x 2>&1; echo done")
    assert out.count("Read-only file system") == 4
    cap = collect(kit_collect, device_readonly)
    for name, section in cap.sections.items():
        assert section.complete, name
        assert "Read-only" not in section.stderr, (name, section.stderr)
    assert cap.sections["ss"].rc == 0 and cap.sections["kconfig"].rc == 0
