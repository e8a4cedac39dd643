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
from collections.abc import Callable, Iterator
from typing import Any

from kit.records import Parsed
from kit.unmangle import DATA_LINE, SS_ROW

_SCAN_LINES = 200
_PROC_ROW = re.compile(r" *\d+: ([0-9A-Fa-f]+):[0-9A-Fa-f]{4} ")


def detect(text: str) -> str:
    """The section name to parse `text` as; "ss" when nothing else fits."""
    seen = 0
    for i, line in enumerate(_lines(text)):  # only the first lines are read: no split of 100k lines
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
            return _proc_table(words, text.split("\n", i + 20)[i + 1 : i + 20], text)
        if words[:3] == ["Num", "RefCount", "Protocol"]:
            return "proc_net_unix"
        if s.startswith("sockets: used") or s.startswith(("TCP6: inuse", "UDP6: inuse")):
            return "sockstat"
        if SS_ROW.match(s):
            return "ss"
    return "ss"


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` one at a time, as text.split("\\n") gives them."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def has_socket_data(text: str) -> bool:
    """Does the text hold any line of socket data kit reads (a header or a row of ss, netstat, /proc/net)?

    Text without one (a binary, a text about something else, nothing) is not
    a paste kit can read: rendering it would show a healthy router with 0 sockets.
    """
    return DATA_LINE.search(text) is not None  # no pattern spans a newline: one scan, stops at the first


def _proc_table(header: list[str], following: list[str], text: str) -> str:
    # The header's last word, or on the next lines when a terminal or mail client wrapped it there.
    end = "".join(header[-2:])
    for line in following[:3]:
        if _PROC_ROW.match(line):
            break
        end += "".join(line.split())
    if "drops" in end:
        name = "proc_net_raw" if "/proc/net/raw" in text else "proc_net_udp"
    else:
        name = "proc_net_tcp"
    for line in following:
        m = _PROC_ROW.match(line)
        if m:
            return name + "6" if len(m.group(1)) == 32 else name
    return name


def rejoin_wrapped(text: str, parse: Callable[[str], Parsed[Any]], parsed: Parsed[Any]) -> tuple[str, int]:
    """Join the lines a terminal or a mail client wrapped, for a parser that does not (netstat, /proc/net).

    Only lines the parser could not read are glued on: a line cut short,
    followed by lines that do not read, becomes one line (with no blank where
    it was cut inside a word, as `fold -w` and terminals cut, with one where
    it was cut at a blank, as `fold -s` and mail clients do) when that reads
    as one clean row under the same header. A wrapped header takes its unread
    rest first (netstat -W: `PID/Program name` on a line of its own), since
    the rows are read by it. Glued lines become blank, so line numbers keep
    pointing into the paste. Linear: at most _MAX_PIECES small parses per
    unread line (50k unread lines: 0.7 s). Returns the text and how many
    lines were glued on.
    """
    if not parsed.problems:
        return text, 0
    lines = text.split("\n")
    width = max(len(line) for line in lines)
    joined = _headers(lines, parse, parsed, width)
    if joined:
        parsed = parse("\n".join(lines))
    joined += _rows(lines, parse, parsed, width)
    return ("\n".join(lines), joined) if joined else (text, 0)


_MAX_PIECES = 4  # a line wrapped into more pieces than this is left as it is
_DIGIT = re.compile(r"\d")


def _headers(lines: list[str], parse: Callable[[str], Parsed[Any]], parsed: Parsed[Any], width: int) -> int:
    """A header read clean, then unread lines without a digit (`PID/Program name`, `d  timeout inode`): its rest."""
    bad = {p.line for p in parsed.problems}
    rows = {getattr(r, "line", 0) for r in parsed.records}
    joined = 0
    for i, line in enumerate(lines):
        if not line.strip() or i + 1 in bad or i + 1 in rows:
            continue
        j = i + 1
        while j < len(lines) and j - i <= _MAX_PIECES and j + 1 in bad and not _DIGIT.search(lines[j]):
            j += 1
        for end in range(j - 1, i, -1):  # the most pieces that still read as a header
            cand = line
            for k in range(i + 1, end + 1):
                cand = _join(cand, lines[k], len(lines[k - 1]) >= width)
            result = parse(cand)
            if not result.problems and not result.records:
                lines[i] = cand
                for k in range(i + 1, end + 1):
                    lines[k] = ""
                joined += end - i
                break
    return joined


def _rows(lines: list[str], parse: Callable[[str], Parsed[Any]], parsed: Parsed[Any], width: int) -> int:
    """A line cut short and the unread lines below it, glued while the result reads as one clean row.

    A row read clean may still be cut (a proc row without the end of its
    inode, a netstat row without its state or program), so a read row takes
    unread lines too, but only where the wrap shows: the line is as long as
    the longest (a hard wrap), or the next word would not have fitted on it
    (a wrap at a blank). A prompt after the last row is left alone.
    """
    bad = {p.line for p in parsed.problems}
    rows = {getattr(r, "line", 0) for r in parsed.records}
    joined = 0
    header = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 not in bad and not (i + 1 in rows and i + 2 in bad):
            if line.strip() and i + 1 not in rows:
                header = line
            i += 1
            continue
        best, cur, j = None, line, i + 1
        # (the wrap shows on the last physical line: a glued line is longer than any)
        while j < len(lines) and j - i <= _MAX_PIECES and j + 1 in bad and _cut(lines[j - 1], lines[j], width):
            hard = len(lines[j - 1]) >= width  # the last piece, not the glued line, shows how it broke
            glued = _glue(cur, lines[j], header, parse, hard)
            if glued is not None:
                best = (glued, j)
            cur = glued if glued is not None else _join(cur, lines[j], hard)
            j += 1
        if best is not None:
            lines[i] = best[0]
            for k in range(i + 1, best[1] + 1):
                lines[k] = ""
            joined += best[1] - i
            i = best[1]
        i += 1
    return joined


def _cut(above: str, below: str, width: int) -> bool:
    """Was `above` broken before `below` by a wrap at `width` (inside a word, or at a blank)?"""
    word = below.split(None, 1)[0] if below.strip() else ""
    # fold -s keeps the blanks before the break, a mail client may drop them
    return len(above) >= width or max(len(above), len(above.rstrip(" \t")) + 1) + len(word) >= width


def _join(above: str, below: str, hard: bool) -> str:
    """A hard wrap (the line above as wide as the widest) cut inside a word: nothing between; else one blank."""
    return above + below if hard else above.rstrip(" \t") + " " + below.lstrip(" \t")


def _glue(above: str, below: str, header: str, parse: Callable[[str], Parsed[Any]], hard: bool) -> str | None:
    """`above` and `below` as one line, if that reads as one clean row under `header`; else None."""
    tries = (_join(above, below, hard), _join(above, below, not hard))
    for line in tries:
        result = parse(header + "\n" + line if header else line)
        if not result.problems and len(result.records) == 1:
            return line
    return None
