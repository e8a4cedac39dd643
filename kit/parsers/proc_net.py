"""The kernel's socket tables: /proc/net/{tcp,tcp6,udp,udp6,raw,raw6,unix}.

    parse(text) -> Parsed[Socket]                 # which table: from its header
    parse_tcp / parse_udp / parse_raw / parse_unix(text) -> Parsed[Socket]

Source: the kernel's seq_file printers, net/ipv4/tcp_ipv4.c (get_tcp4_sock),
net/ipv6/tcp_ipv6.c (get_tcp6_sock), net/ipv4/udp.c (udp4_format_sock),
net/ipv6/datagram.c (__ip6_dgram_sock_seq_show, for udp6 and raw6),
net/ipv4/raw.c (raw_sock_seq_show), net/unix/af_unix.c (unix_seq_show).
Read on real tables of Linux 6.18 (tests/fixtures/debian-12/proc-net-*.out)::

      sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
       0: 0100007F:1393 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1081349 1 ...
       sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
     1505: 0100007F:138C 00000000:0000 07 00000000:00001040 00:00000000 00000000     0        0 1080410 2 00000000fda96c3d 0
    Num       RefCount Protocol Flags    Type St Inode Path
    000000005451f668: 00000002 00000000 00010000 0001 01 1080422 /tmp/kit-craft.sock

How it is read:

- Which table: tcp/tcp6 and udp/udp6/raw/raw6 print the same `sl local_address`
  header, but only the datagram tables end it with `ref pointer drops`; unix
  starts with `Num RefCount`. Raw and UDP headers are identical, so `parse`
  calls a datagram table "udp" unless the text names /proc/net/raw (a
  pasted `cat /proc/net/raw` line); use parse_raw when the table is known.
  IPv4 or IPv6 is told per row by the address length (8 or 32 hex digits).
  A header line anywhere starts a new table (`cat /proc/net/tcp /proc/net/tcp6`).
- Addresses: the kernel prints each 32-bit word of the address with %08X as
  a host-order integer, so the bytes come out reversed on little-endian
  machines (x86, arm, mipsel: `0100007F` is 127.0.0.1) and in order on
  big-endian ones (mips, powerpc: `7F000001`). The parser cannot know the
  machine, so it reads every address of the text both ways and keeps the
  order under which more of them are loopback, private, link-local or
  v4-mapped (a tie, e.g. only 0.0.0.0, is little-endian). Ports are printed
  in host order as numbers (%04X), the same either way. Output in ss's form:
  `127.0.0.1:5001`, `[::1]:5003`, `[::ffff:127.0.0.1]:5003` (inet_ntop), port
  0 as `*`. /proc has no IPv6 scope.
- st: the TCP state number (include/net/tcp_states.h) -> ss's name (01 ESTAB,
  0A LISTEN, 07 UNCONN, 0C NEW_SYN_RECV -> SYN-RECV ...).
- tx_queue:rx_queue -> send_q, recv_q. TCP: bytes not yet acknowledged /
  not yet read (LISTEN: rx_queue is the accept queue, tx_queue 0, the
  backlog limit is not shown). UDP and raw: wmem_alloc / rmem_alloc, memory
  (skb truesize), as ss's Recv-Q. `inode` -> Socket.inode (joins sockets to
  /proc/PID/fd owners); the datagram tables' `drops` -> Socket.drops.
  skmem is always None: /proc prints no per-socket memory breakdown.
- unix: Flags 00010000 (__SO_ACCEPTCON) -> LISTEN, St 03 (SS_CONNECTED) ->
  ESTAB, 01 -> UNCONN, others as CONNECTING / DISCONNECTING; Type 0001/0002/
  0005 -> u_str/u_dgr/u_seq; `local` "path inode" (`*` for an unnamed
  socket), `peer` "*", as ss prints them; no queues (None).

Problems: every non-blank line that is neither a header nor a row of the
current table (a prompt, `cat: /proc/net/raw6: No such file or directory`).
"""

from __future__ import annotations

import re
import socket

from kit.records import Parsed, ParseProblem, Socket

MAX_LINE = 300

# include/net/tcp_states.h -> ss's names
TCP_STATES = {
    1: "ESTAB",
    2: "SYN-SENT",
    3: "SYN-RECV",
    4: "FIN-WAIT-1",
    5: "FIN-WAIT-2",
    6: "TIME-WAIT",
    7: "UNCONN",
    8: "CLOSE-WAIT",
    9: "LAST-ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "SYN-RECV",
}
UNIX_TYPES = {1: "u_str", 2: "u_dgr", 5: "u_seq"}
UNIX_STATES = {1: "UNCONN", 2: "CONNECTING", 3: "ESTAB", 4: "DISCONNECTING"}
SO_ACCEPTCON = 0x10000

#   sl: local:port rem:port st tx:rx tr:when retrnsmt uid timeout inode [rest]
_INET = re.compile(
    r" *\d+: ([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4}) ([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})"
    r" ([0-9A-Fa-f]{2}) ([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8}) \S+ \S+ +\d+ +\d+ (\d+)(.*)\Z"
)
#   Num: RefCount Protocol Flags Type St Inode [Path]
_UNIX = re.compile(
    r"[0-9A-Fa-f]+: ([0-9A-Fa-f]{8}) ([0-9A-Fa-f]{8}) ([0-9A-Fa-f]{8}) ([0-9A-Fa-f]{4}) ([0-9A-Fa-f]{2})"
    r" +(\d+)(?: (.*))?\Z"
)

# First octet (little-endian reading) or word patterns that say an address was
# read in the right byte order: loopback, private, link-local, v4-mapped.
_PLAUSIBLE_V4 = {127, 10, 192, 172, 169, 100}


def _problem(n: int, line: str, reason: str) -> ParseProblem:
    return ParseProblem(n, line.rstrip("\r\n")[:MAX_LINE], reason)


def _v4_bytes(hexaddr: str, little: bool) -> bytes:
    b = bytes.fromhex(hexaddr)
    return b[::-1] if little else b


def _v6_bytes(hexaddr: str, little: bool) -> bytes:
    b = bytes.fromhex(hexaddr)
    if not little:
        return b
    return b[3::-1] + b[7:3:-1] + b[11:7:-1] + b[15:11:-1]


def _score(addrs: list[str], little: bool) -> int:
    score = 0
    for a in addrs:
        if len(a) == 8:
            b = _v4_bytes(a, little)
            score += b[0] in _PLAUSIBLE_V4
        else:
            b = _v6_bytes(a, little)
            score += (
                b[:2] == b"\xfe\x80"
                or b[:12] == b"\0" * 10 + b"\xff\xff"
                or b == b"\0" * 15 + b"\1"
                or b[0] & 0xFE == 0xFC
            )
    return score


def byte_order(text: str) -> str:
    """'little' or 'big': how the machine that printed these tables stores a word."""
    addrs = [a for a in re.findall(r"\b([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):[0-9A-Fa-f]{4}\b", text) if a.strip("0")]
    return "big" if _score(addrs, False) > _score(addrs, True) else "little"


def _address(hexaddr: str, port_hex: str, little: bool) -> str:
    port = int(port_hex, 16)
    p = str(port) if port else "*"
    if len(hexaddr) == 8:
        return f"{socket.inet_ntop(socket.AF_INET, _v4_bytes(hexaddr, little))}:{p}"
    return f"[{socket.inet_ntop(socket.AF_INET6, _v6_bytes(hexaddr, little))}]:{p}"


def _table(header: str) -> str | None:
    words = header.split()
    if words[:2] == ["sl", "local_address"]:
        return "udp" if words[-1] == "drops" else "tcp"
    if words[:2] == ["Num", "RefCount"]:
        return "unix"
    return None


def _parse(text: str, kind: str | None) -> Parsed[Socket]:
    out: Parsed[Socket] = Parsed()
    little = byte_order(text) == "little"
    raw_named = kind is None and "/proc/net/raw" in text
    table = None
    for n, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped:
            continue
        head = _table(stripped)
        if head is not None:
            table = head
            if kind is not None:
                # the caller knows the table; the header only says inet or unix
                table = kind if (head == "unix") == (kind == "unix") else head
            elif head == "udp" and raw_named:
                table = "raw"
            continue
        if table is None:
            out.problems.append(_problem(n, line, "not a /proc/net table row (before its header)"))
            continue
        if table == "unix":
            m = _UNIX.match(stripped)
            if m is None:
                out.problems.append(_problem(n, line, "not a /proc/net/unix row"))
                continue
            _ref, _proto, flags, kind_hex, st, inode, path = m.groups()
            flags, st_n = int(flags, 16), int(st, 16)
            state = "LISTEN" if flags & SO_ACCEPTCON else UNIX_STATES.get(st_n, st)
            netid = UNIX_TYPES.get(int(kind_hex, 16), "u_" + kind_hex)
            out.records.append(Socket(netid, state, None, None, f"{path or '*'} {inode}", "*", (), None, n, int(inode)))
            continue
        m = _INET.match(line.rstrip("\r"))
        if m is None:
            out.problems.append(_problem(n, line, f"not a /proc/net/{table} row"))
            continue
        la, lp, ra, rp, st, tx, rx, inode, rest = m.groups()
        drops = None
        if table != "tcp":
            last = rest.split()[-1:] or [""]
            drops = int(last[0]) if last[0].isdigit() and last[0].isascii() else None
        st_n = int(st, 16)
        out.records.append(
            Socket(
                table,
                TCP_STATES.get(st_n, st),
                int(rx, 16),
                int(tx, 16),
                _address(la, lp, little),
                _address(ra, rp, little),
                (),
                None,
                n,
                int(inode),
                drops,
            )
        )
    return out


def parse(text: str) -> Parsed[Socket]:
    """Read one or more /proc/net socket tables; which one each is comes from its header."""
    return _parse(text, None)


def parse_tcp(text: str) -> Parsed[Socket]:
    """/proc/net/tcp and tcp6."""
    return _parse(text, "tcp")


def parse_udp(text: str) -> Parsed[Socket]:
    """/proc/net/udp and udp6 (also udplite)."""
    return _parse(text, "udp")


def parse_raw(text: str) -> Parsed[Socket]:
    """/proc/net/raw and raw6: the header is udp's, so only the caller can say."""
    return _parse(text, "raw")


def parse_unix(text: str) -> Parsed[Socket]:
    """/proc/net/unix."""
    return _parse(text, "unix")
