"""The answer first: do socket buffers explain this device's memory trouble, who holds them, what next.

A pure function of the analysed figures, as data (Summary, Reason,
NextStep); kit.render.summary_text words it, and the report shows that
sentence before anything else (HTML first screen, the text format's first
lines, JSON `summary`). The thresholds below are the rules, and the report's
glossary states them in words (kit.render.summary_text.GLOSSARY): change one,
change the other.

Socket memory held now is r + max(t, w) summed over the listed sockets that
have skmem (the same figure as the totals' "held now"), leaving out the
sockets of this collect itself (its SSH session, ss's own netlink socket).
Without skmem (no ss, or no inet_diag) it falls back to sockstat's TCP + UDP
pages times the page size: the kernel's own count for those two protocols.

Cause:
- `sockets` when socket memory is at least 10% of MemTotal, or at least 50%
  of MemAvailable, or TCP/UDP memory is past its tcp_mem/udp_mem pressure
  threshold;
- `not_sockets` when it is below 5% of MemTotal and below 20% of
  MemAvailable, and neither protocol is under pressure;
- `unknown` in between, or when the capture lacks MemTotal/MemAvailable or
  any socket memory figure at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from kit.analyse.kernel_memory import KernelMemory
from kit.analyse.memory_elsewhere import MemoryElsewhere
from kit.analyse.totals import Group, Totals
from kit.frozen import frozen

CAUSES = ("sockets", "not_sockets", "unknown")
SOCKETS_OF_TOTAL = 0.10
SOCKETS_OF_AVAILABLE = 0.50
NOT_SOCKETS_OF_TOTAL = 0.05
NOT_SOCKETS_OF_AVAILABLE = 0.20
LOW_MEMORY = 0.10  # MemAvailable below 10% of MemTotal: the device is short of memory
LARGE_SUNRECLAIM = 0.20  # SUnreclaim at least 20% of MemTotal: the kernel holds it


@frozen
class TopHolder:
    name: str
    pid: int | None
    bytes: int
    sockets: int
    owner_missing: str | None  # why no owner is shown (kit.analyse.owners), None for a process


@frozen
class Reason:
    """A rule that decided the cause. kind: "pressure" (protocols past their pressure threshold),
    "no_figure" (no socket memory figure), "no_meminfo", "of_total" / "of_available" (at least the
    "sockets" threshold), "below" (under both "not the cause" thresholds), "between"."""

    kind: str
    protocols: tuple[str, ...] = ()
    of_total: float | None = None
    of_available: float | None = None


@frozen
class NextStep:
    """What to do next. kind: "find_sockets" (no owner known), "find_owners" (the top holder has no
    visible owner), "check_holder", "not_short" (MemAvailable is fine now), "elsewhere" (the memory is
    not in sockets: see `elsewhere`), "make_ss_report" (no figure at all; then `elsewhere`),
    "per_socket_memory" (sockstat only), "no_meminfo", "kit_diff". elsewhere: "conntrack",
    "sunreclaim", "in_use" or "processes", with `where` holding their figures."""

    kind: str
    elsewhere: str = ""
    where: MemoryElsewhere | None = None


@frozen
class Summary:
    """The answer as data; kit.render.summary_text gives its sentence, next step and reasons in words."""

    socket_memory_bytes: int | None
    share_of_memtotal: float | None  # a fraction: 0.0123 is 1.23%
    share_of_memavailable: float | None
    cause: str  # one of CAUSES
    top_holder: TopHolder | None
    source: str  # "skmem", "sockstat" or "none": where socket_memory_bytes comes from
    next_step: NextStep
    reasons: tuple[Reason, ...]  # the rules that decided `cause`
    this_collect_bytes: int = 0  # left out of socket_memory_bytes


def _memory(totals: Totals, km: KernelMemory) -> tuple[int | None, str]:
    if totals.with_skmem:
        return totals.memory, "skmem"
    pages = [p.pages for p in (km.tcp, km.udp) if p.pages is not None]
    if pages:
        return sum(pages) * km.page_size, "sockstat"
    return None, "none"


def _cause(
    memory: int | None, of_total: float | None, of_avail: float | None, km: KernelMemory
) -> tuple[str, list[Reason]]:
    pressure = tuple(p.protocol for p in (km.tcp, km.udp) if p.level() in ("pressure", "max"))
    if pressure:
        return "sockets", [Reason("pressure", pressure)]
    if memory is None:
        return "unknown", [Reason("no_figure")]
    if of_total is None or of_avail is None:
        return "unknown", [Reason("no_meminfo")]
    if of_total >= SOCKETS_OF_TOTAL:
        return "sockets", [Reason("of_total", of_total=of_total)]
    if of_avail >= SOCKETS_OF_AVAILABLE:
        return "sockets", [Reason("of_available", of_available=of_avail)]
    if of_total < NOT_SOCKETS_OF_TOTAL and of_avail < NOT_SOCKETS_OF_AVAILABLE:
        return "not_sockets", [Reason("below", of_total=of_total, of_available=of_avail)]
    return "unknown", [Reason("between", of_total=of_total, of_available=of_avail)]


def _top_holder(processes: Sequence[Group]) -> TopHolder | None:
    for g in processes:
        if g.this_collect:
            continue
        if g.totals.memory <= 0:
            return None  # sorted by memory: nobody else holds any
        return TopHolder(g.name, g.pid, g.totals.memory, g.totals.sockets, g.owner_missing)
    return None


def _where_else(where: MemoryElsewhere) -> str:
    """Where to look when sockets are not it: the largest thing a router shows cheaply."""
    if where.conntrack_near_full:
        return "conntrack"
    unreclaim = where.share(where.sunreclaim)
    if unreclaim is not None and unreclaim >= LARGE_SUNRECLAIM and where.sunreclaim is not None:
        return "sunreclaim"
    if where.in_use is not None:
        return "in_use"
    return "processes"


def _next_step(
    cause: str,
    memory: int | None,
    holder: TopHolder | None,
    km: KernelMemory,
    where: MemoryElsewhere,
    source: str,
) -> NextStep:
    if cause == "sockets":
        if holder is None:
            return NextStep("find_sockets")
        return NextStep("find_owners" if holder.owner_missing is not None else "check_holder")
    if cause == "not_sockets":
        if where.mem_total and where.mem_available is not None and where.mem_available / where.mem_total >= LOW_MEMORY:
            return NextStep("not_short", where=where)
        return NextStep("elsewhere", _where_else(where), where)
    if memory is None:
        return NextStep("make_ss_report", _where_else(where), where)
    if source == "sockstat":
        return NextStep("per_socket_memory")
    if km.mem_total is None:
        return NextStep("no_meminfo")
    return NextStep("kit_diff")


def summarise(
    totals: Totals,
    processes: Sequence[Group],
    km: KernelMemory,
    where: MemoryElsewhere,
    this_collect_bytes: int = 0,
) -> Summary:
    """The summary of one report. `totals` and `processes` leave this collect's own sockets out."""
    memory, source = _memory(totals, km)
    of_total = memory / km.mem_total if memory is not None and km.mem_total else None
    of_avail = memory / km.mem_available if memory is not None and km.mem_available else None
    cause, reasons = _cause(memory, of_total, of_avail, km)
    holder = _top_holder(processes) if source == "skmem" else None
    step = _next_step(cause, memory, holder, km, where, source)
    return Summary(memory, of_total, of_avail, cause, holder, source, step, tuple(reasons), this_collect_bytes)
