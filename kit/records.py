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
    joined: int = 0  # lines glued onto the line above (wrapped by a terminal or a mail client)


@dataclass(frozen=True, slots=True)
class SectionStatus:
    """What a section's command said besides its stdout: its stderr and how it ended.

    kit.report.parse_section hands it to the parsers that take a `status`
    argument (the ones whose section writes facts on stderr, or whose empty
    output means something only with the exit status); the analysis reads
    what those parsers made of it, never the stderr itself.
    """

    stderr: str = ""
    rc: int | None = 0  # None: the section never finished
    complete: bool = True  # the END marker arrived
    truncated: bool = False  # stdout cut at the section's max_bytes

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.complete


@dataclass(frozen=True, slots=True)
class ProcRef:
    """One owner of a socket, from ss's users:(("name",pid=N,fd=N)) field."""

    name: str
    pid: int | None
    fd: int | None


# The skmem fields, in the order ss prints them: ss key, the kernel's name
# (include/uapi/linux/sock_diag.h SK_MEMINFO_*, also the JSON key), what it
# means. The one copy: the parser's keys, the HTML glossary and the README's
# table come from (or follow) this.
SKMEM_GLOSSARY: tuple[tuple[str, str, str], ...] = (
    (
        "r",
        "rmem_alloc",
        "Bytes of received data waiting in the receive queue for the application to read, "
        "counted as the kernel allocated them (skb truesize: payload plus buffer overhead).",
    ),
    (
        "rb",
        "rcv_buf",
        "The receive buffer limit (SO_RCVBUF as doubled by the kernel, or as autotuned for TCP). "
        "When r reaches rb, new data is dropped (UDP) or the window closes (TCP).",
    ),
    (
        "t",
        "wmem_alloc",
        "Bytes of sent data the kernel still holds: handed to the device queue or, for TCP, "
        "sent and not yet acknowledged. Unix stream sockets charge unread data to the sender, so a reader "
        "that does not read shows up as its peer's t.",
    ),
    ("tb", "snd_buf", "The send buffer limit (SO_SNDBUF, doubled)."),
    ("f", "fwd_alloc", "Memory reserved for the socket in advance (forward allocation), not yet used by data."),
    ("w", "wmem_queued", "Bytes queued for sending: TCP's write queue, including data not yet sent."),
    ("o", "opt_mem", "Option memory: socket filters, multicast lists and other per-socket options."),
    ("bl", "back_log", "Bytes in the socket's backlog, received while the socket was locked by its owner."),
    (
        "d",
        "sock_drop",
        "Packets dropped on this socket (a count, not bytes): a full receive buffer, "
        "a filter, or memory pressure. Older ss does not print it.",
    ),
)
SKMEM_KEYS = {key: name for key, name, _meaning in SKMEM_GLOSSARY}
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
    # `self.__class__ = _cls` (a plain attribute store: the twin has no __setattr__ of its
    # own) costs ~0.1 us less a record than calling object.__setattr__ for it.
    namespace = {"_cls": cls, **defaults}
    exec(f"def __init__(self, {params}):\n{body}    self.__class__ = _cls\n", namespace)
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
