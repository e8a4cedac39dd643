"""The shapes of `kit diff` (schema kit.diff/1): what kit.analyse.diff makes and kit.render.diff reads.

Frozen records for one capture's side, a change of one figure, and the
matched processes, sockets, findings, kernel diag and counters; the rules
that fill them are in kit.analyse.diff (docs/diff.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.analyse.finding_facts import Finding
from kit.analyse.totals import Group
from kit.records import SKMEM_KEYS, Socket

SCHEMA = "kit.diff/1"
TOTAL_FIELDS = (
    "sockets",
    "with_skmem",
    "rmem_alloc",
    "wmem_alloc",
    "wmem_queued",
    "fwd_alloc",
    "sock_drop",
    "recv_q",
    "send_q",
)
SKMEM_FIELDS = tuple(SKMEM_KEYS.values())


@dataclass(frozen=True, slots=True)
class Side:
    """One of the two captures: where it came from and when."""

    source: str | None
    hostname: str | None
    captured: str | None  # ISO 8601, the probe's start; None for a paste
    target: str | None = None
    host_key: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    old: int | None
    new: int | None

    @property
    def change(self) -> int:
        return (self.new or 0) - (self.old or 0)


@dataclass(frozen=True, slots=True)
class ProcMem:
    """A process's sockets summed: r (rmem_alloc), t (wmem_alloc), w (wmem_queued), socket count."""

    r: int = 0
    t: int = 0
    w: int = 0
    sockets: int = 0

    @classmethod
    def of(cls, group: Group | None) -> ProcMem:
        if group is None:
            return cls()
        t = group.totals
        return cls(t.rmem_alloc, t.wmem_alloc, t.wmem_queued, t.sockets)

    def minus(self, other: ProcMem) -> ProcMem:
        return ProcMem(self.r - other.r, self.t - other.t, self.w - other.w, self.sockets - other.sockets)

    @property
    def memory(self) -> int:
        return self.r + self.t + self.w


@dataclass(frozen=True, slots=True)
class ProcessChange:
    name: str
    pid: int | None  # the new side's pid (the old one's for a process that is gone)
    old_pid: int | None
    status: str  # "same" (name and pid), "restarted" (matched by name, new pid), "new", "gone"
    old: ProcMem
    new: ProcMem

    @property
    def change(self) -> ProcMem:
        return self.new.minus(self.old)


@dataclass(frozen=True, slots=True)
class SocketChange:
    socket: Socket  # as NEW shows it
    old: Socket
    change: dict[str, int]  # skmem field (and recv_q/send_q) -> new - old, only those that changed

    @property
    def state_changed(self) -> bool:
        return self.old.state != self.socket.state


@dataclass(slots=True)
class SocketDiff:
    new: list[Socket] = field(default_factory=list)
    gone: list[Socket] = field(default_factory=list)
    changed: list[SocketChange] = field(default_factory=list)
    unchanged: int = 0
    left_out: int = 0  # this_collect sockets, on both sides


@dataclass(frozen=True, slots=True)
class FindingDiff:
    new: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    still: tuple[Finding, ...]  # on both sides (as NEW words it)


@dataclass(frozen=True, slots=True)
class DiagDiff:
    old: str
    new: str
    options: tuple[tuple[str, str | None, str | None], ...]  # (option, old state, new state) that differ

    @property
    def changed(self) -> bool:
        return self.old != self.new or bool(self.options)


@dataclass(frozen=True, slots=True)
class CounterChange:
    group: str
    name: str
    meaning: str
    old: int | None
    new: int | None

    @property
    def change(self) -> int | None:
        return None if self.old is None or self.new is None else self.new - self.old


@dataclass(frozen=True, slots=True)
class Caveat:
    """What limits a comparison (kit diff, kit trend), as data; kit.render.diff.caveat_text words it.

    kind: "other_devices" (sides: OLD's and NEW's), "backwards" (NEW captured before OLD),
    "partial", "no_skmem", "no_sockets" (side: "OLD" or "NEW"), "sources" (names: OLD's and NEW's
    socket source), "counters_down" (names: the first few counters), and for kit trend
    "no_times", "few_samples" (counts: the samples, the rule's minimum), "samples_without_skmem".
    """

    kind: str
    side: str = ""
    names: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    sides: tuple[Side, ...] = ()


@dataclass(slots=True)
class Diff:
    old: Side
    new: Side
    totals: dict[str, Change]
    processes: list[ProcessChange]
    sockets: SocketDiff
    findings: FindingDiff
    kernel_diag: DiagDiff
    counters: list[CounterChange]
    kernel_memory: dict[str, Change]  # "tcp_pages", "udp_pages" (sockstat mem), "mem_available"
    seconds: float | None  # NEW's capture time minus OLD's, when both are known
    warnings: list[Caveat]
    same_device: bool | None  # None: cannot tell (a paste without a host name)
    schema: str = SCHEMA

    @property
    def memory_change(self) -> int:
        """r + t + w of all sockets, NEW minus OLD (the headline number)."""
        return sum(self.totals[k].change for k in ("rmem_alloc", "wmem_alloc", "wmem_queued"))
