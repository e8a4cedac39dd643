"""Faults of `kit collect`, produced for real: each is one line on stderr and the exit code
docs/design.md gives it (3: not reached / not logged in; 4: probe cut short, partial capture
saved), and whatever bytes arrived are kept in a capture (mode 0600)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import devicelib
import pytest
import servers

import kit.probe
from kit import capture
from kit.sections import SECTIONS, Section

pytestmark = pytest.mark.device

KIT = str(Path(sys.executable).with_name("kit"))


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- not reached: exit 3, nothing saved


def test_connection_refused(device, kit_collect, tmp_path):
    start = time.monotonic()
    run = kit_collect("root@127.0.0.1", "-p", closed_port(), "--known-hosts", device.known_hosts, "-i", device.root_key)
    assert run.code == 3 and run.out == []
    assert "connection refused" in one_line(run.err)
    assert time.monotonic() - start < 5
    assert not (tmp_path / "captures").exists() or not any((tmp_path / "captures").iterdir())


@pytest.fixture
def silent_listener():
    """Accepts TCP connections and never says a word (a hung sshd, a port forward to nothing)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    srv.close()


def test_no_banner_times_out(silent_listener, kit_collect, tmp_path):
    start = time.monotonic()
    run = kit_collect("root@127.0.0.1", "-p", silent_listener, "--known-hosts", tmp_path / "kh", "--timeout", "1.5")
    took = time.monotonic() - start
    assert run.code == 3 and run.out == []
    line = one_line(run.err)
    assert "no SSH banner within 1.5 s" in line and "--timeout" in line
    assert took < 6, took


def test_auth_failure(device, kit_collect, monkeypatch):
    monkeypatch.setenv("KIT_PW", "wrong")
    run = kit_collect(*devicelib.kit_args(device, key=False), "--password-env", "KIT_PW")
    assert run.code == 3 and "authentication failed" in one_line(run.err)


def test_changed_host_key(device, device_no_ss, kit_collect, tmp_path):
    # The other device's key filed under this device's name: as if it had been re-keyed.
    known = tmp_path / "kh"
    other = device_no_ss.known_hosts.read_text().split(None, 1)[1]
    known.write_text(f"[127.0.0.1]:{device.port} {other}")
    run = kit_collect(f"root@{device.host}", "-p", device.port, "--known-hosts", known, "-i", device.root_key)
    assert run.code == 3
    line = one_line(run.err)
    assert "HOST KEY CHANGED" in line and f"{known}:1" in line
    assert device.host_key_sha256 in line and device_no_ss.host_key_sha256 in line


# ---------------------------------------------------------------- cut short: exit 4, partial capture

_STALL_SECONDS = itertools.count(301)  # a distinct `sleep N` per test: earlier ones may linger


def reap(dev) -> None:
    """Kill what an interrupted probe left running on the device (all but dropbear)."""
    for pid, (_, cmd) in device_processes(dev).items():
        if not cmd.startswith("/usr/sbin/dropbear"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def stalling_probe(monkeypatch, device):
    """The real probe with a slow section after the first three (cmd_collect imports render_probe late).

    Returns the stalling command line, to find it among the device's processes.
    """
    original = kit.probe.render_probe
    seconds = next(_STALL_SECONDS)
    stall = Section("stall", f"echo stalling; sleep {seconds}", timeout=600)

    def render(token=None, sections=SECTIONS):
        return original(token, sections[:3] + (stall,) + sections[3:])

    monkeypatch.setattr(kit.probe, "render_probe", render)
    yield f"sleep {seconds}"
    reap(device)


def device_processes(dev) -> dict[int, tuple[int, str]]:
    """host pid -> (host ppid, cmdline) for every process of the device."""
    init = servers._children(dev.pid)[0]
    ns = servers._pidns(init)
    procs = {}
    for pid in servers._pids_in_ns(ns):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError):
            continue
        procs[pid] = (ppid, cmd)
    return procs


def wait_for(dev, cmdline: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> tuple[int, dict]:
    """Wait until `cmdline` runs on the device; `proc` is the kit run that should start it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = device_processes(dev)
        for pid, (_, cmd) in procs.items():
            if cmd == cmdline:
                return pid, procs
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"kit exited {proc.returncode} before {cmdline!r} ran: {out!r} {err!r}")
        time.sleep(0.05)
    raise AssertionError(f"{cmdline!r} never ran on the device")


def session_of(dev, pid: int, procs: dict) -> int:
    """The dropbear process serving our connection (the child of dropbear PID 1 above pid)."""
    init = servers._children(dev.pid)[0]
    while procs.get(pid, (None,))[0] != init:
        pid = procs[pid][0]
    return pid


def in_background(fn, *args):
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def assert_partial(run, section_done="id"):
    assert run.code == 4, run
    assert len(run.out) == 3  # capture, html, json: a report is rendered from what arrived
    cap = capture.load(run.capture)
    assert cap.partial and cap.header["exit_status"] is None
    assert cap.sections[section_done].complete
    # The section in flight is there, unfinished, with what it printed before it
    # stalled: the probe's output bound (dd iflag=count_bytes) holds nothing back.
    assert cap.sections["stall"].stdout == b"stalling\n" and not cap.sections["stall"].complete
    assert "ss" not in cap.sections
    assert oct(run.capture.stat().st_mode & 0o777) == "0o600"
    report = json.loads(Path(run.out[2]).read_text())
    assert report["capture"]["partial"] is True
    assert "Partial capture" in Path(run.out[1]).read_text()
    line = one_line(run.err)
    assert "partial capture saved in" in line
    return cap, line


def test_link_dropped_mid_probe(device, kit_collect, stalling_probe):
    def cut():
        pid, procs = wait_for(device, stalling_probe)
        time.sleep(0.5)  # what the section printed before it stalled is on its way to us
        os.kill(session_of(device, pid, procs), signal.SIGKILL)  # the connection dies with it

    cutter = in_background(cut)
    run = kit_collect(*devicelib.kit_args(device))
    cutter.join()
    cap, line = assert_partial(run)
    assert "the connection dropped before the probe finished" in line


def test_shell_killed_mid_probe(device, kit_collect, stalling_probe):
    def kill_shell():
        pid, procs = wait_for(device, stalling_probe)
        time.sleep(0.5)
        session = session_of(device, pid, procs)
        shell = next(p for p, (ppid, _) in procs.items() if ppid == session)  # the probe's sh -s
        os.kill(shell, signal.SIGKILL)
        for child, (_ppid, cmd) in device_processes(device).items():
            if cmd == stalling_probe:
                os.kill(child, signal.SIGKILL)  # else it holds the channel's stdout open

    killer = in_background(kill_shell)
    run = kit_collect(*devicelib.kit_args(device))
    killer.join()
    _, line = assert_partial(run)
    assert "shell ended without an exit status" in line


def test_probe_timeout(device, kit_collect, stalling_probe):
    run = kit_collect(*devicelib.kit_args(device), "--probe-timeout", "3")
    _, line = assert_partial(run)
    assert "did not finish in 3 s" in line


# `kit collect` in a subprocess, with the stalling section (argv[1] is its sleep time).
STALLING_KIT = """
import sys
import kit.probe
from kit.sections import SECTIONS, Section
original = kit.probe.render_probe
stall = Section("stall", "echo stalling; sleep " + sys.argv.pop(1), timeout=600)
kit.probe.render_probe = lambda token=None, sections=SECTIONS: original(token, sections[:3] + (stall,) + sections[3:])
from kit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_keeps_the_partial_capture(device, tmp_path):
    seconds = next(_STALL_SECONDS)
    argv = [
        sys.executable,
        "-c",
        STALLING_KIT,
        str(seconds),
        "collect",
        *devicelib.kit_args(device),
        "-F",
        "none",
        "--captures",
        str(tmp_path / "c"),
        "--reports",
        str(tmp_path / "r"),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(device, f"sleep {seconds}", proc=proc)
    time.sleep(0.5)  # what the section printed before it stalled is on its way to us (as in the tests above)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, (out, err)
    assert "interrupted (Ctrl-C)" in one_line(err)
    cap_path = Path(out.splitlines()[0])
    cap = capture.load(cap_path)
    assert cap.partial and not cap.sections["stall"].complete and cap.sections["id"].complete
    assert oct(cap_path.stat().st_mode & 0o777) == "0o600"
    reap(device)


# ---------------------------------------------------------------- odd bytes, full disk, logging, modes


def test_invalid_utf8_and_nul_bytes_are_kept_and_rendered(device, kit_collect, monkeypatch):
    original = kit.probe.render_probe
    odd = Section("odd", "printf 'a\\000b\\377\\376c\\n\\300\\n'; printf 'e\\000\\377\\n' >&2")
    monkeypatch.setattr(
        kit.probe, "render_probe", lambda token=None, sections=SECTIONS: original(token, (odd,) + sections)
    )
    run = kit_collect(*devicelib.kit_args(device))
    assert run.code in (0, 1), run
    cap = capture.load(run.capture)
    assert cap.sections["odd"].stdout == b"a\x00b\xff\xfec\n\xc0\n"
    assert cap.sections["odd"].rc == 0 and "\ufffd" in cap.sections["odd"].stderr
    json.loads(Path(run.out[2]).read_text())  # valid JSON
    assert "\x00" not in Path(run.out[1]).read_text()


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {res.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_full_disk_when_writing_the_capture(device, kit_collect, tiny_disk):
    run = kit_collect(*devicelib.kit_args(device), captures=tiny_disk)
    assert run.code == 4 and run.out == []
    line = one_line(run.err)
    assert f"could not save the capture in {tiny_disk}: No space left on device" in line
    assert list(tiny_disk.iterdir()) == []  # no half file, no temporary left behind


@pytest.mark.parametrize("server", ["silent", "legacy"])
def test_paramiko_never_prints_tracebacks(server, silent_listener, sshd_legacy, tmp_path):
    if server == "silent":
        args = ["root@127.0.0.1", "-p", str(silent_listener), "--timeout", "1"]
    else:  # paramiko logs IncompatiblePeer with a traceback from its own thread
        args = devicelib.kit_args(sshd_legacy, "support")
    res = subprocess.run(
        [
            KIT,
            "collect",
            *map(str, args),
            "-F",
            "none",
            "--known-hosts",
            str(tmp_path / "kh"),
            "--captures",
            str(tmp_path / "c"),
            "--reports",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 3 and res.stdout == ""
    one_line(res.stderr)


def test_capture_mode_0600_and_exactly_three_lines(device, kit_collect):
    run = kit_collect(*devicelib.kit_args(device))
    assert run.code in (0, 1) and len(run.out) == 3 and run.err == ""
    assert oct(run.capture.stat().st_mode & 0o777) == "0o600"
