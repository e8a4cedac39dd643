"""What each finding rule found, as data: one small frozen dataclass per kind of finding.

kit.analyse.findings (and kit.analyse.trend) choose the severity and fill
these in; kit.render.finding_text is the one place they become a title,
evidence lines and a remedy (the JSON keeps those as strings, docs/design.md:
the JSON renderer words the data). Field values are counts, names, sockets
and limits, never sentences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.analyse.kdiag_facts import KernelDiag
from kit.frozen import frozen
from kit.records import ParseProblem, Socket

if TYPE_CHECKING:  # kit.analyse.trend makes Findings of these
    from kit.analyse.trend import Growth


@frozen
class PartialCapture:
    error: str | None  # the capture header's error, None: the probe just stopped
    unfinished: tuple[str, ...]  # sections without their END marker


@frozen
class DiagNotOk:
    diag: KernelDiag  # the verdict is not "ok"


@frozen
class SsMissing:
    ran: bool  # False: the capture has no ss section
    rc: int | None
    stderr_line: str | None  # ss's first stderr line (bounded), None: stderr was blank
    socket_source: str  # where the sockets came from instead ("" none)


@frozen
class NotRoot:
    user: str | None  # the id output


@frozen
class MemoryPressure:
    protocol: str  # TCP, UDP
    sysctl: str  # tcp_mem, udp_mem
    at_max: bool  # past the maximum, else past the pressure threshold
    pages: int | None
    limits: tuple[int, int, int]  # min, pressure, max (pages)
    page_size: int
    bytes: int | None  # pages * page_size


@frozen
class SocketTrouble:
    """Sockets with one kind of trouble. kind: "rcvq-near-rcvbuf", "socket-drops",
    "close-wait-data", "accept-queue-full" (the rule's code)."""

    kind: str
    count: int  # sockets with it
    owners: tuple[str, ...]  # the process names holding them, sorted
    shown: tuple[Socket, ...]  # the worst few (EVIDENCE_SOCKETS), worst first
    dropped: int = 0  # socket-drops: packets dropped on them in all
    listen_overflows: int | None = None  # accept-queue-full: TcpExt ListenOverflows since boot


@frozen
class ConntrackNearFull:
    share: float
    count: int | None
    max: int | None
    near_full: float  # the share from which it counts as near full


@frozen
class CounterHits:
    """Counters since boot above 0; `rule` is the code of one of kit.analyse.findings.COUNTER_RULES."""

    rule: str
    hits: tuple[tuple[str, str, int], ...]  # (group, name, value)


@frozen
class UnreadLines:
    unread: int  # lines no parser could read
    lines: int  # non-blank lines of the sections they are in
    share: float
    many: bool  # more than UNREAD_SHARE: a warning
    first: tuple[tuple[str, ParseProblem], ...]  # (section, problem), the first three


@frozen
class TcpPressureWithinHour:
    """At this rate TCP memory reaches tcp_mem pressure within an hour (kit.analyse.trend)."""

    pressure: int  # pages
    now: int  # pages


@frozen
class MemTotalShareWithinHour:
    """At this rate the series holds MEMTOTAL_SHARE of MemTotal within an hour (kit.analyse.trend)."""

    mem_total: int  # bytes


@frozen
class Growing:
    """kit trend: socket memory that grows (kit.analyse.trend.growth), of a process (name, pid) or of one socket."""

    growth: Growth
    values: tuple[int | None, ...]  # r+t+w per sample
    critical: tuple[TcpPressureWithinHour | MemTotalShareWithinHour, ...]  # empty: a warning
    samples: int = 0  # how many samples (process)
    name: str = ""  # the process (name, pid); "" for a socket
    pid: int | None = None
    socket: Socket | None = None  # the growing socket itself; None for a process
    own_sockets: tuple[Socket, ...] = ()  # a process: its growing sockets (the first few)
    socket_counts: tuple[int, int] | None = None  # a process: its sockets, first -> last, when they rose


@frozen
class MoreGrowing:
    """Growing sockets beyond those given a finding of their own."""

    count: int


FindingFacts = (
    PartialCapture
    | DiagNotOk
    | SsMissing
    | NotRoot
    | MemoryPressure
    | SocketTrouble
    | ConntrackNearFull
    | CounterHits
    | UnreadLines
    | Growing
    | MoreGrowing
)


@frozen
class Finding:
    """What is wrong, as data: kit.render.finding_text gives its title, evidence and remedy."""

    severity: str  # "critical", "warning", "info" (kit.records.SEVERITIES)
    code: str  # the rule that made it, stable: "rcvq-near-rcvbuf"
    facts: FindingFacts
