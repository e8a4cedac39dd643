"""The end-to-end slice against the real dropbear/busybox test device (tests/devicelib.py).

Expected figures are never typed in: totals are checked against the awk
one-liner run on the capture's own ss section, and socket counts against awk's
count of socket rows.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path

import pytest
from oneliner import awk_total, count_socket_rows

from kit import capture as capture_mod
from kit.cli import main

pytestmark = pytest.mark.device

# Rows whose skmem ss prints on an indented continuation line: the one-liner
# reads those right. Keep each tcp/udp row with its continuation lines.
TCP_UDP_BLOCKS = r"awk '/^(tcp|udp)[ \t]/ {p=1; print; next} /^[^ \t]/ {p=0} p'"


def _collect(dev, tmp_path, *extra, key=True, known_hosts=None):
    argv = [
        "collect",
        f"root@{dev.host}",
        "-p",
        str(dev.port),
        "--known-hosts",
        str(known_hosts or dev.known_hosts),
        "--captures",
        str(tmp_path / "c"),
        "--reports",
        str(tmp_path / "r"),
    ]
    if key:
        argv += ["-i", str(dev.root_key)]
    return main(argv + list(extra))


def _ss_text(cap_path: Path) -> str:
    cap = capture_mod.load(cap_path)
    return cap.sections["ss"].text


def test_collect_writes_capture_html_json_and_totals_match_awk(device, tmp_path, capsys):
    code = _collect(device, tmp_path)
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    cap_path, html_path, json_path = (Path(line) for line in out.splitlines())
    assert out.count("\n") == 3
    assert cap_path.parent == tmp_path / "c" and cap_path.read_bytes().startswith(capture_mod.MAGIC)
    assert stat.S_IMODE(cap_path.stat().st_mode) == 0o600
    assert html_path.parent == json_path.parent == tmp_path / "r"

    report = json.loads(json_path.read_text())
    assert report["schema"] == "kit.report/1"
    assert report["device"]["hostname"] == device.hostname
    assert report["capture"]["host_key"].endswith(device.host_key_sha256)

    ss_text = _ss_text(cap_path)
    sockets = report["sockets"]
    assert report["totals"]["sockets"] == len(sockets) == count_socket_rows(ss_text)
    for key in ("rmem_alloc", "wmem_alloc", "wmem_queued", "fwd_alloc", "sock_drop"):
        assert report["totals"][key] == sum((s["skmem"] or {}).get(key) or 0 for s in sockets), key

    inet_text = subprocess.run(
        ["sh", "-c", TCP_UDP_BLOCKS], input=ss_text, text=True, capture_output=True, check=True
    ).stdout
    inet = [s for s in sockets if s["netid"] in ("tcp", "udp")]
    assert inet, "the device sees the host's tcp/udp sockets"
    # (TIME-WAIT rows carry no skmem: they add nothing on either side)
    assert sum((s["skmem"] or {}).get("rmem_alloc") or 0 for s in inet) == awk_total(inet_text, 2)
    assert sum((s["skmem"] or {}).get("wmem_alloc") or 0 for s in inet) == awk_total(inet_text, 4)

    html = html_path.read_text()
    # self-contained: nothing is fetched (no src/href but in-page anchors, no url(), no @import)
    assert not re.search(r"(?i)\b(src|href)\s*=\s*(?![\"']?#)", html)
    assert not re.search(r"(?i)url\(|@import", html)
    assert "CONFIG_INET_DIAG" in html


def test_capture_is_on_disk_before_parsing(device, tmp_path, capsys, monkeypatch):
    import kit.report

    def broken_parser(*_args, **_kw):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(kit.report, "build", broken_parser)
    code = _collect(device, tmp_path)
    _, err = capsys.readouterr()
    assert code == 70 and err.count("\n") == 1 and "traceback in" in err
    (cap,) = (tmp_path / "c").glob("*.cap")
    loaded = capture_mod.load(cap)
    assert not loaded.partial and "ss" in loaded.sections and loaded.sections["ss"].complete


def test_unknown_host_key_is_refused_then_accepted_with_flag(device, tmp_path, capsys):
    known = tmp_path / "known_hosts"
    code = _collect(device, tmp_path, known_hosts=known)
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and device.host_key_sha256 in err and "--accept-new" in err
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").iterdir())

    assert _collect(device, tmp_path, "--accept-new", known_hosts=known) in (0, 1)
    import paramiko

    recorded = paramiko.HostKeys(str(known)).lookup(f"[{device.host}]:{device.port}")
    assert recorded and len(recorded.keys()) == 1
    capsys.readouterr()
    assert _collect(device, tmp_path, known_hosts=known) in (0, 1)  # now known: no flag needed


def test_wrong_password_is_one_line_exit_3(device, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KIT_TEST_PW", device.root_password + "x")
    code = _collect(device, tmp_path, "--password-env", "KIT_TEST_PW", key=False)
    out, err = capsys.readouterr()
    assert (code, out, err.count("\n")) == (3, "", 1)
    assert "authentication failed" in err

    monkeypatch.setenv("KIT_TEST_PW", device.root_password)
    assert _collect(device, tmp_path, "--password-env", "KIT_TEST_PW", key=False) in (0, 1)


def test_render_saved_capture_and_raw_ss_paste(device, tmp_path, capsys):
    assert _collect(device, tmp_path) in (0, 1)
    cap_path = Path(capsys.readouterr().out.splitlines()[0])
    assert main(["render", str(cap_path), "--format", "json"]) == 0
    from_capture = json.loads(capsys.readouterr().out)

    paste = tmp_path / "ticket.txt"
    paste.write_text(_ss_text(cap_path))
    assert main(["render", str(paste), "--format", "json"]) == 0
    from_paste = json.loads(capsys.readouterr().out)
    # The paste is ss's text alone: what only the rest of the capture tells (the probe's own
    # ancestry and ss pid: this_collect; root and PID namespace: why an owner is missing) differs.
    context = ("this_collect", "owner_missing")

    def alone(sockets):
        return [{k: v for k, v in s.items() if k not in context} for s in sockets]

    assert alone(from_paste["sockets"]) == alone(from_capture["sockets"])
    assert any(s["this_collect"] for s in from_capture["sockets"])
    assert not any(s["this_collect"] for s in from_paste["sockets"])
    assert from_paste["totals"] == from_capture["totals"]


def test_device_without_ss_still_lists_sockets_and_owners(device_no_ss, tmp_path, capsys):
    dev = device_no_ss
    code = _collect(dev, tmp_path)
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    report = json.loads(Path(out.splitlines()[2]).read_text())
    assert report["socket_source"] == "proc_net"
    # Independent count: the rows of the /proc/net tables the probe captured.
    cap = capture_mod.load(Path(out.splitlines()[0]))
    rows = sum(
        len(cap.sections[n].text.splitlines()) - 1
        for n in cap.sections
        if n.startswith("proc_net_") and cap.sections[n].ok
    )
    assert report["totals"]["sockets"] == rows
    assert all(s["skmem"] is None for s in report["sockets"])
    # Our own SSH session is a socket the device's dropbear holds.
    owners = {p["name"] for s in report["sockets"] for p in s["processes"]}
    assert "dropbear" in owners
    assert any("ss" in f["title"] and f["severity"] != "info" for f in report["findings"])


def test_ssh_link_sends_each_packet_at_once(device):
    """TCP_NODELAY on kit's socket: with Nagle's algorithm paramiko's small
    handshake packets waited for the server's delayed ACK (~40 ms, twice a
    connection). Checked on the socket paramiko really uses."""
    import socket

    import devicelib

    from kit.transport.ssh import SshTransport

    with SshTransport(devicelib.root_target(device)).connect() as conn:
        sock = conn._transport.sock
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
