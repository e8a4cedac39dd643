"""The answer first: do socket buffers explain this device's memory trouble, who holds them, what next.

A pure function of the analysed figures; the report shows its sentence
before anything else (HTML first screen, the text format's first lines, JSON
`summary`). The thresholds below are the rules, and the report's glossary
states them in words (GLOSSARY): change one, change the other.

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
from dataclasses import dataclass

from kit.analyse.kernel_memory import KernelMemory
from kit.analyse.memory_elsewhere import MemoryElsewhere
from kit.analyse.owners import WHY
from kit.analyse.totals import HELD_NOW, Group, Totals

CAUSES = ("sockets", "not_sockets", "unknown")
SOCKETS_OF_TOTAL = 0.10
SOCKETS_OF_AVAILABLE = 0.50
NOT_SOCKETS_OF_TOTAL = 0.05
NOT_SOCKETS_OF_AVAILABLE = 0.20
LOW_MEMORY = 0.10  # MemAvailable below 10% of MemTotal: the device is short of memory
LARGE_SUNRECLAIM = 0.20  # SUnreclaim at least 20% of MemTotal: the kernel holds it

GLOSSARY = (
    f"Socket memory held now is {HELD_NOW} summed over the listed sockets with skmem, leaving out this "
    "collect's own sockets (its SSH session, ss's netlink socket); without skmem it is sockstat's TCP + UDP "
    "pages times the page size.",
    f"Socket buffers are called the likely cause when they hold at least {SOCKETS_OF_TOTAL:.0%} of MemTotal, "
    f"or at least {SOCKETS_OF_AVAILABLE:.0%} of MemAvailable, or TCP/UDP memory is past its tcp_mem/udp_mem "
    "pressure threshold.",
    f"They are called not the cause when they hold less than {NOT_SOCKETS_OF_TOTAL:.0%} of MemTotal and less "
    f"than {NOT_SOCKETS_OF_AVAILABLE:.0%} of MemAvailable with no protocol under pressure; in between, or "
    "without MemTotal/MemAvailable or any socket memory figure, the answer is unknown.",
    f"The device is called short of memory when MemAvailable is below {LOW_MEMORY:.0%} of MemTotal. When "
    "sockets are not the cause, the next step points at the largest of: a conntrack table near full, "
    f"unreclaimable kernel slab (SUnreclaim at least {LARGE_SUNRECLAIM:.0%} of MemTotal), or else process memory.",
    "Who holds most of it is the process whose sockets hold the most; sockets without a visible owner are "
    "grouped by why they have none; this collect's own session is never named.",
)


@dataclass(frozen=True, slots=True)
class TopHolder:
    name: str
    pid: int | None
    bytes: int
    sockets: int
    owner_missing: str | None  # why no owner is shown (kit.analyse.owners), None for a process

    def describe(self) -> str:
        if self.owner_missing is None:
            return f"{self.name} (pid {self.pid})" if self.pid is not None else self.name
        return {
            "kernel": "sockets no process holds (kernel-held)",
            "not_root": "sockets whose owner the non-root probe cannot see",
            "other_pid_namespace": "sockets of processes in another PID namespace",
        }.get(self.owner_missing, "sockets without a visible owner")


@dataclass(frozen=True, slots=True)
class Summary:
    text: str
    socket_memory_bytes: int | None
    share_of_memtotal: float | None  # a fraction: 0.0123 is 1.23%
    share_of_memavailable: float | None
    cause: str  # one of CAUSES
    top_holder: TopHolder | None
    source: str  # "skmem", "sockstat" or "none": where socket_memory_bytes comes from
    next_step: str
    reasons: tuple[str, ...]  # the rules that decided `cause`
    this_collect_bytes: int = 0  # left out of socket_memory_bytes


def human(n: int, byte_word: str = "bytes") -> str:
    """1536 -> '1.5 KiB'; exact bytes below 1 KiB ('512 bytes', or `byte_word` 'B': '512 B')."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{n} {byte_word}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} {byte_word}"  # pragma: no cover


def _pct(share: float | None) -> str:
    if share is None:
        return "?"
    pct = 100 * share
    return f"{pct:.2f}%" if pct < 10 else f"{pct:.0f}%"


def _memory(totals: Totals, km: KernelMemory) -> tuple[int | None, str]:
    if totals.with_skmem:
        return totals.memory, "skmem"
    pages = [p.pages for p in (km.tcp, km.udp) if p.pages is not None]
    if pages:
        return sum(pages) * km.page_size, "sockstat"
    return None, "none"


def _cause(
    memory: int | None, of_total: float | None, of_avail: float | None, km: KernelMemory
) -> tuple[str, list[str]]:
    pressure = [p.protocol for p in (km.tcp, km.udp) if p.level() in ("pressure", "max")]
    if pressure:
        return "sockets", [f"{' and '.join(pressure)} memory past its pressure threshold"]
    if memory is None:
        return "unknown", ["no socket memory figure in the capture (no skmem, no sockstat)"]
    if of_total is None or of_avail is None:
        return "unknown", ["no MemTotal/MemAvailable in the capture"]
    if of_total >= SOCKETS_OF_TOTAL:
        return "sockets", [f"{_pct(of_total)} of MemTotal (threshold {SOCKETS_OF_TOTAL:.0%})"]
    if of_avail >= SOCKETS_OF_AVAILABLE:
        return "sockets", [f"{_pct(of_avail)} of MemAvailable (threshold {SOCKETS_OF_AVAILABLE:.0%})"]
    if of_total < NOT_SOCKETS_OF_TOTAL and of_avail < NOT_SOCKETS_OF_AVAILABLE:
        return "not_sockets", [
            f"{_pct(of_total)} of MemTotal (< {NOT_SOCKETS_OF_TOTAL:.0%}) and {_pct(of_avail)} of MemAvailable "
            f"(< {NOT_SOCKETS_OF_AVAILABLE:.0%}), no protocol under pressure"
        ]
    return "unknown", [f"{_pct(of_total)} of MemTotal, {_pct(of_avail)} of MemAvailable: between the thresholds"]


def _top_holder(processes: Sequence[Group]) -> TopHolder | None:
    for g in processes:
        if g.this_collect:
            continue
        if g.totals.memory <= 0:
            return None  # sorted by memory: nobody else holds any
        return TopHolder(g.name, g.pid, g.totals.memory, g.totals.sockets, g.owner_missing)
    return None


def _where_else(where: MemoryElsewhere) -> str:
    """The next step when sockets are not it: the largest thing a router shows cheaply."""
    if where.conntrack_near_full:
        return (
            f"the conntrack table is {_pct(where.conntrack_share)} full ({where.conntrack_count} of "
            f"{where.conntrack_max} entries): new connections are dropped when it fills; find what opens so many "
            "(conntrack -L, or /proc/net/nf_conntrack) or raise net.netfilter.nf_conntrack_max"
        )
    unreclaim = where.share(where.sunreclaim)
    if unreclaim is not None and unreclaim >= LARGE_SUNRECLAIM and where.sunreclaim is not None:
        groups = ", ".join(f"{g.label} {human(g.bytes)}" for g in where.slab_groups) or (
            "/proc/slabinfo not readable here" if where.slabinfo != "read" else "no network cache stands out"
        )
        return (
            f"the kernel holds {human(where.sunreclaim)} of unreclaimable slab ({_pct(unreclaim)} of MemTotal; "
            f"network caches: {groups}): read /proc/slabinfo's largest caches (slabtop) as root"
        )
    if where.in_use is not None:
        return (
            f"the memory in use ({human(where.in_use)}) is outside socket buffers and the kernel's slab: "
            "compare the processes' VmRSS (ps, top, /proc/PID/status) and tmpfs use (df /tmp)"
        )
    return "look at the processes' memory (ps, top) and /proc/meminfo"


def _next_step(
    cause: str,
    memory: int | None,
    holder: TopHolder | None,
    km: KernelMemory,
    where: MemoryElsewhere,
    source: str,
) -> str:
    if cause == "sockets":
        if holder is None:
            return "find the sockets holding memory in the socket table; collect as root to see their owners"
        if holder.owner_missing is not None:
            return f"find the owners: {WHY.get(holder.owner_missing, '')}"
        return (
            f"check {holder.describe()}: large r means it does not read its sockets, large t or w a peer that "
            "does not acknowledge; fix or restart it (see the findings)"
        )
    if cause == "not_sockets":
        if where.mem_total and where.mem_available is not None and where.mem_available / where.mem_total >= LOW_MEMORY:
            return (
                f"the device is not short of memory now ({human(where.mem_available)} available); "
                "collect again while the trouble shows"
            )
        return _where_else(where)
    if memory is None:
        return "make ss report socket memory (see the kernel diag section) and collect again; meanwhile " + _where_else(
            where
        )
    if source == "sockstat":
        return "make ss report per-socket memory (see the kernel diag section) and collect again to see who holds it"
    if km.mem_total is None:
        return "run kit collect on the device: this input has no /proc/meminfo to weigh the sockets against"
    return "compare with a later capture (kit diff) to see whether socket memory keeps growing"


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

    if memory is None:
        first = "The capture gives no socket memory figure (no skmem from ss, no sockstat)"
    else:
        what = "Socket buffers hold" if source == "skmem" else "TCP and UDP buffers hold (sockstat)"
        shares = []
        if of_total is not None:
            shares.append(f"{_pct(of_total)} of MemTotal")
        if of_avail is not None:
            shares.append(f"{_pct(of_avail)} of MemAvailable")
        first = f"{what} {human(memory)} now" + (f" ({', '.join(shares)})" if shares else "")
        if holder is not None:
            first += f", most of it {holder.describe()} with {human(holder.bytes)}"
    verdict = {
        "sockets": "likely the cause of the device's memory trouble",
        "not_sockets": "not the cause of the device's memory trouble",
        "unknown": "not enough to say whether socket buffers cause the device's memory trouble",
    }[cause]
    text = f"{first}: {verdict}. Next: {step}."
    return Summary(text, memory, of_total, of_avail, cause, holder, source, step, tuple(reasons), this_collect_bytes)
