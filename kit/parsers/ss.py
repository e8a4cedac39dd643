"""`ss` (iproute2) socket listings, above all `ss -napm`.

Source: iproute2's misc/ss.c. Read on real output of iproute2 6.1.0 (Debian 12)
and of ss 3.0.0, 4.4.0, 4.9.0 and 5.10.0 built from their tags, all run on the
same crafted sockets (tests/fixtures/debian-12/, see its NOTES.md), and on
the ss.c of those versions.

    parse(text) -> Parsed[Socket]

Why one module of ~1000 lines: a fast path (one precompiled pattern per
column layout, for the plain records of 100k-socket captures) and the general
line reader (wrapped lines, old dialects, damage) must give the same records;
they share the keyword table and the field readers, and tests compare the two
on every fixture. Split apart they would drift.

Layout of `ss -napm` (iproute2 6.1.0, tests/fixtures/debian-12/ss-napm.out;
tabs shown as `\\t`, trailing padding cut)::

    Netid State      Recv-Q Send-Q   Local Address:Port  Peer Address:Port Process
    nl    UNCONN     4352   0                4:9542              *     \\t skmem:(r4352,rb2097152,t0,tb65536,f0,w0,o0,bl0,d0)
    u_str ESTAB      777    0                    * 23740         * 23739 users:(("kit-craft",pid=9490,fd=27)) skmem:(r0,rb212992,...)
    tcp   LISTEN     0      16           127.0.0.1:5001      0.0.0.0:*     users:(("kit-craft",pid=9537,fd=3),("kit-craft",pid=9490,fd=3))
    \\t skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d0)
    tcp   TIME-WAIT  0      0            127.0.0.1:59368   127.0.0.1:5001
    \\t

How it is read:

- The header decides, once, whether there is a Netid column (absent when one
  protocol is listed: `ss -t`; in 3.0 even with -a, which lists TCP only) and
  a State column (absent when one state is listed: `ss -t state listening`;
  `-l` asks for LISTEN and UNCONN in 6.x, so State stays). A header is a line
  whose first word is `Netid`, `State` or `Recv-Q` and that has `Recv-Q` and
  `Send-Q`; its text varies (`Peer Address:PortProcess` glued in 6.x, no
  `Process` before 5.x), only `Netid` and `State` before `Recv-Q` matter. A
  narrow terminal pushes its tail (`Port`, `Process`) onto lines of their
  own; those are skipped. A header anywhere re-decides the layout (listings
  pasted one after the other). Without a header the layout is guessed from
  the first row (a known Netid first, a state name next, or numbers).
- A row is the fixed columns: [Netid] [State] Recv-Q Send-Q Local Peer. Inet
  addresses are one token each (`127.0.0.1:5001`, `[::1]:5003`,
  `[fe80::1]%kitd0:5005`, `[::ffff:127.0.0.1]:5003`, `*:5003`, `*:*`, and
  `:::22` / `::ffff:10.0.0.1:22` without brackets from ss before 4.x); unix
  rows print address and port as two tokens (`/tmp/x.sock 23741`,
  `@abstract 23744`, `* 23740`: path or `*`, then the inode; the peer is `*`
  and the peer's inode), kept as `"path inode"` with one space. Netlink
  prints `protocol:portid` and `*`; packet `*:*` (or `proto:iface`) and `*`.
- Everything after the fixed columns, and every continuation line, is read
  by one keyword table (`_TAIL`, the PCP ss_parse.c way): `users:(...)`,
  `skmem:(...)` and the old `mem:(...)` are read; every other keyword (the
  -e, -o, -i extras: `uid:`, `ino:`, `sk:`, `cgroup:`, `timer:(...)`, `ts`,
  `sack`, `cubic`, `rtt:`, `send 1bps` ...) is skipped, known or not, since
  each ss release adds some.
- tcp/udp/raw rows put `\\n\\t skmem:(...)` (and -i info) on a continuation
  line; unix, netlink and packet rows print skmem on the row itself, after
  users. With `-O` everything is on the row. A continuation line is one
  that starts with blank space, or (tabs lost in a paste) whose first word is
  a tail keyword; it belongs to the socket above it. TIME-WAIT and
  SYN-RECV rows get an empty continuation line (a tab and padding).
- `users:(("name",pid=N,fd=N),...)` (ss >= 3.14: with `pid=`/`fd=`, plus
  `tid=` with -T and `proc_ctx=`/`sock_ctx=` with -Z), and the older
  `users:(("name",N,N),...)` of iproute2 up to 3.12, are read by a small
  quote-aware reader, never evaluated. ss prints the name raw: it may hold
  spaces, commas, quotes, `(` and UTF-8 (`("a b,"c" (d",pid=9538,fd=3)`);
  ss itself reads the name from /proc/PID/stat with `%[^)]`, so a name with
  `)` arrives cut there (`cut)here` is printed as `cut`). A name ends at the
  first `",` that is followed by the pid and fd fields.
- skmem:(r,rb,t,tb,f,w,o[,bl][,d]) -> Skmem (kit.records.SKMEM_KEYS; skmem
  since iproute2 3.4, `bl` since 3.6, `d` since 4.7, each printed only when
  the kernel sends it). Keys are read by their
  letters, so two-letter keys never collide with one-letter ones, and a key
  ss did not print stays None. The old `mem:(r,w,f,t)` (INET_DIAG_MEMINFO:
  all ss before 3.4, and later ones when the kernel gives no SKMEMINFO) maps
  through OLD_MEM_KEYS (r rmem_alloc, w wmem_queued, f fwd_alloc, t wmem_alloc).
- Inodes: a unix row's "port" is its inode, and -e prints `ino:N`; both go to
  Socket.inode, which joins sockets to /proc/PID/fd owners.
- Pasted and wrapped text: CRLF and tabs turned to spaces change nothing
  (columns are split on any blank). A terminal or a mail client may break a
  row anywhere: a line that ends inside a field (`skmem:(r0,...,o0,b`) or
  before the row is whole (`0.0.0.0:` then `*` below, a unix row without its
  peer inode) takes the next line glued on, with no blank or with one,
  whichever reads cleanly; a row line may also take a next line carrying a
  field (`356 users:((...`). A line that starts like a row is never glued:
  it starts a socket, or is a problem and closes the one above.
- Recv-Q / Send-Q are kept as printed; what they mean depends on the socket
  (see `QUEUE_MEANING` and `queue_meaning()`): the accept queue and its limit
  on a TCP LISTEN row, unread bytes (plus 1 for the FIN) on CLOSE-WAIT,
  allocated memory (skb truesize) on UDP, raw and netlink sockets.

Speed: one precompiled pattern per layout reads a whole plain record (row
and `\t skmem` line) at once; everything else goes through the general
line reader, which gives the same result (fuzz-tested). docs/performance.md.

Problems (ParseProblem, never an exception): every non-blank line that is
not a header, a row or a continuation, with its 1-based line number, the
line cut at 300 characters and the reason. That includes lines before the
header (a shell prompt, the command line) and ss's stderr mixed into a paste
(`RTNETLINK answers: Invalid argument`, printed by ss 6.x on kernels without
some diag module). A row whose users or skmem field cannot be read still
gives its socket, plus a problem naming the field.
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kit.frozen import frozen
from kit.numbers import is_digits
from kit.parsers.command_stderr import first_line
from kit.records import (
    OLD_MEM_KEYS,
    SKMEM_KEYS,
    Parsed,
    ParseProblem,
    ProcRef,
    SectionStatus,
    Skmem,
    Socket,
    new_procref,
    new_socket,
)
from kit.sections import PID_MARKER

MAX_LINE = 300  # characters of a bad line kept in a ParseProblem

# Netids ss prints (misc/ss.c: proto_name, unix_netid_name, sock_state_print...).
NETIDS = frozenset(
    {
        "tcp",
        "udp",
        "raw",
        "mptcp",
        "sctp",
        "dccp",
        "icmp6",
        "???",
        "u_str",
        "u_dgr",
        "u_seq",
        "p_raw",
        "p_dgr",
        "nl",
        "ti_st",
        "ti_dg",
        "ti_rd",
        "ti_sq",
        "v_str",
        "v_dgr",
        "xdp",
    }
)
UNIX_NETIDS = frozenset({"u_str", "u_dgr", "u_seq"})
# sstate_name[] and sctp_sstate_name[] of misc/ss.c.
STATES = frozenset(
    {
        "UNKNOWN",
        "ESTAB",
        "SYN-SENT",
        "SYN-RECV",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "TIME-WAIT",
        "UNCONN",
        "CLOSE-WAIT",
        "LAST-ACK",
        "LISTEN",
        "CLOSING",
        "CLOSED",
        "COOKIE_WAIT",
        "COOKIE_ECHOED",
        "SHUTDOWN_PENDING",
        "SHUTDOWN_SENT",
        "SHUTDOWN_RECEIVED",
        "ACK_SENT",
    }
)
_KNOWN_FIRST = NETIDS | STATES
_NETID_LIKE = re.compile(r"[a-z][a-z0-9_]{0,7}\Z")  # an unknown future netid
_STATE_LIKE = re.compile(r"[A-Z][A-Z0-9_-]{1,19}\Z")  # an unknown future state

# What Recv-Q / Send-Q hold, per kind of socket (kernel: inet_diag.c
# inet_sk_diag_fill / tcp_diag_get_info, udp_diag.c, unix_diag.c, netlink_diag.c).
QUEUE_MEANING: dict[tuple[str | None, str | None], tuple[str, str]] = {
    ("tcp", "LISTEN"): ("accept queue (connections not yet accepted)", "accept queue limit (listen backlog)"),
    ("tcp", "CLOSE-WAIT"): (
        "bytes not yet read by the process, plus 1 for the peer's FIN",
        "bytes not yet acknowledged by the peer",
    ),
    ("tcp", None): ("bytes not yet read by the process", "bytes not yet acknowledged by the peer"),
    ("udp", None): (
        "memory allocated to received datagrams (rmem_alloc, skb truesize)",
        "memory allocated to datagrams being sent (wmem_alloc)",
    ),
    ("raw", None): (
        "memory allocated to received packets (rmem_alloc)",
        "memory allocated to packets being sent (wmem_alloc)",
    ),
    ("nl", None): (
        "memory allocated to received messages (rmem_alloc)",
        "memory allocated to messages being sent (wmem_alloc)",
    ),
    ("p_raw", None): ("memory allocated to received packets (rmem_alloc)", "memory being sent (wmem_alloc)"),
    ("p_dgr", None): ("memory allocated to received packets (rmem_alloc)", "memory being sent (wmem_alloc)"),
    ("u_str", "LISTEN"): ("connections waiting to be accepted", "accept queue limit (listen backlog)"),
    ("u_seq", "LISTEN"): ("connections waiting to be accepted", "accept queue limit (listen backlog)"),
    ("u_str", None): ("bytes waiting to be read", "memory of data sent and not yet read by the peer (wmem_alloc)"),
    ("u_seq", None): ("bytes waiting to be read", "memory of data sent and not yet read by the peer (wmem_alloc)"),
    ("u_dgr", None): ("size of the first waiting datagram", "memory of datagrams sent and not yet read (wmem_alloc)"),
}


def queue_meaning(netid: str | None, state: str | None) -> tuple[str, str] | None:
    """What this socket's Recv-Q and Send-Q count, as (recv_q, send_q); None if unknown.

    Linux >= 3.x semantics; mptcp, sctp and the rest follow tcp.
    """
    if netid in ("mptcp", "sctp", "dccp"):
        netid = "tcp"
    return QUEUE_MEANING.get((netid, state)) or QUEUE_MEANING.get((netid, None))


# --- the tail: everything after the fixed columns ------------------------------

# ("name",pid=N,fd=N) | ("name",pid=N,tid=N,fd=N) | ("name",pid=N,proc_ctx=C,fd=N[,sock_ctx=C])
# | ("name",N,N) (iproute2 3.x). The lazy name ends at the first `",` that the
# rest of an entry follows, so names with quotes and commas are read whole.
_USER = re.compile(
    r'\("(.*?)",(?:pid=)?([0-9]+),(?:tid=[0-9]+,)?(?:proc_ctx=.*?,)?(?:fd=)?([0-9]+)(?:,sock_ctx=[^)]*)?\)'
)
_NONSPACE = re.compile(r"\S+")


# Reasons. SHORT and CUT mean the text stops inside a row or a field: the next
# line may be its wrapped rest (a terminal or a mail client broke it).
SHORT = "too few columns for an ss row"
USERS_CUT = "users:(...) field cut off"
SKMEM_CUT = "skmem:(...) field cut off"
MEM_CUT = "mem:(...) field cut off"
CUT = frozenset({USERS_CUT, SKMEM_CUT, MEM_CUT})
# The start of a field that a wrap cut before its "(": `sk` of skmem:(, `user` of users:((.
_CUT_STARTS = {
    **{"skmem:("[:i]: SKMEM_CUT for i in range(1, 7)},
    **{"users:(("[:i]: USERS_CUT for i in range(1, 8)},
    **{"mem:("[:i]: MEM_CUT for i in range(1, 5)},
}


def _read_users(s: str, pos: int, procs: list[ProcRef]) -> tuple[int, str | None]:
    """Read the entries of users:( ... ) starting at `pos` (just after `users:(`).

    Returns (position after the field, reason or None).
    """
    n = len(s)
    while True:
        m = _USER.match(s, pos)
        if m is None:
            if "))" not in s[pos:] and ")," not in s[pos:]:
                return n, USERS_CUT
            return _skip_field(s, pos), "unreadable users:(...) entry"
        procs.append(new_procref(sys.intern(m.group(1)), int(m.group(2)), int(m.group(3))))
        pos = m.end()
        if pos < n and s[pos] == ",":
            pos += 1
            continue
        if pos < n and s[pos] == ")":
            return pos + 1, None
        if s[pos:].strip() == "":
            return n, USERS_CUT
        return pos, "users:(...) field not closed"


def _skip_field(s: str, pos: int) -> int:
    """After an unreadable users field: resume at the next memory field or the next blank."""
    for mark in (" skmem:(", " mem:(", "\t"):
        i = s.find(mark, pos)
        if i >= 0:
            return i
    return len(s)


def _read_mem(inner: str, keys: Mapping[str, str]) -> Skmem | None:
    kw: dict[str, int] = {}
    for item in inner.split(","):
        i = 0
        n = len(item)
        while i < n and item[i].isalpha():
            i += 1
        key, value = item[:i], item[i:]
        if not (value.isdigit() and value.isascii()):
            return None
        field = keys.get(key)
        if field is not None:
            kw[field] = int(value)
        # an unknown key from a newer ss: skipped
    if not kw:
        return None
    return Skmem(**kw)


def _tail_skmem(tok: str, acc: list[Any], cache: dict[str, Skmem]) -> str | None:
    mem = cache.get(tok)
    if mem is None:
        if not tok.endswith(")"):
            return SKMEM_CUT
        mem = _read_mem(tok[7:-1], SKMEM_KEYS)
        if mem is None:
            return "unreadable skmem:(...) field"
        cache[tok] = mem
    acc[_SKMEM] = mem
    return None


def _tail_mem(tok: str, acc: list[Any], cache: dict[str, Skmem]) -> str | None:
    if not tok.endswith(")"):
        return MEM_CUT
    mem = _read_mem(tok[5:-1], OLD_MEM_KEYS)
    if mem is None:
        return "unreadable mem:(...) field"
    if acc[_SKMEM] is None:  # skmem, when both are printed, is the fuller one
        acc[_SKMEM] = mem
    return None


def _tail_ino(tok: str, acc: list[Any], cache: dict[str, Skmem]) -> str | None:
    value = tok[4:]
    if not _is_num(value):
        return "unreadable ino: field"
    acc[_INODE] = int(value)
    return None


# One row per keyword after the fixed columns (the key is the text before ':'
# or '(', or the whole word). None: known, deliberately skipped. Words not in
# the table are skipped too (newer ss versions add some); the table says what
# was seen, and where a new field would go.
_TAIL = {
    "skmem": _tail_skmem,
    "mem": _tail_mem,
    # -e
    "uid": None,
    "ino": _tail_ino,
    "sk": None,
    "cgroup": None,
    "<->": None,
    "v6only": None,
    # -o
    "timer": None,
    # -i (tcp_show_info)
    "ts": None,
    "sack": None,
    "ecn": None,
    "ecnseen": None,
    "fastopen": None,
    "cubic": None,
    "reno": None,
    "bbr": None,
    "wscale": None,
    "rto": None,
    "backoff": None,
    "rtt": None,
    "ato": None,
    "mss": None,
    "pmtu": None,
    "rcvmss": None,
    "advmss": None,
    "cwnd": None,
    "ssthresh": None,
    "bytes_sent": None,
    "bytes_retrans": None,
    "bytes_acked": None,
    "bytes_received": None,
    "segs_out": None,
    "segs_in": None,
    "data_segs_out": None,
    "data_segs_in": None,
    "send": None,
    "lastsnd": None,
    "lastrcv": None,
    "lastack": None,
    "pacing_rate": None,
    "delivery_rate": None,
    "delivered": None,
    "app_limited": None,
    "busy": None,
    "rwnd_limited": None,
    "sndbuf_limited": None,
    "unacked": None,
    "retrans": None,
    "lost": None,
    "sacked": None,
    "reordering": None,
    "rcv_rtt": None,
    "rcv_space": None,
    "rcv_ssthresh": None,
    "minrtt": None,
    "snd_wnd": None,
    "notsent": None,
    "dsack_dups": None,
    "reord_seen": None,
    "qack": None,
    "bidir": None,
}
_PROCS = 6  # indexes in the pending-row list (see _read_row)
_SKMEM = 7
_INODE = 8


def _read_tail(s: str, pos: int, acc: list[Any], cache: dict[str, Skmem]) -> str | None:
    """Read keywords from s[pos:] into acc; return the first problem met, or None."""
    problem = None
    while True:
        m = _NONSPACE.search(s, pos)
        if m is None:
            return problem
        start = m.start()
        if s.startswith("users:(", start):
            procs = acc[_PROCS]
            if type(procs) is tuple:  # from the fast path
                procs = acc[_PROCS] = list(procs)
            pos, why = _read_users(s, start + 7, procs)
        else:
            pos = m.end()
            tok = m.group()
            cut = len(tok)
            for ch in ":(":
                i = tok.find(ch)
                if 0 < i < cut:
                    cut = i
            key = tok[:cut]
            handler = _TAIL.get(key)
            if handler is not None:
                why = handler(tok, acc, cache)
            elif key[0].isupper() and key not in _TAIL:
                # ss prints no capitalised word after the columns: this is
                # other text (stderr, a prompt) glued or pasted in.
                why = "text that is not ss output after the columns"
            elif _NONSPACE.search(s, pos) is None:
                # The last word of the line: the start of a field that a wrap
                # cut (`... * 1325 sk` / `mem:(r0,...)`), so the next line is
                # glued on; any other word ss does not know is left alone.
                why = _CUT_STARTS.get(tok)
            else:
                why = None
        if why and problem is None:
            problem = why


# --- the fixed columns -----------------------------------------------------------


def _is_num(tok: str) -> bool:
    return tok.isdigit() and tok.isascii()


def _layout_from_header(tokens: list[str]) -> tuple[bool, bool]:
    i = tokens.index("Recv-Q")
    before = tokens[:i]
    return "Netid" in before, "State" in before


def _guess_layout(tokens: list[str]) -> tuple[bool, bool] | None:
    """Columns of a headerless listing, from its first row."""
    if not tokens:
        return None
    first = tokens[0]
    if first in NETIDS:
        return True, len(tokens) > 1 and tokens[1] in STATES
    if first in STATES:
        return False, True
    if _is_num(first):
        return False, False
    return None


# An inet, netlink or packet address ends in ":port" (digits, *, a service
# name, an interface) or is a bare "*" (netlink and packet peers).
_ADDRESS = re.compile(r"(?:.*:)?[\w*.+-]+\Z")


# What the first word of a row is, per layout: a Netid, else a state, else
# Recv-Q. A line whose first word is this begins a new socket, even when the
# rest cannot be read; the fast path's lookahead uses the same patterns.
_FIRST_COLUMN = {
    True: r"[a-z][a-z0-9_]{0,7}|\?\?\?",  # has a Netid column
    False: r"[A-Z][A-Z0-9_-]{1,19}",  # State first
    None: r"[0-9]+",  # neither
}
_KNOWN_COLUMN = {
    True: "|".join(re.escape(n) for n in sorted(NETIDS, key=len, reverse=True)),
    False: "|".join(re.escape(n) for n in sorted(STATES, key=len, reverse=True)),
    None: r"[0-9]+",
}
_FIRST_WORD = {k: re.compile(f"(?:{v})\\Z") for k, v in _FIRST_COLUMN.items()}


def _first_column(layout: tuple[bool, bool]) -> bool | None:
    return True if layout[0] else False if layout[1] else None


def _row_start(tokens: list[str], layout: tuple[bool, bool]) -> bool:
    """Does a line with these words begin a row of this layout (maybe a bad or cut one)?"""
    return bool(tokens) and _FIRST_WORD[_first_column(layout)].match(tokens[0]) is not None


def _read_row(line: str, has_netid: bool, has_state: bool) -> list[Any] | str:
    """The fixed columns of a row -> pending list, or the reason it is not a row."""
    base = has_netid + has_state
    nfix = base + 4
    parts = line.split(None, nfix)
    if len(parts) < nfix:
        return SHORT
    netid = parts[0] if has_netid else None
    if has_netid and netid not in NETIDS and not _NETID_LIKE.match(parts[0]):
        return "no Netid in the first column"
    state = parts[base - 1] if has_state else None
    if has_state and state not in STATES and not _STATE_LIKE.match(parts[base - 1]):
        return "no socket state in the State column"
    rq, sq = parts[base], parts[base + 1]
    if not (_is_num(rq) and _is_num(sq)):
        return "Recv-Q / Send-Q are not numbers"
    local, peer = parts[base + 2], parts[base + 3]
    if peer.startswith(("users:(", "skmem:(", "mem:(")):
        return SHORT
    rest = parts[nfix] if len(parts) > nfix else ""
    if rest == "" and (peer[-1] == ":" or local[-1] == ":"):
        return SHORT  # "0.0.0.0:" at the end of a line: the port was wrapped
    if netid in UNIX_NETIDS or (netid is None and _is_num(peer)):
        # unix: "path inode  peer inode", two tokens per address
        more = line.split(None, nfix + 2)
        if len(more) < nfix + 2 or not (_is_num(more[base + 3]) and _is_num(more[base + 5])):
            return _read_unix_slow(line, parts, base, netid, state, rq, sq)
        local = more[base + 2] + " " + more[base + 3]
        peer = more[base + 4] + " " + more[base + 5]
        rest = more[nfix + 2] if len(more) > nfix + 2 else ""
        return [netid, state, int(rq), int(sq), local, peer, [], None, int(more[base + 3]), rest]
    elif not (_ADDRESS.match(local) and _ADDRESS.match(peer)):
        return "Local / Peer columns are not addresses"
    # pending row: netid, state, rq, sq, local, peer, procs, skmem, inode, rest
    return [netid, state, int(rq), int(sq), local, peer, [], None, None, rest]


_UNIX_TAIL = re.compile(r"\s(?:users:\(|skmem:\(|mem:\(|uid:|ino:|sk:|<->)")


def _read_unix_slow(
    line: str, parts: list[str], base: int, netid: str | None, state: str | None, rq: str, sq: str
) -> list[Any] | str:
    """A unix row whose path holds blanks (or is cut short): addresses end where the keywords start."""
    m = _UNIX_TAIL.search(line)
    head = line[: m.start()] if m else line
    rest = line[m.start() :] if m else ""
    words = head.split()[base + 2 :]
    # words: path... inode peer... inode; the peer is usually "* inode"
    split = None
    if len(words) >= 4 and _is_num(words[-1]):
        if words[-2] == "*" and _is_num(words[-3]):
            split = len(words) - 2
        else:
            split = next((k + 1 for k in range(1, len(words) - 2) if _is_num(words[k])), None)
    if split is None:
        # the end of the line before a whole row: wrapped, or not a row
        return SHORT if not rest else "unix row without its inode columns"
    local_words, peer_words = words[:split], words[split:]
    return [
        netid,
        state,
        int(rq),
        int(sq),
        " ".join(local_words),
        " ".join(peer_words),
        [],
        None,
        int(local_words[-1]),
        rest,
    ]


def _is_header(line: str) -> bool:
    """ss's header starts with its first column's title: Netid, State or Recv-Q."""
    if "Recv-Q" not in line:
        return False
    words = line.split()
    return words[0] in ("Netid", "State", "Recv-Q") and "Recv-Q" in words and "Send-Q" in words


# Words of the header that a narrow terminal pushes onto a line of their own
# (ss 6.x at 80 columns prints "Process" alone under the header).
_HEADER_WORDS = frozenset(
    {
        "Process",
        "Local",
        "Peer",
        "Address:Port",
        "Address:PortProcess",
        "Address",
        "Port",
        "Netid",
        "State",
        "Recv-Q",
        "Send-Q",
    }
)


def _row_piece(row: str, line: str) -> bool:
    """Is `line` more of the address columns of a row cut short (`u_str ESTAB 0 0` ...)?

    ss pads its address columns to the longest address of the listing: one
    unix path of 100 characters makes every row 200 wide, and `fold -s` breaks
    such a row in its padding, more than once, leaving `0:0` or `*` alone on
    a line."""
    words = row.split()
    piece = line.split()
    if not piece or words[0] not in _KNOWN_FIRST or piece[0] in _KNOWN_FIRST:
        return False
    if any("(" in w for w in piece):  # users:((, skmem:( : the tail, read by the normal glue
        return False
    if words[0] in UNIX_NETIDS:
        return len(words) < 8  # path inode peer inode: anything may have been pushed down
    # Any other row: its queues read, only its two addresses missing, and the
    # piece made of addresses (`0:0`, `127.0.0.1:22`, `*`).
    queues = next((i for i in (1, 2) if len(words) > i + 1 and _is_num(words[i]) and _is_num(words[i + 1])), None)
    return queues is not None and len(words) + len(piece) <= queues + 4 and all(w == "*" or ":" in w for w in piece)


def _header_piece(word: str) -> bool:
    """Either end of a header word that a hard wrap cut (`Proce` / `ss`, `Address:PortPro` / `cess`)."""
    return any(h.endswith(word) or h.startswith(word) for h in _HEADER_WORDS)


def _first_key(stripped: str) -> str:
    word = stripped.split(None, 1)[0]
    cut = len(word)
    for ch in ":(":
        i = word.find(ch)
        if 0 < i < cut:
            cut = i
    return word[:cut]


def _starts_with_keyword(stripped: str) -> bool:
    return stripped.startswith("users:(") or _first_key(stripped) in _TAIL


def _has_field(text: str) -> bool:
    """Does a stray line carry something of a socket (a field ss prints)?"""
    return "users:(" in text or "skmem:(" in text or "mem:(" in text


def _problem(n: int, line: str, reason: str) -> ParseProblem:
    return ParseProblem(n, line.rstrip("\r\n")[:MAX_LINE], reason)


def _build(
    group: list[list[Any]], layout: tuple[bool, bool], cache: dict[str, Skmem]
) -> tuple[list[Any] | None, list[ParseProblem], bool]:
    """Read a socket's logical lines from scratch -> (row or None, problems, broken)."""
    n0, first = group[0]
    row = _read_row(first.strip(), layout[0], layout[1])
    if isinstance(row, str):
        return None, [_problem(n0, first, row)], row == SHORT
    probs = []
    why = None
    rest = row.pop()
    if rest:
        why = _read_tail(rest, 0, row, cache)
        if why:
            probs.append(_problem(n0, first, why))
    for n, text in group[1:]:
        why = _read_tail(text, 0, row, cache)
        if why:
            probs.append(_problem(n, text, why))
    return row, probs, why in CUT


# The fast path: one precompiled pattern per layout matches a whole plain
# record of ss 6.x/5.x/4.x -- the row, and the `\t skmem:(...)` (or empty)
# continuation line below it -- and only if the next line starts another row
# (or the text ends), so nothing can still belong to it. Anything else goes,
# line by line, through the general reader (_Reader), which gives the same
# result on these records (the tests check that both agree).
_FAST: dict[tuple[bool, bool], re.Pattern[str]] = {}
_INTERN: dict[str, str | None] = {x: x for x in NETIDS | STATES}
_INTERN[""] = None  # the layout has no such column


def _fast_record(layout: tuple[bool, bool]) -> re.Pattern[str]:
    pat = _FAST.get(layout)
    if pat is None:
        netid = r"(?:[a-z][a-z0-9_]{0,7}|\?\?\?) +" if layout[0] else ""
        state = r"[A-Z][A-Z0-9_-]{1,19} +" if layout[1] else ""
        pat = _compile(
            "(?m)^"  # searched for with finditer: a record starts a line
            + (f"({netid[:-2]}) ++" if layout[0] else "()")
            + (f"({state[:-2]}) ++" if layout[1] else "()")
            + r"([0-9]++) ++([0-9]++) ++"
            # unix: "path inode" twice, one space between as ss prints it (the
            # general reader takes any other spacing); else one address each
            # (inet, netlink, packet): the same as _ADDRESS, without backtracking
            + r"(?:(\S++ ([0-9]++)) ++(\S++ [0-9]++)"
            + r"|((?:[^\s:]*+:)*+[\w*.+-]++) ++((?:[^\s:]*+:)*+[\w*.+-]++))"
            # users:((...)): one owner read here, several (or a name with a
            # quote) by _read_users. No ')' inside a name: ss reads names with
            # %[^)] and cuts them there.
            + r'(?:[ \t]++users:\(\((?:"([^)\n"]*+)",pid=([0-9]++),fd=([0-9]++)'
            + r"|([^)\n]*+(?:\),\([^)\n]*+)*+))\)\))?"
            + r"(?:[ \t]++skmem:\(([a-z0-9,]*+)\))?[ \t\r]*+"
            # the continuation line; only its newline is captured (1 char: cheap)
            + r"(?:(\n)\t[ \t\r]*+(?:skmem:\(([a-z0-9,]*+)\)[ \t\r]*+)?)?"
            + r"(?:\n|\Z)"
            # ... a row ss prints (a known Netid or state): an unknown word may be
            # the wrapped rest of this row (`10.9.0.2:e` / `cho users:((...`),
            # which only the general reader can glue
            + f"(?=(?:{_KNOWN_COLUMN[_first_column(layout)]})(?:[ \\t\\r\\n]|\\Z)|\\Z)"
        )
        _FAST[layout] = pat
    return pat


def _compile(pattern: str) -> re.Pattern[str]:
    """Possessive quantifiers (++ *+) only keep the scan from backtracking; Python
    before 3.11 has none, and there the same pattern without them matches the same."""
    if sys.version_info < (3, 11):
        pattern = re.sub(r"(?<=[+*])\+", "", pattern)
    return re.compile(pattern)


class _Reader:
    """The general reader: one line at a time, for everything the fast path leaves."""

    def __init__(self, out: Parsed[Socket], cache: dict[str, Skmem]):
        self.records = out.records
        self.problems = out.problems
        self.cache = cache
        self.layout: tuple[bool, bool] | None = None
        # The socket being read: its logical lines [[line number, text], ...],
        # its row ([netid, state, rq, sq, local, peer, procs, skmem], None while
        # the row is cut short), the problems met in it, and whether its last
        # line ended inside a field (cut by a terminal or a mail client).
        self.group: list[list[Any]] | None = None
        self.row: list[Any] | None = None
        self.gprobs: list[ParseProblem] = []
        self.broken = False
        self.after_header = False
        self.out = out

    def finish(self) -> None:
        if self.group is None:
            return
        row = self.row
        if row is not None:
            self.records.append(
                Socket(row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6]), row[7], self.group[0][0], row[8])
            )
        self.problems.extend(self.gprobs)
        self.group, self.row, self.gprobs, self.broken = None, None, [], False

    def _glue(self, line: str, need_field: bool) -> bool:
        """Join a wrapped line onto the socket's last line, if that reads cleanly.

        Unless that last line was cut inside a field, only the row line itself
        takes a wrapped rest, and only one carrying a field (`356 users:((...`).
        """
        group, layout = self.group, self.layout
        if group is None or layout is None:  # no socket being read
            return False
        last_n, last = group[-1]
        seps: tuple[str, ...] = ("", " ")
        if need_field:
            rest = line.strip()
            if len(group) > 1:
                return False
            # a field, or a field's name cut in two (`user` / `s:((...`)
            if not (_has_field(line) or _starts_with_keyword(rest) or _has_field(last[-8:] + rest)):
                if not rest or " " in rest or last[-1:].isspace():
                    return False
                # one word: the end of a word a hard wrap cut (`127.0.0.1:4` / `3964`), glued
                # without a blank only, so a prompt below the last row stays a prompt
                seps = ("",)
        for sep in seps:
            trial = group[:-1] + [[last_n, last.rstrip("\r") + sep + line.strip()]]
            row, probs, broken = _build(trial, layout, self.cache)
            # Clean, or still cut inside a field (`fold -w` broke the line
            # twice): then the next line is glued on too.
            if row is not None and (not probs or (broken and all(p.reason in CUT for p in probs))):
                self.group, self.row, self.gprobs, self.broken = trial, row, probs, broken
                self.out.joined += 1
                return True
        if self.row is None and len(group) == 1 and _row_piece(last, line):
            # A row broken more than once (a unix path longer than the width,
            # which `fold -s` breaks inside; `*` and the inodes pushed down;
            # any row padded wide by such a path, broken in its padding):
            # still short, wait for the rest. A break inside a word (no
            # blank on either side) is glued without a blank.
            cut = not last[-1:].isspace() and not line[:1].isspace() and not last.split()[-1].isdigit()
            self.group = [[last_n, last.rstrip("\r") + ("" if cut else " ") + line.strip()]]
            self.out.joined += 1
            return True
        return False

    def _more(self, n: int, line: str) -> None:
        """A continuation line: more fields of the socket above."""
        if self.group is None or self.row is None:  # no socket being read
            return
        self.group.append([n, line])
        why = _read_tail(line, 0, self.row, self.cache)
        if why:
            self.gprobs.append(_problem(n, line, why))
        self.broken = why in CUT

    def line(self, n: int, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            return  # blank, or the empty continuation of a TIME-WAIT row
        problems = self.problems
        if self.broken and self._glue(line, need_field=False):
            return
        if _starts_with_keyword(stripped):
            if self.row is None:
                problems.append(_problem(n, line, "continuation line with no socket above it"))
            else:
                self._more(n, line)
            return
        if _is_header(stripped):
            self.finish()
            self.layout = _layout_from_header(stripped.split())
            self.after_header = True
            return
        if self.after_header and all(w in _HEADER_WORDS or _header_piece(w) for w in stripped.split()):
            return  # the header's tail, wrapped by a narrow terminal (inside a word by `fold -w`)
        self.after_header = False
        if self.layout is None:
            self.layout = _guess_layout(stripped.split())
            if self.layout is None:
                problems.append(_problem(n, line, "not an ss row (before the ss header: a prompt or the command?)"))
                return
        new = _read_row(stripped, self.layout[0], self.layout[1])
        if isinstance(new, str):
            starts_row = _row_start(stripped.split(), self.layout)
            if self.group is not None:
                # a line that starts like a row is a row, if a bad one, never
                # the wrapped rest of the socket above (unless that was cut,
                # or its first word is no Netid or state ss knows: `cho` of
                # a service name `e` / `cho` cut by `fold -w`)
                known = stripped.split(None, 1)[0] in _KNOWN_FIRST
                if (self.broken or not starts_row or not known) and self._glue(
                    line, need_field=not self.broken and self.row is not None
                ):
                    return
                if line[0] in " \t" and self.row is not None:
                    # An indented line that is no row: more about the socket
                    # above (a continuation starting with a word not in _TAIL).
                    self._more(n, line)
                    return
            if new == SHORT and starts_row:
                # The start of a row cut short: wait for the rest of it.
                self.finish()
                self.group, self.row, self.gprobs, self.broken = [[n, line]], None, [_problem(n, line, new)], True
                return
            if starts_row:
                # A row we cannot read: what follows it is its own, not the
                # socket above's (stray lines, e.g. stderr, leave that open).
                self.finish()
            problems.append(_problem(n, line, new))
            return
        self.finish()
        self.group, self.row, self.gprobs, self.broken = [[n, line]], new, [], False
        rest = new.pop()
        if rest:
            why = _read_tail(rest, 0, new, self.cache)
            if why:
                self.gprobs.append(_problem(n, line, why))
                self.broken = why in CUT


def parse(text: str) -> Parsed[Socket]:
    """Read ss output into Sockets; every line that is not understood becomes a ParseProblem."""
    # Hundreds of thousands of small records, none of them cyclic: the cyclic
    # garbage collector would walk them again and again while they are built
    # (a third of the time at 100k sockets). Paused here, restored after.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _parse(text)
    finally:
        if paused:
            _promote_young()
            gc.enable()


def _promote_young() -> None:
    """Move the records just built straight to the collector's oldest generation.

    Re-enabled, the collector would first walk every object allocated while it
    was paused (3 per socket: the Socket, its owners' tuple, the ProcRef;
    ~0.05 s at 100k sockets), then walk them again in generation 1: work
    that finds nothing, since the records hold no cycles. gc.freeze() then
    gc.unfreeze() moves every tracked object to the oldest generation and
    resets the young count, in constant time; only full collections see the
    records then. Done only after a big parse (young garbage of the caller is
    promoted with them), and never when the caller uses gc.freeze() itself.
    """
    if gc.get_count()[0] >= _PROMOTE_AFTER and gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


_PROMOTE_AFTER = 30_000  # objects allocated and still alive since the last collection (~10k sockets)


def _parse(text: str, fast_path: bool = True) -> Parsed[Socket]:
    out: Parsed[Socket] = Parsed()
    records = out.records
    append = records.append
    cache: dict[str, Skmem] = {}  # skmem text -> Skmem (most sockets repeat a few)
    slow = _Reader(out, cache)
    intern = _INTERN.get
    unix_netids = UNIX_NETIDS
    procref, socket = new_procref, new_socket
    # One string per process name (not one per socket): less memory, and the
    # analysis and the renderers, which group and look up by name, compare and
    # hash each name once.
    name_of = sys.intern
    # Per layout: (p, m) = the first record the fast pattern matches at a line
    # start at or after position p is m (None: there is none). Lines before m
    # then go to the general reader without another search, so text the fast
    # path cannot read costs one scan, not one per line.
    ahead: dict[tuple[bool, bool] | None, tuple[int, re.Match[str] | None]] = {}
    layout: tuple[bool, bool] | None = None
    pat: re.Pattern[str] | None = None
    procs: tuple[ProcRef, ...]
    pos, n, size = 0, 1, len(text)
    while pos < size:
        if slow.layout is not layout:
            layout = slow.layout
            pat = _fast_record(layout) if layout is not None and fast_path else None
        if pat is not None and not slow.broken:
            known = ahead.get(layout)
            if known is None or known[0] > pos or (known[1] is not None and known[1].start() < pos):
                search = True  # nothing known about the text from here: search
            else:
                # a record starts here; else none can start on this line: the general reader's
                search = known[1] is not None and known[1].start() <= pos
            if search:
                # A run of plain records, one match each, until the text
                # stops matching at the position where the last one ended.
                dirty = slow.group is not None or slow.after_header
                for m in pat.finditer(text, pos):
                    start, end = m.span()
                    if start != pos:
                        ahead[layout] = (pos, m)
                        break
                    (
                        netid,
                        state,
                        rq,
                        sq,
                        ulocal,
                        uino,
                        upeer,
                        local,
                        peer,
                        uname,
                        upid,
                        ufd,
                        users,
                        skm,
                        cont,
                        skm2,
                    ) = m.groups()
                    if ulocal is not None:  # unix: "path inode"
                        if netid and netid not in unix_netids:
                            break
                        local, peer, inode = ulocal, upeer, int(uino)
                    elif netid in unix_netids or (not netid and is_digits(peer)):
                        break  # a unix row cut short: the general reader decides
                    else:
                        inode = None
                    if uname is not None:
                        procs = (procref(name_of(uname), int(upid), int(ufd)),)
                    elif users is None:
                        procs = ()
                    else:
                        plist: list[ProcRef] = []
                        if _read_users("(" + users + "))", 0, plist)[1] is not None:
                            break
                        procs = tuple(plist)
                    if skm is None:
                        skm = skm2
                    if skm is None:
                        mem = None
                    else:
                        mem = cache.get(skm)
                        if mem is None:
                            mem = _read_mem(skm, SKMEM_KEYS)
                            if mem is None:
                                break
                            cache[skm] = mem
                    if dirty:
                        if slow.group is not None:
                            slow.finish()
                        slow.after_header = dirty = False
                    append(
                        socket(
                            intern(netid, netid),
                            intern(state, state),
                            0 if rq == "0" else int(rq),
                            0 if sq == "0" else int(sq),
                            local,
                            peer,
                            procs,
                            mem,
                            n,
                            inode,
                        )
                    )
                    n += 1 if cont is None else 2
                    pos = end
                else:
                    ahead[layout] = (pos, None)
                    continue
                if m.start() == pos:
                    ahead.pop(layout, None)  # matched, but not plain: the general reader's
                else:
                    continue
        end = text.find("\n", pos)
        if end < 0:
            end = size
        slow.line(n, text[pos:end])
        n += 1
        pos = end + 1
    slow.finish()
    out.problems.sort(key=lambda p: p.line)
    return out


_OWN_PID = re.compile("^" + re.escape(PID_MARKER) + r"(\d+)$", re.M)


def own_pid(stderr: str | None) -> int | None:
    """The pid of ss itself, from the PID_MARKER line the probe's ss section writes on stderr
    (kit.sections); its own sock_diag socket is this collect's (kit.analyse.this_collect)."""
    m = _OWN_PID.search(stderr or "")
    return int(m.group(1)) if m else None


_NOT_INSTALLED = re.compile(r"\bss: (not found|No such file)")


def not_installed(rc: int | None, stderr: str | None) -> bool:
    """The probe's ss section found no ss on the device (the shell's 127, or its "ss: not found")."""
    return rc == 127 or bool(_NOT_INSTALLED.search(stderr or ""))


@dataclass(slots=True)
class SsOutput(Parsed[Socket]):
    """The sockets, and what the probe's ss section said on stderr (parse_section)."""

    own_pid: int | None = None  # own_pid(): ss's own pid, from the probe's PID_MARKER line
    not_installed: bool = False  # not_installed(): there is no ss on the device
    said: str = ""  # the first line ss (or the shell) wrote on stderr, kit's markers left out
    run: SsRun | None = None  # how the section ended


@frozen
class SsRun:
    """How the probe's ss section ended, for the report's ss-missing finding."""

    rc: int | None  # None: cut off
    printed: bool  # stdout holds more than ASCII blanks
    # the first stderr line that is not a `# kit:` marker (stripped, at most 200 characters); None: none
    stderr_head: str | None


def parse_section(text: str, status: SectionStatus | None = None) -> SsOutput:
    """The ss section (kit.sections): parse() of its text, and its stderr's facts from `status`."""
    status = status or SectionStatus()
    parsed = parse(text)
    return SsOutput(
        parsed.records,
        parsed.problems,
        parsed.joined,
        own_pid=own_pid(status.stderr),
        not_installed=not_installed(status.rc, status.stderr),
        said=first_line(status.stderr),
        run=SsRun(
            status.rc,
            _PRINTED.search(text) is not None,
            first_line(status.stderr, 200) or None,  # not the probe's own "# kit: pid" line
        ),
    )


# Not blank as bytes.strip() has it ("printed" as the section's bytes say); a search stops at the
# first such character, where text.strip() would copy the whole 16 MB of a 100k-socket listing.
_PRINTED = re.compile(r"[^ \t\n\r\x0b\x0c]")
