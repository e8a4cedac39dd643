"""Starting and stopping the test servers (the busybox device, OpenSSH's sshd) in namespaces of their own.

    proc, port, log = _launch(command, log_for, None, "test sshd (legacy)")
    _RUNNING[proc.pid] = _Running(proc, _pidns(_children(proc.pid)[0]))
    ...
    _stop(proc.pid, _RUNNING.pop(proc.pid))

A server runs under `unshare --mount --pid --uts --fork --kill-child`
(tests/device/nsinit.py), so it and everything it starts live in one PID
namespace: stopping it is SIGTERM, SIGKILL after a timeout, then a check that
nothing is left in that namespace. Whatever a test run forgot is stopped at
exit. What is started: tests/devicelib.py (the dropbear device),
tests/sshdlib.py (OpenSSH sshd); the kernels for kit kconfig boot in
tests/kdiag/qemu_malta.py.

Standard library only (no pytest), so scripts can use it too.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT = 20.0  # seconds for a server to answer with an SSH banner


@dataclass
class _Running:
    proc: subprocess.Popen
    pidns: str | None


_RUNNING: dict[int, _Running] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def _pidns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _pids_in_ns(ns: str) -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and _pidns(int(e)) == ns]


def _serving(proc: subprocess.Popen, port: int) -> bool:
    """Wait (up to START_TIMEOUT) until `proc` answers on `port` with an SSH banner."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        banner = _banner(port)
        if banner and banner.startswith(b"SSH-"):
            return proc.poll() is None
        time.sleep(0.05)
    return False


def _banner(port: int) -> bytes | None:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as s:
            s.settimeout(2.0)
            data = b""
            while b"\n" not in data and len(data) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return data
    except OSError:
        return None


def _log_text(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-4000:]
    except OSError:
        return "(no log)"


def _launch(
    command: Callable[[int], list[str]], log_for: Callable[[int], Path], fixed_port: int | None, what: str
) -> tuple[subprocess.Popen, int, Path]:
    """Start a server (in its namespaces) on `fixed_port` or a free port; return it once it serves.

    A free port may be taken by someone else before the server binds it, so a
    server that says "Address already in use" is tried again on another port
    (three times); any other failure raises with the server's log.
    """
    last_log = ""
    for _attempt in range(3):
        port = fixed_port or _free_port()
        log = log_for(port)
        with open(log, "wb") as logf:  # the server writes through its own copy of the descriptor
            proc = subprocess.Popen(
                command(port), stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
            )
        if _serving(proc, port):
            return proc, port, log
        exited = proc.poll() is not None
        if not exited:
            proc.kill()  # --kill-child takes the namespace with it
        proc.wait()
        last_log = _log_text(log)
        if "Address already in use" not in last_log:
            why = (
                f"exited with status {proc.returncode}" if exited else f"gave no SSH banner within {START_TIMEOUT:.0f}s"
            )
            raise RuntimeError(f"{what} on {HOST}:{port} {why}. Log {log}:\n{last_log}")
    raise RuntimeError(f"{what}: no free port after 3 attempts:\n{last_log}")


def _alive(pid: int) -> bool:
    """Exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _stop(pid: int, running: _Running | None, timeout: float = 5.0) -> None:
    pidns = running.pidns if running else None
    inits = _children(pid) if _alive(pid) else []
    pidns = pidns or next(filter(None, map(_pidns, inits)), None)

    def reaped():
        if running is None:
            return _wait_gone([pid], timeout)
        try:
            running.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    # dropbear is PID 1 of the namespace: when it exits, the kernel kills the
    # rest, and unshare (which ignores SIGTERM) reaps it and exits.
    for init in inits:
        _signal(init, signal.SIGTERM)
    if not reaped():
        for init in inits:
            _signal(init, signal.SIGKILL)
        if not reaped():
            _signal(pid, signal.SIGKILL)  # --kill-child takes the init with it
            reaped()
    if pidns:
        leftovers = _pids_in_ns(pidns)
        for left in leftovers:
            _signal(left, signal.SIGKILL)
        if not _wait_gone(leftovers, timeout):
            raise RuntimeError(f"test device (pid {pid}): processes {leftovers} survived SIGKILL")


@atexit.register
def _stop_all() -> None:
    """Last resort if a test run forgot stop_device (not on SIGKILL, though)."""
    while _RUNNING:
        pid, running = _RUNNING.popitem()
        try:
            _stop(pid, running, timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - exiting anyway
            print(f"devicelib: stopping test device {pid}: {exc}", file=sys.stderr)
