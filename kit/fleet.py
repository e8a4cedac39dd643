"""Many devices in one run: the devices file, and collecting from at most N devices at once.

The devices file (`kit collect -f FILE`) holds one target per line, as `ssh`
takes them:

    # building B access points
    ap-b1                        an ssh_config Host alias
    root@10.0.2.11               [user@]host
    fe80::1%eth0                 an IPv6 address (no port: ssh:// form for that)
    ssh://admin@10.0.2.12:2222   ssh://[user@]host[:port]
    ap-b4   # flaky since Monday  a comment after the target

Blank lines and `#` comments are ignored. Per-host ports, users, keys and
known_hosts belong in ssh_config, as with OpenSSH. `host:port` is not an ssh
destination (ssh would look up a host named "host:port"), so it is refused
with a pointer to the ssh:// form rather than guessed at.

Running: `run()` hands each device to a worker; at most `jobs` workers exist,
and a worker holds one device's connection at a time, so no more than `jobs`
connections are ever open. One device's failure is its own result; nothing it
does stops the others. Ctrl-C (KeyboardInterrupt in the main thread) stops
handing out devices and asks the running ones to stop: each running collect
sees it at its next progress call, the transport turns that into a cut probe
and the partial capture is saved as for one collect. A second Ctrl-C stops
waiting for them.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from kit import capture_writer, collect, index
from kit.collect import Collected
from kit.errors import KitError, UsageError
from kit.frozen import frozen
from kit.transport.sshconfig import Flags, Target, resolve

DEFAULT_JOBS = 8
MAX_JOBS = 256
INTERRUPTED = 130  # the exit code of a collect stopped by Ctrl-C before its probe ran

_USER = r"[^\s@/:\[\]#]+"
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.%-]*"  # host names, IPv4, ssh_config aliases
_URI = re.compile(rf"ssh://(?:(?P<user>{_USER})@)?(?:\[(?P<v6>[^\]\s]+)\]|(?P<host>{_NAME}))(?::(?P<port>\d+))?/?")
_PLAIN = re.compile(rf"(?:(?P<user>{_USER})@)?(?P<host>[^\s@]+)")


@frozen
class FleetTarget:
    """One line of the devices file."""

    line: int  # 1-based line number in the file
    text: str  # the target as written on the line (without a trailing comment)
    destination: str  # `[user@]host` for kit.transport.sshconfig.resolve
    port: int | None = None  # from ssh://host:PORT


def parse_targets(text: str, source: str = "devices file") -> list[FleetTarget]:
    """Every target of a devices file, in order; the first malformed line is a UsageError naming it."""
    targets = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            targets.append(_parse_line(number, line))
        except ValueError as exc:
            raise UsageError(f"{source}:{number}: {exc}: {_shown(line)}") from None
    if not targets:
        raise UsageError(f"{source}: no targets (one [user@]host, ssh_config alias or ssh:// URL per line)")
    return targets


def _parse_line(number: int, line: str) -> FleetTarget:
    if len(line.split()) > 1:
        raise ValueError("one target per line (options go in ssh_config or on the command line)")
    if line.startswith("ssh://"):
        m = _URI.fullmatch(line)
        if not m:
            raise ValueError("not an ssh://[user@]host[:port] URL")
        port = int(m["port"]) if m["port"] else None
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port {port} is not a TCP port")
        host = f"[{_v6(m['v6'])}]" if m["v6"] else m["host"]
        return FleetTarget(number, line, f"{m['user']}@{host}" if m["user"] else host, port)
    if "://" in line:
        raise ValueError("only ssh:// URLs are targets")
    m = _PLAIN.fullmatch(line)
    if not m:
        raise ValueError("not [user@]host")
    host = m["host"]
    if host.startswith("[") and host.endswith("]"):
        _v6(host[1:-1])
    elif ":" in host:
        try:
            _v6(host)
        except ValueError:
            raise ValueError("host:port is not an ssh destination; write ssh://[user@]host:port") from None
    elif not re.fullmatch(_NAME, host):
        raise ValueError("not a host name, address or ssh_config alias")
    return FleetTarget(number, line, line)  # sshconfig.parse_destination reads [user@]host as it is


def _v6(text: str) -> str:
    """`text` when it is an IPv6 address (with an optional %scope); else ValueError."""
    address, _, scope = text.partition("%")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise ValueError("not an IPv6 address") from None
    if scope and not re.fullmatch(r"[A-Za-z0-9_.-]+", scope):
        raise ValueError("bad IPv6 scope")
    return text


def _shown(line: str, limit: int = 80) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "...")


# --- running -----------------------------------------------------------------


class Cancelled(KeyboardInterrupt):
    """Raised inside a running collect (from its progress callback) after Ctrl-C.

    A KeyboardInterrupt, so the transport treats it as it treats Ctrl-C in a
    single collect: mid-probe it becomes a cut probe with what arrived kept.
    """


# work(index, progress) -> Collected; it may raise KitError (a failure of that device).
Work = Callable[[int, Callable[[str], None]], Collected]


def run(
    targets: Sequence[str],
    work: Work,
    jobs: int = DEFAULT_JOBS,
    on_done: Callable[[int, Collected], None] = lambda _i, _c: None,
    internal_error: Callable[[BaseException], str] = lambda exc: f"internal error: {type(exc).__name__}: {exc}",
) -> list[Collected]:
    """Run work(i, progress) for each target with at most `jobs` at once; results in target order.

    `targets` are the names results carry when work() gives none (failed or
    never started). on_done(i, result) is called as each device finishes,
    from the main thread, in finishing order.
    """
    results: list[Collected | None] = [None] * len(targets)
    finished: list[int] = []  # indices in finishing order, not yet reported
    lock = threading.Lock()
    wake = threading.Event()
    stop = threading.Event()
    next_index = iter(range(len(targets)))
    started: set[int] = set()

    def one(i: int) -> Collected:
        told = [False]

        def progress(_message: str) -> None:
            # Once per device: after the cut, the collect still saves and renders what arrived.
            if stop.is_set() and not told[0]:
                told[0] = True
                raise Cancelled

        try:
            return work(i, progress)
        except KitError as exc:
            return Collected(target=targets[i], exit_code=exc.exit_code, error=_one_line(str(exc)))
        except KeyboardInterrupt:
            return Collected(targets[i], INTERRUPTED, "interrupted (Ctrl-C) before the probe started")
        except Exception as exc:  # noqa: BLE001 - one device's surprise must not stop the others
            return Collected(targets[i], 70, _one_line(internal_error(exc)))

    def worker() -> None:
        while not stop.is_set():
            with lock:
                i = next(next_index, None)
                if i is None:
                    return
                started.add(i)
            result = one(i)
            with lock:
                results[i] = result
                finished.append(i)
            wake.set()

    workers = [
        threading.Thread(target=worker, daemon=True, name=f"kit-fleet-{n}") for n in range(min(jobs, len(targets)))
    ]
    for thread in workers:
        thread.start()

    def report_finished() -> None:
        with lock:
            done, finished[:] = list(finished), []
            wake.clear()
        for i in done:
            result = results[i]
            if result is not None:
                on_done(i, result)

    def wait_all() -> None:
        while any(t.is_alive() for t in workers):
            wake.wait(0.2)
            report_finished()
        report_finished()

    try:
        wait_all()
    except KeyboardInterrupt:
        stop.set()
        try:
            wait_all()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting for the running ones
    report_finished()
    with lock:
        return [
            r
            if r is not None
            else Collected(
                targets[i],
                INTERRUPTED,
                "interrupted (Ctrl-C); kit stopped waiting for it"
                if i in started
                else "not started: interrupted (Ctrl-C)",
            )
            for i, r in enumerate(results)
        ]


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else "failed"


# --- a fleet collect, end to end ---------------------------------------------


def resolve_all(lines: Sequence[FleetTarget], flags: Flags, source: str) -> list[Target]:
    """Every line's Target, before any socket opens: an ssh_config problem names its line (exit 2)."""
    targets = []
    for line in lines:
        try:
            targets.append(resolve(line.destination, replace(flags, port=flags.port or line.port)))
        except UsageError as exc:
            raise UsageError(f"{source}:{line.line}: {exc}") from None
    return targets


def collect_all(
    lines: Sequence[FleetTarget],
    targets: Sequence[Target],
    captures: Path,
    reports: Path,
    jobs: int = DEFAULT_JOBS,
    probe_timeout: float = collect.DEFAULT_PROBE_TIMEOUT,
    max_capture: int = capture_writer.DEFAULT_LIMIT,
    on_done: Callable[[int, Collected], None] = lambda _i, _c: None,
    internal_error: Callable[[BaseException], str] | None = None,
    series: tuple[float, int, Callable[[Path], None]] | None = None,
) -> tuple[list[Collected], Path, Path]:
    """Collect every target (at most `jobs` at once, never prompting), then write the index.

    Returns the results in the file's order (each `target` the line as
    written) and the index's HTML and JSON paths. With `series` (every,
    count, on_capture) each device runs kit.series over its one connection
    and its index entry links its trend (and its last capture).
    """
    from kit.transport.ssh import SshTransport

    def work(i: int, progress: Callable[[str], None]) -> Collected:
        transport = SshTransport(targets[i], ask=None)
        if series is not None:
            from kit import series as series_mod

            every, count, on_capture = series
            done = series_mod.run(
                transport, captures, reports, every, count, on_capture, probe_timeout, progress, max_capture
            )
            return Collected(
                lines[i].text,
                done.exit_code,
                done.error,
                done.captures[-1] if done.captures else None,
                done.trend_html,
                done.trend_json,
                done.last_report,
            )
        result = collect.run(transport, captures, reports, probe_timeout, progress, max_capture)
        return replace(result, target=lines[i].text)

    started = time.time()
    extra = {"internal_error": internal_error} if internal_error else {}
    results = run([line.text for line in lines], work, jobs, on_done, **extra)
    html_path, json_path = index.write(results, reports, started, time.time())
    return results, html_path, json_path
