"""`netstat -an[p]` as busybox prints it (also net-tools' netstat, which has the same tables).

    parse(text) -> Parsed[Socket]

Source: busybox networking/netstat.c (1.35, 1.36). Read on real output of
busybox 1.35.0 (Debian 12: no -p) and of busybox 1.36.1 built with
FEATURE_NETSTAT_PRG and FEATURE_NETSTAT_WIDE as OpenWrt builds it
(tests/fixtures/debian-12/busybox-*.out). Example (-anp)::

    Active Internet connections (servers and established)
    Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
    tcp        3      0 127.0.0.1:5002          0.0.0.0:*               LISTEN      4340/python3
    tcp        0      0 127.0.0.1:55966         127.0.0.1:5001          TIME_WAIT   -
    tcp     1234      0 ::1:5003                ::1:48438               ESTABLISHED 4340/python3
    udp     4160      0 127.0.0.1:5004          0.0.0.0:*                           4340/python3
    raw     3328      0 127.0.0.1:1             0.0.0.0:*               1           4340/python3
    Active UNIX domain sockets (servers and established)
    Proto RefCnt Flags       Type       State         I-Node PID/Program name    Path
    unix  2      [ ACC ]     STREAM     LISTENING     1080422 4340/python3        /tmp/kit-craft.sock
    unix  2      [ ]         DGRAM                    1080426 4340/python3        /tmp/kit-craft.dgram

How it is read:

- Two tables, each introduced by its header line (`Proto Recv-Q Send-Q ...`
  and `Proto RefCnt Flags ...`); whether there is a `PID/Program name`
  column (-p) is read from the header. The "Active ... connections" title
  lines are skipped.
- Inet rows: proto, Recv-Q, Send-Q, local, foreign, then the state (empty
  for an unconnected UDP socket, the kernel's state number for raw sockets)
  and, with -p, `PID/name` or `-`. The address columns are padded to 23
  (51 with -W) but longer ones just push the rest right, so rows are split
  on blanks, not on positions. Busybox prints IPv6 without brackets
  (`::1:5003`, `:::*`) and no %scope; addresses are kept as printed. Without
  -n, host and service names (`localhost:5011`).
- The program name is busybox's `%.20s` of "pid/" plus the basename of
  argv[0] from /proc/PID/cmdline (not the comm that ss prints: `python3`
  where ss says `kit-craft`), cut at 20 characters; there is no fd.
- Unix rows: proto, RefCnt, `[ flags ]`, type, state (empty when
  unconnected), inode, with -p the program (padded to 20), then the path
  (empty for unnamed sockets, `@name` for abstract ones).
- Names map onto ss's so analysis reads every source alike: proto tcp/tcp6
  -> "tcp", udp/udp6 -> "udp", raw/raw6 -> "raw"; unix STREAM/DGRAM/SEQPACKET
  -> "u_str"/"u_dgr"/"u_seq". TCP states ESTABLISHED -> ESTAB, SYN_SENT ->
  SYN-SENT, FIN_WAIT1 -> FIN-WAIT-1, TIME_WAIT -> TIME-WAIT, CLOSE -> UNCONN,
  CLOSE_WAIT -> CLOSE-WAIT ... ; an empty UDP state -> UNCONN; unix LISTENING -> LISTEN,
  CONNECTED -> ESTAB, empty -> UNCONN. Anything else is kept as printed.
- Raw rows: busybox means to print the kernel's state number, but formats
  it with itoa(), whose static buffer the port formatting (also itoa) has
  overwritten by then: the column shows a port (`1` for a raw ICMP socket
  whose /proc/net/raw state is 07). Raw rows therefore get state None.
- Recv-Q / Send-Q come from /proc/net/*: bytes for TCP (the accept queue on
  LISTEN), memory (rmem/wmem_alloc) for UDP and raw. Unix rows have none
  (None). There is never memory information: skmem is None.
- Unix rows keep `local` as "path inode" (`* inode` for an unnamed socket)
  and `peer` "*", the form ss uses, and the inode in `inode`.

Problems: every other non-blank line (a prompt, the command, `netstat:
invalid option -- 'p'` and busybox's usage text) with its line number.
"""

from __future__ import annotations

import re

from kit.records import Parsed, ParseProblem, ProcRef, Socket

MAX_LINE = 300

NETIDS = {
    "tcp": "tcp",
    "tcp6": "tcp",
    "udp": "udp",
    "udp6": "udp",
    "raw": "raw",
    "raw6": "raw",
    "udpl": "udp",
    "udpl6": "udp",
}
UNIX_TYPES = {"STREAM": "u_str", "DGRAM": "u_dgr", "SEQPACKET": "u_seq"}
# busybox tcp_state[] -> ss names
TCP_STATES = {
    "ESTABLISHED": "ESTAB",
    "SYN_SENT": "SYN-SENT",
    "SYN_RECV": "SYN-RECV",
    "FIN_WAIT1": "FIN-WAIT-1",
    "FIN_WAIT2": "FIN-WAIT-2",
    "TIME_WAIT": "TIME-WAIT",
    "CLOSE": "UNCONN",
    "CLOSE_WAIT": "CLOSE-WAIT",
    "LAST_ACK": "LAST-ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
    "": "UNCONN",
}
UNIX_STATES = {"LISTENING": "LISTEN", "CONNECTED": "ESTAB", "": "UNCONN"}

_PRG = re.compile(r"(\d+)/(.*)\Z")
# unix  2      [ ACC ]     STREAM     LISTENING     1080422 4340/python3        /tmp/kit-craft.sock
_UNIX = re.compile(r"unix +(\d+) +\[ ?([A-Z ]*?) ?\] +([A-Z]+) +(?:([A-Z]+) +)?(\d+)(?: (.*))?\Z")


def _problem(n: int, line: str, reason: str) -> ParseProblem:
    return ParseProblem(n, line.rstrip("\r\n")[:MAX_LINE], reason)


def _procs(field: str) -> tuple[ProcRef, ...]:
    m = _PRG.match(field)
    return (ProcRef(m.group(2), int(m.group(1)), None),) if m else ()


def _inet(n: int, words: list[str], prg: bool) -> Socket | str:
    if len(words) < 5:
        return "too few columns for a netstat row"
    proto, rq, sq, local, peer = words[:5]
    if not (rq.isdigit() and sq.isdigit() and rq.isascii() and sq.isascii()):
        return "Recv-Q / Send-Q are not numbers"
    rest = words[5:]
    procs: tuple[ProcRef, ...] = ()
    if prg and rest and (rest[-1] == "-" or _PRG.match(rest[-1])):
        procs = _procs(rest.pop())
    elif prg and len(rest) >= 2 and _PRG.match(rest[1]):
        # a program name with blanks: everything after the state
        procs = _procs(" ".join(rest[1:]))
        rest = rest[:1]
    if len(rest) > 1:
        return "more columns than a netstat row has"
    netid = NETIDS[proto]
    state: str | None = None  # raw: a port, not the state (busybox's itoa buffer, see above)
    if netid != "raw":
        word = rest[0] if rest else ""
        state = TCP_STATES.get(word, word)
    return Socket(netid, state, int(rq), int(sq), local, peer, procs, None, n)


def _unix(n: int, line: str, prg: bool) -> Socket | str:
    m = _UNIX.match(line.strip())
    if m is None:
        return "not a netstat unix row"
    _refcnt, _flags, kind, state, inode, rest = m.groups()
    procs: tuple[ProcRef, ...] = ()
    path = (rest or "").strip()
    if prg:
        first, _, after = path.partition(" ")
        if first == "-" or _PRG.match(first):
            procs, path = _procs(first), after.strip()
    netid = UNIX_TYPES.get(kind, kind.lower())
    state = UNIX_STATES.get(state or "", state)
    return Socket(netid, state, None, None, f"{path or '*'} {inode}", "*", procs, None, n, int(inode))


def parse(text: str) -> Parsed[Socket]:
    """Read busybox (or net-tools) netstat tables into Sockets; other lines become problems."""
    out: Parsed[Socket] = Parsed()
    table = None  # "inet" or "unix", from the last header
    prg = False
    for n, line in enumerate(text.split("\n"), 1):
        words = line.split()
        if not words:
            continue
        first = words[0]
        if first == "Active" and ("connections" in line or "sockets" in line):
            continue  # "Active Internet connections (servers and established)"
        if first == "Proto":
            if "Recv-Q" in words:
                table = "inet"
            elif "RefCnt" in words:
                table = "unix"
            else:
                out.problems.append(_problem(n, line, "unknown netstat header"))
                table = None
                continue
            prg = "PID/Program" in line
            continue
        if first in NETIDS and table != "unix":
            row = _inet(n, words, prg)
        elif first == "unix" and table != "inet":
            row = _unix(n, line, prg)
        else:
            row = "not a netstat row" if table else "not a netstat row (before the netstat header)"
        if isinstance(row, str):
            out.problems.append(_problem(n, line, row))
        else:
            out.records.append(row)
    return out
