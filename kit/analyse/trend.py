"""A series of captures of one device over time: `kit trend` and `kit collect --every` (schema kit.trend/1).

Pure. Each Report is boiled down to a small Sample as soon as it is built
(totals, per-process and per-socket memory, sockstat against tcp_mem), so a
series of big captures never holds more than one full Report at a time.
`build(samples)` orders them by capture time and finds what grows.

Memory of a process or socket here is r + t + w (rmem_alloc + wmem_alloc +
wmem_queued, bytes, from ss's skmem), or Recv-Q + Send-Q where the capture
has no skmem. Processes are followed by (name, pid); sockets by inode where
the capture has one, else by netid, local and peer address.

The `growing` rule (also written in the report's glossary, kit.render.trend.GROWING_RULE):
over at least MIN_SAMPLES samples where it exists, the memory rose in more
than half of the steps between consecutive samples, and by at least
GROW_MIN_BYTES from its first to its last sample. A growing thing is
`critical` when, at its rate (a least-squares line through its samples), it
would within an hour push TCP memory (sockstat) to tcp_mem's pressure
threshold (for its TCP sockets), or itself reach a tenth of MemTotal;
otherwise `warning`.

Why ~400 lines in one module: sampling, the growth rule and the trend's
findings share the Sample and Series shapes and the constants above, which
the glossary quotes; the renderers are kit.render.trend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kit.analyse.diff import parse_time, same_device, side, socket_weight
from kit.analyse.diff_records import Caveat, Side
from kit.analyse.finding_facts import Finding, Growing, MemTotalShareWithinHour, MoreGrowing, TcpPressureWithinHour
from kit.analyse.kernel_memory import Limits
from kit.analyse.totals import Totals, per_process
from kit.records import Socket

if TYPE_CHECKING:
    from kit.report import Report

SCHEMA = "kit.trend/1"
MIN_SAMPLES = 3
GROW_MIN_BYTES = 16 * 1024
HORIZON = 3600.0  # seconds: "within an hour"
MEMTOTAL_SHARE = 0.1
FINDING_SOCKETS = 10  # growing sockets given a finding of their own (the JSON lists all growing ones)
EVIDENCE_SOCKETS = 3  # a growing process's own growing sockets named in its finding

SocketKey = tuple[object, ...]
ProcessKey = tuple[str, "int | None"]


@dataclass(frozen=True, slots=True)
class SocketSeen:
    """One socket in one sample: memory, and what names it."""

    memory: int
    tcp: bool
    socket: Socket


@dataclass(slots=True)
class Sample:
    """What a trend keeps of one capture."""

    side: Side
    when: float | None
    totals: Totals
    page_size: int
    mem_total: int | None
    tcp_pages: int | None
    tcp_limits: Limits | None
    udp_pages: int | None
    processes: dict[tuple[str, int | None], tuple[int, int, int]]  # -> (r+t+w, of it on TCP sockets, sockets)
    sockets: dict[SocketKey, SocketSeen]  # sockets holding memory only
    kernel_diag: str = "unknown"


def _memory(t: Totals, skmem: bool) -> int:
    return t.rmem_alloc + t.wmem_alloc + t.wmem_queued if skmem else t.recv_q + t.send_q


def socket_key(sock: Socket) -> SocketKey:
    return (
        ("inode", sock.netid, sock.inode) if sock.inode is not None else ("address", sock.netid, sock.local, sock.peer)
    )


def sample(report: Report) -> Sample:
    """Boil one Report down to what the trend needs."""
    socks = [s for s in report.sockets if not getattr(s, "this_collect", False)]
    skmem = report.totals.with_skmem > 0
    tcp_by = {(g.name, g.pid): g.totals for g in per_process(s for s in socks if s.netid == "tcp")}
    processes = {}
    for g in per_process(socks):
        tcp = tcp_by.get((g.name, g.pid))
        processes[(g.name, g.pid)] = (
            _memory(g.totals, skmem),
            _memory(tcp, skmem) if tcp else 0,
            g.totals.sockets,
        )
    sockets: dict[SocketKey, SocketSeen] = {}
    for sock in socks:
        weight = socket_weight(sock)
        if weight > 0:
            key = socket_key(sock)
            if key not in sockets:
                sockets[key] = SocketSeen(weight, sock.netid == "tcp", sock)
    km = report.kernel_memory
    from kit.analyse.totals import totals as sum_totals

    return Sample(
        side=side(report),
        when=parse_time(report.capture.started),
        totals=report.totals if len(socks) == len(report.sockets) else sum_totals(socks),
        page_size=km.page_size,
        mem_total=km.mem_total,
        tcp_pages=km.tcp.pages,
        tcp_limits=km.tcp.limits,
        udp_pages=km.udp.pages,
        processes=processes,
        sockets=sockets,
        kernel_diag=report.kernel_diag.verdict,
    )


def other_device(samples: list[Sample]) -> Sample | None:
    """The first sample that is not of the first sample's device (host key, else host name)."""
    first = samples[0].side
    return next((s for s in samples[1:] if same_device(first, s.side) is False), None)


# --- growth ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Growth:
    first: int
    last: int
    rising_steps: int
    steps: int
    rate: float | None  # bytes per second (least squares), None without capture times

    @property
    def rise(self) -> int:
        return self.last - self.first


def slope(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / var


def growth(values: list[int | None], times: list[float | None]) -> Growth | None:
    """The growing rule (kit.render.trend.GROWING_RULE words it) on one series; None when it does not hold."""
    present = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
    if len(present) < MIN_SAMPLES:
        return None
    steps = len(present) - 1
    rising = sum(1 for (_, a), (_, b) in zip(present, present[1:], strict=False) if b > a)
    first, last = present[0][1], present[-1][1]
    if rising * 2 <= steps or last - first < GROW_MIN_BYTES:
        return None
    timed = [(t, float(v)) for t, v in present if t is not None]
    rate = slope(timed) if len(timed) == len(present) else None
    return Growth(first, last, rising, steps, rate)


# --- the trend -----------------------------------------------------------------------


@dataclass(slots=True)
class Series:
    name: str
    pid: int | None
    values: list[int | None]  # r + t + w per sample; None where it did not exist
    tcp: list[int | None]  # of it, on TCP sockets
    sockets: list[int | None] = field(default_factory=list)
    growth: Growth | None = None

    @property
    def peak(self) -> int:
        return max((v for v in self.values if v is not None), default=0)

    @property
    def label(self) -> str:
        return self.name + (f" [{self.pid}]" if self.pid is not None else "")


@dataclass(slots=True)
class SocketSeries:
    key: SocketKey
    socket: Socket  # as the last sample that has it shows it
    values: list[int | None]
    tcp: bool
    growth: Growth | None = None


@dataclass(slots=True)
class Trend:
    device: dict[str, object]
    samples: list[Sample]
    processes: list[Series]  # growing first, then most memory at its peak
    sockets: list[SocketSeries]  # the growing ones, largest rise first
    findings: list[Finding]
    warnings: list[Caveat]
    schema: str = SCHEMA

    @property
    def times(self) -> list[float | None]:
        return [s.when for s in self.samples]


def order(samples: list[Sample]) -> tuple[list[Sample], list[Caveat]]:
    """Samples by capture time; in the given order (with a warning) when some have none."""
    if all(s.when is not None for s in samples):
        return sorted(samples, key=lambda s: s.when or 0.0), []
    return list(samples), [Caveat("no_times")]


def _process_series(samples: list[Sample]) -> list[Series]:
    keys: dict[tuple[str, int | None], None] = {}
    for s in samples:
        keys.update(dict.fromkeys(s.processes))
    out = []
    for name, pid in keys:
        seen = [s.processes.get((name, pid)) for s in samples]
        out.append(
            Series(
                name,
                pid,
                [v[0] if v else None for v in seen],
                [v[1] if v else None for v in seen],
                [v[2] if v else None for v in seen],
            )
        )
    return out


def _socket_series(samples: list[Sample]) -> list[SocketSeries]:
    keys: dict[SocketKey, SocketSeen] = {}
    for s in samples:
        keys.update(s.sockets)  # the last sample that has a socket describes it
    out = []
    for key, seen in keys.items():
        # A socket holding no memory in a sample is not listed there: 0 if it existed then, as far as we know.
        values: list[int | None] = [s.sockets[key].memory if key in s.sockets else 0 for s in samples]
        out.append(SocketSeries(key, seen.socket, values, seen.tcp))
    return out


def _critical(
    g: Growth, tcp_rate: float | None, last: Sample
) -> tuple[TcpPressureWithinHour | MemTotalShareWithinHour, ...]:
    """Why a growth is critical: the one-hour projections it crosses (empty: a warning)."""
    why: list[TcpPressureWithinHour | MemTotalShareWithinHour] = []
    if tcp_rate and tcp_rate > 0 and last.tcp_pages is not None and last.tcp_limits is not None:
        now = last.tcp_pages * last.page_size
        pressure = last.tcp_limits.pressure * last.page_size
        if now + tcp_rate * HORIZON >= pressure:
            why.append(TcpPressureWithinHour(last.tcp_limits.pressure, last.tcp_pages))
    reach = g.last + (g.rate or 0.0) * HORIZON
    if g.rate and g.rate > 0 and last.mem_total and reach >= MEMTOTAL_SHARE * last.mem_total:
        why.append(MemTotalShareWithinHour(last.mem_total))
    return tuple(why)


def _findings(trend: Trend) -> list[Finding]:
    """Growth findings, as data (kit.analyse.finding_facts.Growing); kit.render.finding_text words them."""
    last = trend.samples[-1]
    found: list[Finding] = []
    growing_socks = [s for s in trend.sockets if s.growth is not None]
    for p in trend.processes:
        g = p.growth
        if g is None:
            continue
        tcp = growth(p.tcp, trend.times)
        why = _critical(g, tcp.rate if tcp else None, last)
        own = [s for s in growing_socks if (p.name, p.pid) in {(o.name, o.pid) for o in s.socket.processes}]
        sockets_then = [v for v in p.sockets if v is not None]
        rose = (sockets_then[0], sockets_then[-1]) if sockets_then and sockets_then[-1] > sockets_then[0] else None
        facts = Growing(
            g,
            tuple(p.values),
            why,
            samples=len(trend.samples),
            name=p.name,
            pid=p.pid,
            own_sockets=tuple(s.socket for s in own[:EVIDENCE_SOCKETS]),
            socket_counts=rose,
        )
        found.append(Finding("critical" if why else "warning", "growing", facts))
    for s in growing_socks[:FINDING_SOCKETS]:
        g = s.growth
        assert g is not None
        why = _critical(g, g.rate if s.tcp else None, last)
        found.append(
            Finding("critical" if why else "warning", "growing", Growing(g, tuple(s.values), why, socket=s.socket))
        )
    if len(growing_socks) > FINDING_SOCKETS:
        found.append(Finding("info", "growing-more", MoreGrowing(len(growing_socks) - FINDING_SOCKETS)))
    return sorted(found, key=lambda f: ("critical", "warning", "info").index(f.severity))


def build(samples: list[Sample]) -> Trend:
    """The trend of samples of one device (check other_device() first)."""
    ordered, warnings = order(samples)
    times = [s.when for s in ordered]
    processes = _process_series(ordered)
    for p in processes:
        p.growth = growth(p.values, times)
    processes.sort(key=lambda p: (p.growth is None, -(p.growth.rise if p.growth else p.peak), p.name))
    sockets = _socket_series(ordered)
    for s in sockets:
        s.growth = growth(s.values, times)
    growing = sorted((s for s in sockets if s.growth is not None), key=lambda s: -(s.growth.rise if s.growth else 0))
    if len(ordered) < MIN_SAMPLES:
        warnings.append(Caveat("few_samples", counts=(len(ordered), MIN_SAMPLES)))
    if any(s.totals.with_skmem == 0 and s.totals.sockets for s in ordered):
        warnings.append(Caveat("samples_without_skmem"))
    last = ordered[-1]
    trend = Trend(
        device={
            "hostname": last.side.hostname,
            "target": last.side.target,
            "host_key": last.side.host_key,
        },
        samples=ordered,
        processes=processes,
        sockets=growing,
        findings=[],
        warnings=warnings,
    )
    trend.findings = _findings(trend)
    return trend
