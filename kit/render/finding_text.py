"""Findings in words: the title, evidence lines and remedy of each Finding's facts.

The analysis (kit.analyse.findings, kit.analyse.trend) makes Findings as data
(kit.analyse.finding_facts); this is the one place they become sentences.
The JSON, text and HTML renderers of reports, diffs and trends, and the fleet
index, read FindingText, whose fields are the JSON `findings` keys in their
order (docs/design.md): severity, title, evidence, remedy, code.
"""

from __future__ import annotations

from collections.abc import Sequence

from kit.analyse import finding_facts as ff
from kit.diag_options import REQUIRED
from kit.frozen import frozen
from kit.records import Socket
from kit.render.kdiag_text import describe_remedy, evidence_text, summary_text


@frozen
class FindingText:
    severity: str  # "critical", "warning", "info"
    title: str  # one line
    evidence: tuple[str, ...]  # the lines it rests on
    remedy: str  # what to do
    code: str = ""  # stable identifier, e.g. "rcvq-near-rcvbuf"


# The counter rules' words (kit.analyse.findings.COUNTER_RULES: code -> title, remedy).
COUNTER_TEXT: dict[str, tuple[str, str]] = {
    "tcp-memory-counters": (
        "TCP ran short of memory since boot",
        "TCP hit tcp_mem: look for sockets holding memory now (the per-process table). These counters count "
        "since boot: collect again later and run `kit diff THIS.cap LATER.cap`; its counters table shows "
        "whether they still grow, and which processes' sockets grew meanwhile.",
    ),
    "tcp-prune-counters": (
        "TCP receive queues were pruned or dropped since boot",
        "Receive queues outgrew their buffers: an application reads too slowly or rcv_buf is too small for the "
        "link. Find sockets with r near rb. These counters count since boot: `kit diff THIS.cap LATER.cap` "
        "on a later capture shows whether they still grow.",
    ),
    "udp-rcvbuf-counters": (
        "UDP datagrams were dropped on receive since boot",
        "RcvbufErrors: a socket's receive buffer was full (its owner reads too slowly, see drops per socket); "
        "MemErrors: udp_mem ran out; InErrors counts both plus checksum errors.",
    ),
    "udp-sndbuf-counters": (
        "UDP sends failed for a full send buffer since boot",
        "An application sends faster than the interface drains: check its send rate and the qdisc; a larger "
        "SO_SNDBUF only absorbs bursts.",
    ),
}
_COUNTER_SOURCE = {"TcpExt": "/proc/net/netstat", "Udp": "/proc/net/snmp"}

# The socket rules' words (kit.analyse.finding_facts.SocketTrouble.kind): the title after the count, the remedy.
_SOCKET_TEXT: dict[str, tuple[str, str]] = {
    "rcvq-near-rcvbuf": (
        "socket(s) with the receive queue near rcv_buf: an application is not reading",
        "The owning process is not reading fast enough (stuck, blocked, or overloaded): check it (strace -p PID, "
        "its logs) and restart it if it is hung. Raising SO_RCVBUF / net.core.rmem_max only helps bursts.",
    ),
    "socket-drops": (
        "",
        "Drops on a socket mostly mean its receive buffer was full (see r against rb): make the owner read "
        "faster, or give it a larger SO_RCVBUF (bounded by net.core.rmem_max). Drops can also come from a "
        "socket filter or memory pressure.",
    ),
    "close-wait-data": (
        "CLOSE-WAIT socket(s) holding unread data: an application neither reads nor closes",
        "The peer closed these connections but the owning process never read the rest nor closed the socket "
        "(a missing close() or a stuck worker). Fix or restart that process; the memory is freed when it closes.",
    ),
    "accept-queue-full": (
        "listener(s) with a full accept queue: new connections are dropped",
        "The process is not calling accept() fast enough (on a LISTEN row ss shows the accept queue in Recv-Q "
        "and the backlog in Send-Q). Check that process; a larger listen() backlog (capped by "
        "net.core.somaxconn) only absorbs bursts.",
    ),
}


def describe(sock: Socket) -> str:
    """One evidence line for a socket: type, state, addresses, queues, skmem, owners (findings, kit diff)."""
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


def _owners(names: Sequence[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f" ({shown})"


def _sockets(f: ff.SocketTrouble, severity: str, code: str) -> FindingText:
    title_rest, remedy = _SOCKET_TEXT[f.kind]
    if f.kind == "socket-drops":
        title = f"{f.count} socket(s) dropped {f.dropped} packet(s){_owners(f.owners)}"
    else:
        title = f"{f.count} {title_rest}{_owners(f.owners)}"
    evidence: tuple[str, ...]
    if f.kind == "accept-queue-full":
        evidence = tuple(f"{describe(s)}: accept queue {s.recv_q} > backlog {s.send_q}" for s in f.shown)
        if f.listen_overflows:
            evidence += (f"/proc/net/netstat: TcpExt ListenOverflows {f.listen_overflows} since boot",)
    else:
        evidence = _described(f.shown)
    return FindingText(severity, title, evidence, remedy, code)


def _described(socks: Sequence[Socket]) -> tuple[str, ...]:
    return tuple(describe(s) for s in socks)


def _diag(f: ff.DiagNotOk, severity: str, code: str) -> FindingText:
    diag = f.diag
    remedies = [
        f"{name}: {describe_remedy(v.remedy)}" for name, v in diag.options.items() if v.remedy and name in REQUIRED
    ]
    return FindingText(
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
        code,
    )


def _pressure(f: ff.MemoryPressure, severity: str, code: str) -> FindingText:
    low, pressure, high = f.limits
    return FindingText(
        severity,
        f"{f.protocol} memory is past {'its maximum' if f.at_max else 'the pressure threshold'}: "
        f"{f.pages} pages in use ({f.sysctl} {low} {pressure} {high})",
        (
            f"/proc/net/sockstat: {f.protocol}: mem {f.pages} (pages of {f.page_size} bytes = {f.bytes} bytes)",
            f"/proc/sys/net/ipv4/{f.sysctl}: min {low} pressure {pressure} max {high} pages",
        ),
        f"Find the sockets holding memory (the per-process table: large r means an application not "
        f"reading, large t/w a peer not acknowledging) and fix that process first. Only if the load is "
        f"legitimate raise {f.sysctl} (sysctl -w net.ipv4.{f.sysctl}='MIN PRESSURE MAX', in pages) within "
        f"what the device's RAM allows.",
        code,
    )


def _unread(f: ff.UnreadLines, severity: str, code: str) -> FindingText:
    evidence = tuple(f"{section} line {p.line}: {p.text[:120]!r}: {p.reason}" for section, p in f.first)
    if f.many:
        return FindingText(
            severity,
            f"{f.unread} of {f.lines} lines ({f.share:.0%}) could not be read: the totals may leave much out",
            evidence,
            "Check that the text is whole ss, netstat or /proc/net output (not cut, not reformatted); "
            "the unread lines are listed under 'Lines kit could not read'. Better: run kit collect, "
            "or kit probe by hand, on the device.",
            code,
        )
    return FindingText(
        severity,
        f"{f.unread} line(s) could not be read",
        evidence,
        "They are listed under 'Lines kit could not read'; the totals leave them out.",
        code,
    )


REMEDY_PROCESS = (
    "Memory that keeps growing on a process's sockets is a leak in the making: large r means it is not reading "
    "(stuck, blocked, or a socket it forgot), CLOSE-WAIT sockets that pile up mean it never closes what its "
    "peers closed, large t/w means a peer that does not acknowledge. Check the process (strace -p PID, its "
    "logs), restart it if it is hung; `kit diff FIRST.cap LAST.cap` lists the sockets that changed."
)
REMEDY_SOCKET = (
    "This one socket keeps growing: its owner does not read it (r) or its peer does not take the data (t/w). "
    "Check the owner; the memory is freed when it reads or closes the socket."
)


def _kib(n: float) -> str:
    """Bytes for a finding's text: KiB, or MiB/GiB when large."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1024:.1f} KiB"


def _projection(p: ff.TcpPressureWithinHour | ff.MemTotalShareWithinHour) -> str:
    if isinstance(p, ff.TcpPressureWithinHour):
        return (
            f"at this rate TCP memory would reach tcp_mem pressure ({p.pressure} pages) within "
            f"an hour (now {p.now} pages)"
        )
    return f"at this rate it would hold a tenth of MemTotal ({p.mem_total} bytes) within an hour"


def _growing(f: ff.Growing, severity: str, code: str) -> FindingText:
    from kit.analyse.trend import HORIZON  # here: a report's render does not load the trend code

    g, values = f.growth, f.values
    shown = " -> ".join("-" if v is None else str(v) for v in values[:12]) + (" ..." if len(values) > 12 else "")
    evidence = [
        f"r+t+w per sample (bytes): {shown}",
        f"rose in {g.rising_steps} of {g.steps} steps, by {g.rise} bytes ({_kib(g.rise)}) from first to last",
    ]
    if g.rate is not None:
        evidence.append(f"rate {_kib(g.rate * HORIZON)} per hour (least squares over the samples)")
    evidence += [_projection(p) for p in f.critical]
    if f.socket is not None:
        title = f"A socket is growing: {_kib(g.first)} -> {_kib(g.last)}: {describe(f.socket)}"
        return FindingText(severity, title, tuple(evidence), REMEDY_SOCKET, code)
    evidence += [f"its growing socket: {describe(s)}" for s in f.own_sockets]
    if f.socket_counts is not None:
        evidence.append(f"its sockets: {f.socket_counts[0]} -> {f.socket_counts[1]}")
    label = f.name + (f" [{f.pid}]" if f.pid is not None else "")
    title = f"Socket memory of {label} is growing: {_kib(g.first)} -> {_kib(g.last)} over {f.samples} samples"
    return FindingText(severity, title, tuple(evidence), REMEDY_PROCESS, code)


def worded(finding: ff.Finding) -> FindingText:
    """The finding in words, as every renderer shows it."""
    f, severity, code = finding.facts, finding.severity, finding.code
    if isinstance(f, ff.SocketTrouble):
        return _sockets(f, severity, code)
    if isinstance(f, ff.DiagNotOk):
        return _diag(f, severity, code)
    if isinstance(f, ff.MemoryPressure):
        return _pressure(f, severity, code)
    if isinstance(f, ff.UnreadLines):
        return _unread(f, severity, code)
    if isinstance(f, ff.PartialCapture):
        return FindingText(
            severity,
            "The capture is partial: the probe did not finish",
            (f.error or "the probe stopped early",)
            + ((f"unfinished section(s): {', '.join(f.unfinished)}",) if f.unfinished else ()),
            "Re-run kit collect; if it stops at the same place, raise --timeout or check the link.",
            code,
        )
    if isinstance(f, ff.SsMissing):
        evidence: tuple[str, ...] = (
            (f"ss exited {f.rc}" + (f": {f.stderr_line}" if f.stderr_line is not None else ""),)
            if f.ran
            else ("the capture has no ss section",)
        )
        if f.socket_source:
            evidence += (f"sockets were read from {f.socket_source} instead (no memory per socket)",)
        return FindingText(
            severity,
            "ss is missing or failed on the device: no per-socket memory",
            evidence,
            "Install iproute2's ss (OpenWrt: opkg update && opkg install ss; Debian/Ubuntu: apt install iproute2) "
            "and collect again. Busybox netstat and /proc give queue bytes, never skmem.",
            code,
        )
    if isinstance(f, ff.NotRoot):
        return FindingText(
            severity,
            "The probe did not run as root: owners of other users' sockets are not shown",
            (f"id: {f.user}",),
            "ss -p shows only the processes of the user it runs as; collect as root (kit collect root@HOST) "
            "to see which process holds each socket.",
            code,
        )
    if isinstance(f, ff.ConntrackNearFull):
        return FindingText(
            severity,
            f"The conntrack table is {100 * f.share:.0f}% full ({f.count} of {f.max} "
            "entries): new connections are dropped when it fills",
            (
                f"nf_conntrack_count {f.count}, nf_conntrack_max {f.max}",
                f"near full from {100 * f.near_full:.0f}% (kit.analyse.memory_elsewhere)",
            ),
            "Find what opens so many connections (conntrack -L | sort by source, or /proc/net/nf_conntrack); "
            "dmesg shows 'nf_conntrack: table full, dropping packet' when it overflows. Shorter timeouts "
            "(net.netfilter.nf_conntrack_tcp_timeout_established) or a larger net.netfilter.nf_conntrack_max "
            "(each entry costs about 300 bytes of unreclaimable slab) if the load is legitimate.",
            code,
        )
    if isinstance(f, ff.CounterHits):
        title, remedy = COUNTER_TEXT[f.rule]
        return FindingText(
            severity,
            title + ": " + ", ".join(f"{n} {v}" for _, n, v in f.hits),
            tuple(f"{_COUNTER_SOURCE.get(g, g)}: {g} {n} {v}" for g, n, v in f.hits),
            remedy,
            code,
        )
    if isinstance(f, ff.Growing):
        return _growing(f, severity, code)
    return FindingText(severity, f"{f.count} more growing socket(s) are listed in the JSON (sockets)", (), "", code)
