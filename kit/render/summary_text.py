"""The answer in words: the summary's sentence, its next step and reasons, byte sizes, the rules' glossary.

kit.analyse.summary decides the answer as data (Summary: the cause, the
figures, the top holder, a Reason per rule that decided it, a NextStep); this
is the one place it becomes sentences, for the JSON `summary` (text,
next_step, reasons stay strings: docs/design.md), the text format and the
HTML first screen and glossary.
"""

from __future__ import annotations

from kit.analyse.memory_elsewhere import MemoryElsewhere
from kit.analyse.owners import WHY
from kit.analyse.summary import (
    LARGE_SUNRECLAIM,
    LOW_MEMORY,
    NOT_SOCKETS_OF_AVAILABLE,
    NOT_SOCKETS_OF_TOTAL,
    SOCKETS_OF_AVAILABLE,
    SOCKETS_OF_TOTAL,
    NextStep,
    Reason,
    Summary,
    TopHolder,
)
from kit.analyse.totals import HELD_NOW

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

_VERDICT = {
    "sockets": "likely the cause of the device's memory trouble",
    "not_sockets": "not the cause of the device's memory trouble",
    "unknown": "not enough to say whether socket buffers cause the device's memory trouble",
}
_NO_OWNER = {
    "kernel": "sockets no process holds (kernel-held)",
    "not_root": "sockets whose owner the non-root probe cannot see",
    "other_pid_namespace": "sockets of processes in another PID namespace",
}


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


def holder_text(holder: TopHolder) -> str:
    """The top holder: a process (with its pid), or why its sockets show no owner."""
    if holder.owner_missing is None:
        return f"{holder.name} (pid {holder.pid})" if holder.pid is not None else holder.name
    return _NO_OWNER.get(holder.owner_missing, "sockets without a visible owner")


def reason_text(r: Reason) -> str:
    """One rule that decided the cause (JSON `summary.reasons`)."""
    if r.kind == "pressure":
        return f"{' and '.join(r.protocols)} memory past its pressure threshold"
    if r.kind == "no_figure":
        return "no socket memory figure in the capture (no skmem, no sockstat)"
    if r.kind == "no_meminfo":
        return "no MemTotal/MemAvailable in the capture"
    if r.kind == "of_total":
        return f"{_pct(r.of_total)} of MemTotal (threshold {SOCKETS_OF_TOTAL:.0%})"
    if r.kind == "of_available":
        return f"{_pct(r.of_available)} of MemAvailable (threshold {SOCKETS_OF_AVAILABLE:.0%})"
    if r.kind == "below":
        return (
            f"{_pct(r.of_total)} of MemTotal (< {NOT_SOCKETS_OF_TOTAL:.0%}) and {_pct(r.of_available)} of "
            f"MemAvailable (< {NOT_SOCKETS_OF_AVAILABLE:.0%}), no protocol under pressure"
        )
    return f"{_pct(r.of_total)} of MemTotal, {_pct(r.of_available)} of MemAvailable: between the thresholds"


def _where_else(kind: str, where: MemoryElsewhere) -> str:
    if kind == "conntrack":
        return (
            f"the conntrack table is {_pct(where.conntrack_share)} full ({where.conntrack_count} of "
            f"{where.conntrack_max} entries): new connections are dropped when it fills; find what opens so many "
            "(conntrack -L, or /proc/net/nf_conntrack) or raise net.netfilter.nf_conntrack_max"
        )
    if kind == "sunreclaim" and where.sunreclaim is not None:
        groups = ", ".join(f"{g.label} {human(g.bytes)}" for g in where.slab_groups) or (
            "/proc/slabinfo not readable here" if where.slabinfo != "read" else "no network cache stands out"
        )
        return (
            f"the kernel holds {human(where.sunreclaim)} of unreclaimable slab "
            f"({_pct(where.share(where.sunreclaim))} of MemTotal; "
            f"network caches: {groups}): read /proc/slabinfo's largest caches (slabtop) as root"
        )
    if kind == "in_use" and where.in_use is not None:
        return (
            f"the memory in use ({human(where.in_use)}) is outside socket buffers and the kernel's slab: "
            "compare the processes' VmRSS (ps, top, /proc/PID/status) and tmpfs use (df /tmp)"
        )
    return "look at the processes' memory (ps, top) and /proc/meminfo"


def next_step_text(summary: Summary) -> str:
    """What to do next (JSON `summary.next_step`)."""
    step: NextStep = summary.next_step
    holder = summary.top_holder
    if step.kind == "find_owners" and holder is not None and holder.owner_missing is not None:
        return f"find the owners: {WHY.get(holder.owner_missing, '')}"
    if step.kind == "check_holder" and holder is not None:
        return (
            f"check {holder_text(holder)}: large r means it does not read its sockets, large t or w a peer that "
            "does not acknowledge; fix or restart it (see the findings)"
        )
    if step.kind == "not_short" and step.where is not None and step.where.mem_available is not None:
        return (
            f"the device is not short of memory now ({human(step.where.mem_available)} available); "
            "collect again while the trouble shows"
        )
    if step.kind == "elsewhere" and step.where is not None:
        return _where_else(step.elsewhere, step.where)
    if step.kind == "make_ss_report" and step.where is not None:
        return "make ss report socket memory (see the kernel diag section) and collect again; meanwhile " + (
            _where_else(step.elsewhere, step.where)
        )
    if step.kind == "per_socket_memory":
        return "make ss report per-socket memory (see the kernel diag section) and collect again to see who holds it"
    if step.kind == "no_meminfo":
        return "run kit collect on the device: this input has no /proc/meminfo to weigh the sockets against"
    if step.kind == "kit_diff":
        return "compare with a later capture (kit diff) to see whether socket memory keeps growing"
    return "find the sockets holding memory in the socket table; collect as root to see their owners"


def answer_text(summary: Summary) -> str:
    """The one-sentence answer (JSON `summary.text`, the report's first lines)."""
    memory = summary.socket_memory_bytes
    if memory is None:
        first = "The capture gives no socket memory figure (no skmem from ss, no sockstat)"
    else:
        what = "Socket buffers hold" if summary.source == "skmem" else "TCP and UDP buffers hold (sockstat)"
        shares = []
        if summary.share_of_memtotal is not None:
            shares.append(f"{_pct(summary.share_of_memtotal)} of MemTotal")
        if summary.share_of_memavailable is not None:
            shares.append(f"{_pct(summary.share_of_memavailable)} of MemAvailable")
        first = f"{what} {human(memory)} now" + (f" ({', '.join(shares)})" if shares else "")
        if summary.top_holder is not None:
            first += f", most of it {holder_text(summary.top_holder)} with {human(summary.top_holder.bytes)}"
    return f"{first}: {_VERDICT[summary.cause]}. Next: {next_step_text(summary)}."
