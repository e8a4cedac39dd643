"""Findings: what is wrong, the evidence it rests on, and what to do.

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

Why ~420 lines in one module: the rules are read as one list (RULES, in the
order the report shows them), each a few lines over the same Analysis, and
they share the evidence helpers (describe, _evidence, drops); split by
topic, a reader would hunt through several files for the one list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from kit.analyse.memory_elsewhere import CONNTRACK_NEAR_FULL
from kit.diag_options import REQUIRED
from kit.records import SEVERITIES, Finding, Socket
from kit.render.kdiag_text import describe_remedy, evidence_text, summary_text

if TYPE_CHECKING:
    from kit.report import Analysis

EVIDENCE_SOCKETS = 5
RCVBUF_FULL_SHARE = 0.75  # r >= 75% of rb counts as "near rcv_buf"


def describe(sock: Socket) -> str:
    """One evidence line for a socket: type, state, addresses, queues, skmem, owners."""
    parts = [sock.netid or "?", sock.state or "?", sock.local or "*"]
    if sock.peer and sock.peer not in ("*", "*:*", "0.0.0.0:*", "[::]:*"):
        parts.append("-> " + sock.peer)
    parts.append(
        f"Recv-Q {sock.recv_q if sock.recv_q is not None else '?'} "
        f"Send-Q {sock.send_q if sock.send_q is not None else '?'}"
    )
    mem = sock.skmem
    if mem is not None:
        fields = (
            ("r", mem.rmem_alloc),
            ("rb", mem.rcv_buf),
            ("t", mem.wmem_alloc),
            ("w", mem.wmem_queued),
            ("d", mem.sock_drop),
        )
        parts.append("skmem " + ",".join(f"{k}{v}" for k, v in fields if v is not None))
    elif sock.drops:
        parts.append(f"drops {sock.drops}")
    if sock.processes:
        owners = ", ".join(f"{p.name}[{p.pid}]" if p.pid is not None else p.name for p in sock.processes[:3])
        more = f" +{len(sock.processes) - 3}" if len(sock.processes) > 3 else ""
        parts.append(f"owner {owners}{more}")
    else:
        parts.append("owner not shown")
    if sock.line:
        parts.append(f"(ss line {sock.line})")
    return " ".join(parts)


def _owners(socks: Sequence[Socket]) -> str:
    names = sorted({p.name for s in socks for p in s.processes})
    if not names:
        return ""
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f" ({shown})"


def drops(sock: Socket) -> int:
    """Packets dropped on a socket: skmem d from ss, or the drops column of /proc/net/udp and raw."""
    if sock.skmem is not None and sock.skmem.sock_drop is not None:
        return sock.skmem.sock_drop
    return sock.drops or 0


def _device_sockets(report: Analysis) -> Iterable[Socket]:
    """The sockets the rules judge: all but this collect's own (its SSH session, ss's query)."""
    return (s for s in report.sockets if not s.this_collect)


def _evidence(socks: Sequence[Socket]) -> tuple[str, ...]:
    return tuple(describe(s) for s in socks[:EVIDENCE_SOCKETS])


# --- capture and kernel -----------------------------------------------------------


def partial_capture(report: Analysis) -> Iterable[Finding]:
    cap = report.capture
    if cap.partial:
        unfinished = [s.name for s in report.sections if not s.complete]
        yield Finding(
            "critical",
            "The capture is partial: the probe did not finish",
            (cap.error or "the probe stopped early",)
            + ((f"unfinished section(s): {', '.join(unfinished)}",) if unfinished else ()),
            "Re-run kit collect; if it stops at the same place, raise --timeout or check the link.",
            code="partial-capture",
        )


def kernel_diag_not_ok(report: Analysis) -> Iterable[Finding]:
    diag = report.kernel_diag
    if diag.verdict == "ok":
        return
    remedies = [
        f"{name}: {describe_remedy(v.remedy)}" for name, v in diag.options.items() if v.remedy and name in REQUIRED
    ]
    severity = "critical" if diag.verdict == "missing" else "warning"
    yield Finding(
        severity,
        f"Kernel socket diag: {diag.verdict} — {summary_text(diag)}",
        tuple(
            f"{name}: {diag.options[name].state}: {evidence_text(e)}"
            for name in REQUIRED
            if name in diag.options
            for e in diag.options[name].evidence[:3]
        ),
        ("; ".join(remedies) or "See the kernel diag section.")
        + " Without inet_diag ss prints no memory: the totals here come from /proc queue bytes only.",
        code="kernel-diag",
    )


def ss_missing(report: Analysis) -> Iterable[Finding]:
    if report.capture.raw_paste:
        return
    ss = next((s for s in report.sections if s.name == "ss"), None)
    if ss is not None and (ss.stdout.strip() or ss.rc is None):
        return  # ss ran (or was cut off: partial_capture says so)
    if ss is None and not report.sections:
        return
    evidence: tuple[str, ...] = (
        ("the capture has no ss section",)
        if ss is None
        else (f"ss exited {ss.rc}" + (f": {ss.stderr.splitlines()[0][:200]}" if ss.stderr.strip() else ""),)
    )
    if report.socket_source:
        evidence += (f"sockets were read from {report.socket_source} instead (no memory per socket)",)
    yield Finding(
        "warning",
        "ss is missing or failed on the device: no per-socket memory",
        evidence,
        "Install iproute2's ss (OpenWrt: opkg update && opkg install ss; Debian/Ubuntu: apt install iproute2) "
        "and collect again. Busybox netstat and /proc give queue bytes, never skmem.",
        code="ss-missing",
    )


def non_root(report: Analysis) -> Iterable[Finding]:
    if report.device.root is False:
        yield Finding(
            "warning",
            "The probe did not run as root: owners of other users' sockets are not shown",
            (f"id: {report.device.user}",),
            "ss -p shows only the processes of the user it runs as; collect as root (kit collect root@HOST) "
            "to see which process holds each socket.",
            code="non-root",
        )


def tcp_udp_memory_pressure(report: Analysis) -> Iterable[Finding]:
    km = report.kernel_memory
    for proto, sysctl in ((km.tcp, "tcp_mem"), (km.udp, "udp_mem")):
        level = proto.level()
        lim = proto.limits
        if level not in ("pressure", "max") or lim is None:  # no limits: level is "unknown"
            continue
        yield Finding(
            "critical" if level == "max" else "warning",
            f"{proto.protocol} memory is past {'its maximum' if level == 'max' else 'the pressure threshold'}: "
            f"{proto.pages} pages in use ({sysctl} {lim.min} {lim.pressure} {lim.max})",
            (
                f"/proc/net/sockstat: {proto.protocol}: mem {proto.pages} (pages of {km.page_size} bytes = "
                f"{km.bytes(proto.pages)} bytes)",
                f"/proc/sys/net/ipv4/{sysctl}: min {lim.min} pressure {lim.pressure} max {lim.max} pages",
            ),
            f"Find the sockets holding memory (the per-process table: large r means an application not "
            f"reading, large t/w a peer not acknowledging) and fix that process first. Only if the load is "
            f"legitimate raise {sysctl} (sysctl -w net.ipv4.{sysctl}='MIN PRESSURE MAX', in pages) within "
            f"what the device's RAM allows.",
            code=f"{sysctl.replace('_', '-')}-pressure",
        )


# --- sockets ---------------------------------------------------------------------


def _rmem(sock: Socket) -> int:
    return (sock.skmem.rmem_alloc or 0) if sock.skmem is not None else 0


def _ratio(sock: Socket) -> float:
    mem = sock.skmem
    if mem is None or not mem.rcv_buf or mem.rmem_alloc is None:
        return 0.0
    return mem.rmem_alloc / mem.rcv_buf


def receive_queue_near_rcvbuf(report: Analysis) -> Iterable[Finding]:
    socks = [s for s in _device_sockets(report) if _rmem(s) > 0 and _ratio(s) >= RCVBUF_FULL_SHARE]
    if not socks:
        return
    socks.sort(key=lambda s: (-_ratio(s), -_rmem(s)))
    yield Finding(
        "warning",
        f"{len(socks)} socket(s) with the receive queue near rcv_buf: an application is not reading{_owners(socks)}",
        _evidence(socks),
        "The owning process is not reading fast enough (stuck, blocked, or overloaded): check it (strace -p PID, "
        "its logs) and restart it if it is hung. Raising SO_RCVBUF / net.core.rmem_max only helps bursts.",
        code="rcvq-near-rcvbuf",
    )


def socket_drops(report: Analysis) -> Iterable[Finding]:
    socks = [s for s in _device_sockets(report) if drops(s) > 0]
    if not socks:
        return
    socks.sort(key=lambda s: -drops(s))
    total = sum(drops(s) for s in socks)
    yield Finding(
        "warning",
        f"{len(socks)} socket(s) dropped {total} packet(s){_owners(socks)}",
        _evidence(socks),
        "Drops on a socket mostly mean its receive buffer was full (see r against rb): make the owner read "
        "faster, or give it a larger SO_RCVBUF (bounded by net.core.rmem_max). Drops can also come from a "
        "socket filter or memory pressure.",
        code="socket-drops",
    )


def close_wait_with_data(report: Analysis) -> Iterable[Finding]:
    def holds_data(s: Socket) -> bool:
        if s.skmem is not None and s.skmem.rmem_alloc is not None:
            return s.skmem.rmem_alloc > 0
        return (s.recv_q or 0) > 1  # Recv-Q counts the FIN as one byte

    socks = [s for s in _device_sockets(report) if s.state == "CLOSE-WAIT" and holds_data(s)]
    if not socks:
        return
    socks.sort(key=lambda s: -((s.skmem.rmem_alloc if s.skmem else 0) or (s.recv_q or 0)))
    yield Finding(
        "warning",
        f"{len(socks)} CLOSE-WAIT socket(s) holding unread data: an application neither reads nor closes"
        f"{_owners(socks)}",
        _evidence(socks),
        "The peer closed these connections but the owning process never read the rest nor closed the socket "
        "(a missing close() or a stuck worker). Fix or restart that process; the memory is freed when it closes.",
        code="close-wait-data",
    )


def accept_queue_full(report: Analysis) -> Iterable[Finding]:
    socks = [
        s
        for s in _device_sockets(report)
        if s.state == "LISTEN" and s.recv_q is not None and s.send_q is not None and s.recv_q > s.send_q
    ]
    if not socks:
        return
    socks.sort(key=lambda s: -(s.recv_q or 0))
    evidence = tuple(f"{describe(s)}: accept queue {s.recv_q} > backlog {s.send_q}" for s in socks[:EVIDENCE_SOCKETS])
    overflows = report.kernel_memory.counter("TcpExt", "ListenOverflows")
    if overflows:
        evidence += (f"/proc/net/netstat: TcpExt ListenOverflows {overflows} since boot",)
    yield Finding(
        "warning",
        f"{len(socks)} listener(s) with a full accept queue: new connections are dropped{_owners(socks)}",
        evidence,
        "The process is not calling accept() fast enough (on a LISTEN row ss shows the accept queue in Recv-Q "
        "and the backlog in Send-Q). Check that process; a larger listen() backlog (capped by "
        "net.core.somaxconn) only absorbs bursts.",
        code="accept-queue-full",
    )


def conntrack_near_full(report: Analysis) -> Iterable[Finding]:
    where = report.memory_elsewhere
    if not where.conntrack_near_full:
        return
    share = where.conntrack_share or 0.0
    yield Finding(
        "critical" if share >= 0.95 else "warning",
        f"The conntrack table is {100 * share:.0f}% full ({where.conntrack_count} of {where.conntrack_max} "
        "entries): new connections are dropped when it fills",
        (
            f"nf_conntrack_count {where.conntrack_count}, nf_conntrack_max {where.conntrack_max}",
            f"near full from {100 * CONNTRACK_NEAR_FULL:.0f}% (kit.analyse.memory_elsewhere)",
        ),
        "Find what opens so many connections (conntrack -L | sort by source, or /proc/net/nf_conntrack); "
        "dmesg shows 'nf_conntrack: table full, dropping packet' when it overflows. Shorter timeouts "
        "(net.netfilter.nf_conntrack_tcp_timeout_established) or a larger net.netfilter.nf_conntrack_max "
        "(each entry costs about 300 bytes of unreclaimable slab) if the load is legitimate.",
        code="conntrack-near-full",
    )


# --- counters since boot -----------------------------------------------------------

# (code, severity, title, counters, remedy); a finding when any counter is above 0.
COUNTER_RULES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], str], ...] = (
    (
        "tcp-memory-counters",
        "warning",
        "TCP ran short of memory since boot",
        (("TcpExt", "TCPMemoryPressures"), ("TcpExt", "TCPAbortOnMemory")),
        "TCP hit tcp_mem: look for sockets holding memory now (the per-process table). These counters count "
        "since boot: collect again later and run `kit diff THIS.cap LATER.cap`; its counters table shows "
        "whether they still grow, and which processes' sockets grew meanwhile.",
    ),
    (
        "tcp-prune-counters",
        "warning",
        "TCP receive queues were pruned or dropped since boot",
        (("TcpExt", "PruneCalled"), ("TcpExt", "RcvPruned"), ("TcpExt", "OfoPruned"), ("TcpExt", "TCPRcvQDrop")),
        "Receive queues outgrew their buffers: an application reads too slowly or rcv_buf is too small for the "
        "link. Find sockets with r near rb. These counters count since boot: `kit diff THIS.cap LATER.cap` "
        "on a later capture shows whether they still grow.",
    ),
    (
        "udp-rcvbuf-counters",
        "warning",
        "UDP datagrams were dropped on receive since boot",
        (("Udp", "RcvbufErrors"), ("Udp", "MemErrors"), ("Udp", "InErrors")),
        "RcvbufErrors: a socket's receive buffer was full (its owner reads too slowly, see drops per socket); "
        "MemErrors: udp_mem ran out; InErrors counts both plus checksum errors.",
    ),
    (
        "udp-sndbuf-counters",
        "warning",
        "UDP sends failed for a full send buffer since boot",
        (("Udp", "SndbufErrors"),),
        "An application sends faster than the interface drains: check its send rate and the qdisc; a larger "
        "SO_SNDBUF only absorbs bursts.",
    ),
)


def memory_counters(report: Analysis) -> Iterable[Finding]:
    km = report.kernel_memory
    source = {"TcpExt": "/proc/net/netstat", "Udp": "/proc/net/snmp"}
    for code, severity, title, names, remedy in COUNTER_RULES:
        hits = [(g, n, km.counter(g, n)) for g, n in names if (km.counter(g, n) or 0) > 0]
        if hits:
            yield Finding(
                severity,
                title + ": " + ", ".join(f"{n} {v}" for _, n, v in hits),
                tuple(f"{source.get(g, g)}: {g} {n} {v}" for g, n, v in hits),
                remedy,
                code=code,
            )


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
    first = report.parse_problems[:3]
    evidence = tuple(f"{p.section} line {p.problem.line}: {p.problem.text[:120]!r}: {p.problem.reason}" for p in first)
    if share > UNREAD_SHARE:
        yield Finding(
            "warning",
            f"{len(unread)} of {lines} lines ({share:.0%}) could not be read: the totals may leave much out",
            evidence,
            "Check that the text is whole ss, netstat or /proc/net output (not cut, not reformatted); "
            "the unread lines are listed under 'Lines kit could not read'. Better: run kit collect, "
            "or kit probe by hand, on the device.",
            code="parse-problems",
        )
        return
    yield Finding(
        "info",
        f"{len(unread)} line(s) could not be read",
        evidence,
        "They are listed under 'Lines kit could not read'; the totals leave them out.",
        code="parse-problems",
    )


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
