"""Findings: what is wrong and the data it rests on (worded in kit.render.finding_text).

Each rule is a small function from the Analysis (the report before its
findings) to zero or more Findings; the RULES tuple lists them in one place.
kit.report.build runs them before it makes the Report.

Socket rules give one finding per kind of trouble, not one per socket (a
100k-socket capture must not give 100k findings): the title counts the
sockets, the evidence names the worst few (EVIDENCE_SOCKETS), the JSON's
socket list has them all.

What ss's columns mean for the rules (misc/ss.c, net/ipv4/tcp_diag.c):
- LISTEN rows: Recv-Q is the accept queue length (sk_ack_backlog), Send-Q the
  backlog passed to listen() (sk_max_ack_backlog). The kernel calls the queue
  full when the length exceeds the backlog (sk_acceptq_is_full), so
  Recv-Q > Send-Q means new connections are being dropped now.
- CLOSE-WAIT rows: the peer has closed; Recv-Q counts unread bytes plus one
  for the FIN. Data there means the application neither reads nor closes.
- skmem r (rmem_alloc) near rb (rcv_buf): the receive queue is full. UDP drops
  datagrams (sock_drop, Udp RcvbufErrors); TCP closes its window.

A rule chooses the severity and fills in its facts (kit.analyse.finding_facts:
counts, names, sockets, limits); kit.render.finding_text words them (a socket
in one line: finding_text.describe).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from kit.analyse.finding_facts import (
    ConntrackNearFull,
    CounterHits,
    DiagNotOk,
    Finding,
    MemoryPressure,
    NotRoot,
    PartialCapture,
    SocketTrouble,
    SsMissing,
    UnreadLines,
)
from kit.analyse.memory_elsewhere import CONNTRACK_NEAR_FULL
from kit.analyse.totals import Totals
from kit.records import SEVERITIES, Socket

if TYPE_CHECKING:
    from kit.report import Analysis

EVIDENCE_SOCKETS = 5
RCVBUF_FULL_SHARE = 0.75  # r >= 75% of rb counts as "near rcv_buf"


def drops(sock: Socket) -> int:
    """Packets dropped on a socket: skmem d from ss, or the drops column of /proc/net/udp and raw."""
    if sock.skmem is not None and sock.skmem.sock_drop is not None:
        return sock.skmem.sock_drop
    return sock.drops or 0


def _device_sockets(report: Analysis) -> Iterable[Socket]:
    """The sockets the rules judge: all but this collect's own (its SSH session, ss's query)."""
    return (s for s in report.sockets if not s.this_collect)


# The socket rules look at the sums first (report.totals, report.by_state: every
# socket, this collect's too): a rule whose sockets cannot exist skips the walk
# of the socket list (~3-5 ms each at 100k sockets).


def _state_sums(report: Analysis, state: str) -> Totals | None:
    return next((g.totals for g in report.by_state if g.key == state), None)


# --- capture and kernel -----------------------------------------------------------


def partial_capture(report: Analysis) -> Iterable[Finding]:
    cap = report.capture
    if cap.partial:
        unfinished = tuple(s.name for s in report.sections if not s.complete)
        yield Finding("critical", "partial-capture", PartialCapture(cap.error, unfinished))


def kernel_diag_not_ok(report: Analysis) -> Iterable[Finding]:
    diag = report.kernel_diag
    if diag.verdict != "ok":
        yield Finding("critical" if diag.verdict == "missing" else "warning", "kernel-diag", DiagNotOk(diag))


def ss_missing(report: Analysis) -> Iterable[Finding]:
    if report.capture.raw_paste:
        return
    run = report.ss_run  # what the ss section's parser read of how it ended
    if run is not None and (run.printed or run.rc is None):
        return  # ss ran (or was cut off: partial_capture says so)
    if run is None and not report.sections:
        return
    yield Finding(
        "warning",
        "ss-missing",
        SsMissing(run is not None, run.rc if run else None, run.stderr_head if run else None, report.socket_source),
    )


def non_root(report: Analysis) -> Iterable[Finding]:
    if report.device.root is False:
        yield Finding("warning", "non-root", NotRoot(report.device.user))


def tcp_udp_memory_pressure(report: Analysis) -> Iterable[Finding]:
    km = report.kernel_memory
    for proto, sysctl in ((km.tcp, "tcp_mem"), (km.udp, "udp_mem")):
        level = proto.level()
        lim = proto.limits
        if level not in ("pressure", "max") or lim is None:  # no limits: level is "unknown"
            continue
        yield Finding(
            "critical" if level == "max" else "warning",
            f"{sysctl.replace('_', '-')}-pressure",
            MemoryPressure(
                proto.protocol,
                sysctl,
                level == "max",
                proto.pages,
                (lim.min, lim.pressure, lim.max),
                km.page_size,
                km.bytes(proto.pages),
            ),
        )


# --- sockets ---------------------------------------------------------------------


def _rmem(sock: Socket) -> int:
    return (sock.skmem.rmem_alloc or 0) if sock.skmem is not None else 0


def _ratio(sock: Socket) -> float:
    mem = sock.skmem
    if mem is None or not mem.rcv_buf or mem.rmem_alloc is None:
        return 0.0
    return mem.rmem_alloc / mem.rcv_buf


def _trouble(kind: str, socks: Sequence[Socket], dropped: int = 0, listen_overflows: int | None = None) -> Finding:
    """A warning naming how many sockets, their owners and the worst few (`socks` worst first)."""
    owners = tuple(sorted({p.name for s in socks for p in s.processes}))
    shown = tuple(socks[:EVIDENCE_SOCKETS])
    return Finding("warning", kind, SocketTrouble(kind, len(socks), owners, shown, dropped, listen_overflows))


def receive_queue_near_rcvbuf(report: Analysis) -> Iterable[Finding]:
    if not report.totals.rmem_alloc:
        return
    # The cheap test first, written out (most sockets hold no unread data): ~3x
    # faster than calling _rmem on each of 100k sockets. rmem_alloc is never < 0.
    socks = [
        s
        for s in _device_sockets(report)
        if s.skmem is not None and s.skmem.rmem_alloc and _ratio(s) >= RCVBUF_FULL_SHARE
    ]
    if socks:
        socks.sort(key=lambda s: (-_ratio(s), -_rmem(s)))
        yield _trouble("rcvq-near-rcvbuf", socks)


def socket_drops(report: Analysis) -> Iterable[Finding]:
    if not report.totals.sock_drop and report.socket_source != "proc_net":  # only it fills Socket.drops
        return
    socks = [s for s in _device_sockets(report) if drops(s) > 0]
    if socks:
        socks.sort(key=lambda s: -drops(s))
        yield _trouble("socket-drops", socks, dropped=sum(drops(s) for s in socks))


def close_wait_with_data(report: Analysis) -> Iterable[Finding]:
    if _state_sums(report, "CLOSE-WAIT") is None:
        return

    def holds_data(s: Socket) -> bool:
        if s.skmem is not None and s.skmem.rmem_alloc is not None:
            return s.skmem.rmem_alloc > 0
        return (s.recv_q or 0) > 1  # Recv-Q counts the FIN as one byte

    socks = [s for s in _device_sockets(report) if s.state == "CLOSE-WAIT" and holds_data(s)]
    if socks:
        socks.sort(key=lambda s: -((s.skmem.rmem_alloc if s.skmem else 0) or (s.recv_q or 0)))
        yield _trouble("close-wait-data", socks)


def accept_queue_full(report: Analysis) -> Iterable[Finding]:
    listening = _state_sums(report, "LISTEN")
    if listening is None or not listening.accept_queue:  # Recv-Q > Send-Q needs a Recv-Q
        return
    socks = [
        s
        for s in _device_sockets(report)
        if s.state == "LISTEN" and s.recv_q is not None and s.send_q is not None and s.recv_q > s.send_q
    ]
    if socks:
        socks.sort(key=lambda s: -(s.recv_q or 0))
        overflows = report.kernel_memory.counter("TcpExt", "ListenOverflows")
        yield _trouble("accept-queue-full", socks, listen_overflows=overflows)


def conntrack_near_full(report: Analysis) -> Iterable[Finding]:
    where = report.memory_elsewhere
    if not where.conntrack_near_full:
        return
    share = where.conntrack_share or 0.0
    yield Finding(
        "critical" if share >= 0.95 else "warning",
        "conntrack-near-full",
        ConntrackNearFull(share, where.conntrack_count, where.conntrack_max, CONNTRACK_NEAR_FULL),
    )


# --- counters since boot -----------------------------------------------------------

# (code, severity, counters); a finding when any counter is above 0. Worded by
# kit.render.finding_text (COUNTER_TEXT: the title and remedy of each code).
COUNTER_RULES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("tcp-memory-counters", "warning", (("TcpExt", "TCPMemoryPressures"), ("TcpExt", "TCPAbortOnMemory"))),
    (
        "tcp-prune-counters",
        "warning",
        (("TcpExt", "PruneCalled"), ("TcpExt", "RcvPruned"), ("TcpExt", "OfoPruned"), ("TcpExt", "TCPRcvQDrop")),
    ),
    ("udp-rcvbuf-counters", "warning", (("Udp", "RcvbufErrors"), ("Udp", "MemErrors"), ("Udp", "InErrors"))),
    ("udp-sndbuf-counters", "warning", (("Udp", "SndbufErrors"),)),
)


def memory_counters(report: Analysis) -> Iterable[Finding]:
    km = report.kernel_memory
    for code, severity, names in COUNTER_RULES:
        hits = tuple((g, n, value) for g, n in names if (value := km.counter(g, n) or 0) > 0)
        if hits:
            yield Finding(severity, code, CounterHits(code, hits))


UNREAD_SHARE = 0.1  # more than this share of a text's non-blank lines unread: a warning, not a detail


def parse_problems(report: Analysis) -> Iterable[Finding]:
    """Lines no parser could read; a warning when they are more than a tenth of their sections' lines,
    so a half-read paste never looks like a healthy router."""
    if not report.parse_problems:
        return
    unread = {(p.section, p.problem.line) for p in report.parse_problems}
    names = {section for section, _ in unread}
    lines = sum(s.nonblank_lines() for s in report.sections if s.name in names)
    share = len(unread) / lines if lines else 1.0
    first = tuple((p.section, p.problem) for p in report.parse_problems[:3])
    many = share > UNREAD_SHARE
    yield Finding("warning" if many else "info", "parse-problems", UnreadLines(len(unread), lines, share, many, first))


RULES: tuple[Callable[[Analysis], Iterable[Finding]], ...] = (
    partial_capture,
    kernel_diag_not_ok,
    ss_missing,
    non_root,
    tcp_udp_memory_pressure,
    receive_queue_near_rcvbuf,
    socket_drops,
    close_wait_with_data,
    accept_queue_full,
    conntrack_near_full,
    memory_counters,
    parse_problems,
)


def find(report: Analysis) -> list[Finding]:
    found = [f for rule in RULES for f in rule(report)]
    return sorted(found, key=lambda f: SEVERITIES.index(f.severity))
