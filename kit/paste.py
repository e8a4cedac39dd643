"""What a raw paste from a ticket is, so `kit render` knows which parser reads it.

    detect(text) -> section name (a row of kit.sections; that row's parser reads it)

Returned names: "ss", "ss_summary" (`ss -s`), "netstat", "proc_net_tcp", "proc_net_tcp6", "proc_net_udp",
"proc_net_udp6", "proc_net_raw", "proc_net_raw6", "proc_net_unix", "sockstat".

A paste is judged by the header lines each tool prints, in its first 200
non-blank lines (rows are too varied to vote on); a shell prompt, the command
line or stderr above the output do not matter:

- "netstat": `Proto Recv-Q Send-Q Local Address Foreign Address ...`,
  `Proto RefCnt Flags ...` or `Active Internet connections` / `Active UNIX
  domain sockets` (busybox and net-tools netstat).
- "ss": any other header with `Recv-Q` and `Send-Q` (`Netid State Recv-Q ...`,
  `State Recv-Q ...`, `Recv-Q Send-Q ...`), or headerless rows that start
  with an ss Netid and a state.
- "proc_net_*": the kernel's `sl local_address rem_address ...` header; the
  datagram tables end it with `drops`, and raw's header is udp's, so a
  datagram table is "proc_net_raw" only when the text names /proc/net/raw
  (the pasted `cat` line); the `6` variant when the first row's address has
  32 hex digits. `Num RefCount Protocol ...` is /proc/net/unix.
- "ss_summary": `Total: N` or the `Transport Total IP IPv6` table of `ss -s`.
- "sockstat": `sockets: used N` (/proc/net/sockstat), or `TCP6: inuse`
  (sockstat6).
- Anything else: "ss", whose parser reports every line it cannot read, the
  most useful answer for text we do not recognise.
"""

from __future__ import annotations

import re

from kit.unmangle import DATA_LINE, SS_ROW

_SCAN_LINES = 200
_PROC_ROW = re.compile(r" *\d+: ([0-9A-Fa-f]+):[0-9A-Fa-f]{4} ")


def detect(text: str) -> str:
    """The section name to parse `text` as; "ss" when nothing else fits."""
    seen = 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        seen += 1
        if seen > _SCAN_LINES:
            break
        words = s.split()
        if s.startswith("Total:") or words[:2] == ["Transport", "Total"]:
            return "ss_summary"
        if words[0] == "Proto" and ("Recv-Q" in words or "RefCnt" in words):
            return "netstat"
        if s.startswith(("Active Internet connections", "Active UNIX domain sockets")):
            return "netstat"
        if "Recv-Q" in words and "Send-Q" in words:
            return "ss"
        if words[:2] == ["sl", "local_address"]:
            return _proc_table(words, lines[i + 1 : i + 20], text)
        if words[:3] == ["Num", "RefCount", "Protocol"]:
            return "proc_net_unix"
        if s.startswith("sockets: used") or s.startswith(("TCP6: inuse", "UDP6: inuse")):
            return "sockstat"
        if SS_ROW.match(s):
            return "ss"
    return "ss"


def has_socket_data(text: str) -> bool:
    """Does the text hold any line of socket data kit reads (a header or a row of ss, netstat, /proc/net)?

    Text without one (a binary, a text about something else, nothing) is not
    a paste kit can read: rendering it would show a healthy router with 0 sockets.
    """
    return any(DATA_LINE.search(line) for line in text.split("\n"))


def _proc_table(header: list[str], following: list[str], text: str) -> str:
    if header[-1] == "drops":
        name = "proc_net_raw" if "/proc/net/raw" in text else "proc_net_udp"
    else:
        name = "proc_net_tcp"
    for line in following:
        m = _PROC_ROW.match(line)
        if m:
            return name + "6" if len(m.group(1)) == 32 else name
    return name
