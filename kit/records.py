"""Typed records that flow down the pipeline: parse -> analyse -> render.

Field names match the JSON keys of the report contract (docs/design.md), so
rendering JSON is mechanical. `None` always means "the source did not say",
never zero. Parsers turn text into numbers; analysis never sees strings of
digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, ParamSpec, TypeVar, cast

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """A line a parser could not read: counted and shown, never fatal."""

    line: int  # 1-based line number in the parsed text
    text: str  # the line itself (bounded by the parser)
    reason: str


@dataclass(slots=True)
class Parsed(Generic[T]):
    """What every parser returns: the records it read and the lines it could not."""

    records: list[T] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProcRef:
    """One owner of a socket, from ss's users:(("name",pid=N,fd=N)) field."""

    name: str
    pid: int | None
    fd: int | None


# The skmem fields, in the order ss prints them, with the kernel's names
# (include/uapi/linux/sock_diag.h SK_MEMINFO_*). ss key -> field:
#   r  rmem_alloc   bytes in the receive queue (skb truesize, not payload)
#   rb rcv_buf      receive buffer limit (SO_RCVBUF, doubled by the kernel)
#   t  wmem_alloc   bytes of sent data not yet freed (in flight, tx queue)
#   tb snd_buf      send buffer limit (SO_SNDBUF, doubled)
#   f  fwd_alloc    memory reserved for the socket but not yet used
#   w  wmem_queued  bytes queued for sending (TCP write queue, incl. unsent)
#   o  opt_mem      option memory (socket filters, multicast lists)
#   bl back_log     bytes in the backlog while the socket was locked
#   d  sock_drop    packets dropped (a count, not bytes)
SKMEM_KEYS = {
    "r": "rmem_alloc",
    "rb": "rcv_buf",
    "t": "wmem_alloc",
    "tb": "snd_buf",
    "f": "fwd_alloc",
    "w": "wmem_queued",
    "o": "opt_mem",
    "bl": "back_log",
    "d": "sock_drop",
}
# Older ss (iproute2 < 3.x era) printed mem:(r,w,f,t) from INET_DIAG_MEMINFO:
# r = rmem_alloc, w = wmem_queued, f = fwd_alloc, t = wmem_alloc.
OLD_MEM_KEYS = {"r": "rmem_alloc", "w": "wmem_queued", "f": "fwd_alloc", "t": "wmem_alloc"}


@dataclass(frozen=True, slots=True)
class Skmem:
    rmem_alloc: int | None = None
    rcv_buf: int | None = None
    wmem_alloc: int | None = None
    snd_buf: int | None = None
    fwd_alloc: int | None = None
    wmem_queued: int | None = None
    opt_mem: int | None = None
    back_log: int | None = None
    sock_drop: int | None = None


@dataclass(frozen=True, slots=True)
class Socket:
    """One socket as ss (or /proc, or netstat) showed it."""

    netid: str | None  # tcp, udp, u_str, nl, p_raw ... None when the source had no Netid column
    state: str | None  # ESTAB, LISTEN, UNCONN, CLOSE-WAIT ...
    recv_q: int | None
    send_q: int | None
    local: str
    peer: str
    processes: tuple[ProcRef, ...] = ()
    skmem: Skmem | None = None
    line: int = 0  # where it started in the source text (for evidence)
    # The socket's inode when the source printed it (/proc/net/* tables,
    # netstat's unix I-Node, ss's unix "port" or -e ino:): joins a socket to
    # its owners found in /proc/PID/fd when nothing else names them.
    inode: int | None = None
    # Packets dropped, from the drops column of /proc/net/udp, udp6, raw and
    # raw6 (the kernel's sk_drops, which ss prints as skmem d): the one
    # per-socket sign of trouble there is without ss. None elsewhere.
    drops: int | None = None
    # True for the sockets carrying this collect itself (its SSH session, the
    # probe's own ss query): kit.analyse.this_collect marks them; they stay
    # out of top holders and findings.
    this_collect: bool = False


@dataclass(frozen=True, slots=True)
class KconfigOption:
    """One CONFIG_ line: value is 'y', 'm', a string/number, or None for '# ... is not set'."""

    name: str
    value: str | None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Sockstat:
    """One protocol line of /proc/net/sockstat{,6}: 'TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 3'.

    `counters` keeps every key as printed (inuse, orphan, tw, alloc, mem);
    'mem' is in pages, for TCP, UDP and FRAG it is bytes for FRAG only.
    """

    protocol: str  # TCP, UDP, UDPLITE, RAW, FRAG, TCP6, UDP6, sockets
    counters: dict[str, int]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str  # "critical", "warning", "info"
    title: str  # one line
    evidence: tuple[str, ...]  # the lines it rests on
    remedy: str  # what to do
    code: str = ""  # stable identifier, e.g. "rcvq-near-rcvbuf"


SEVERITIES = ("critical", "warning", "info")


# --- fast construction, for parsers that build records by the hundred thousand ---
#
# A frozen dataclass's generated __init__ sets every field through
# object.__setattr__ (its own __setattr__ refuses), which costs ~0.9 us for a
# Socket and ~0.3 us for a ProcRef in CPython 3.11. `fast_constructor(cls)`
# returns a callable with the same parameters that builds the same object in
# about a third of the time: a twin class with the same __slots__ and a plain
# __init__ (one STORE_ATTR per field), whose last step turns the new object
# into a `cls` (object.__class__ may be assigned between classes with the same
# slots and layout). The result is an ordinary `cls` instance: frozen, equal
# and hashing as any other; `type(x) is cls`. If the interpreter refuses the
# class assignment, the callable is `cls` itself.


def fast_constructor(cls: Callable[P, T]) -> Callable[P, T]:
    """A faster stand-in for `cls(...)`, for a frozen slots dataclass whose fields have plain defaults."""
    from dataclasses import MISSING, fields

    assert isinstance(cls, type)
    slots = tuple(getattr(cls, "__slots__", ()))
    names = [f.name for f in fields(cls)]
    if tuple(names) != slots or any(f.default_factory is not MISSING for f in fields(cls)):
        return cls
    defaults: dict[str, object] = {f"_d_{f.name}": f.default for f in fields(cls) if f.default is not MISSING}
    params = ", ".join(n if f"_d_{n}" not in defaults else f"{n}=_d_{n}" for n in names)
    body = "".join(f"    self.{n} = {n}\n" for n in names)
    namespace = {"_set": object.__setattr__, "_cls": cls, **defaults}
    exec(f"def __init__(self, {params}):\n{body}    _set(self, '__class__', _cls)\n", namespace)
    init = cast(Callable[..., None], namespace["__init__"])
    init.__qualname__ = f"_{cls.__name__}Builder.__init__"
    twin = type(f"_{cls.__name__}Builder", (), {"__slots__": slots, "__init__": init, "__module__": cls.__module__})
    try:
        probe = twin(*[defaults.get(f"_d_{n}") for n in names])
    except TypeError:
        return cls
    return cast(Callable[P, T], twin) if type(probe) is cls else cls


new_socket = fast_constructor(Socket)
new_procref = fast_constructor(ProcRef)
new_skmem = fast_constructor(Skmem)
