"""Undo what happens to command output on its way into a ticket.

    unmangle(text, anchor=DATA_LINE) -> Unmangled(text, undone)

Pure: text in, clean text plus a list of what was undone (`Undone`) out, for
the report to say ("removed '> > ' quoting from 212 lines"). What it undoes,
in the order it was done to the text (the last mangling first):

- Line ends: CR LF (unix2dos, a serial console, a Windows mail client), CR CR
  LF (a tty's onlcr on top of CR LF), and bare CR (old terminal loggers).
- Quoted-printable (a mail body sent as `Content-Transfer-Encoding:
  quoted-printable`): soft line breaks (`=` at the end of a line) and `=XX`
  escapes (`=3D` for `=`). Judged strictly, since ss output is full of `=`
  (`pid=12,fd=3`): only when every `=` is an escape or a soft break, and at
  least one `=3D`, soft break or `=20` at a line end (a kept blank) is there.
- Tabs between columns (`unexpand -a`, a chat window): read as blanks, only
  when a tab follows text (ss's own tabs follow blanks or start a line).
- A prefix that every data line shares: mail quoting at any depth (`> `,
  `> > `, `>>`), a logger's or terminal program's timestamp (`Dec  4
  21:00:52 host sh[42]: `, `[  12.345678] `, `2026-12-04T21:00:52+00:00 `,
  moreutils `ts`), comment markers (`# `), indentation. Data lines are
  recognised by `anchor` (the probe's marker lines, or the first line of an
  ss/netstat/proc row or header); the text before the anchor on each is a
  sample of the prefix. Samples become patterns (digits -> any digits, blanks
  inside -> any blanks), so a changing timestamp is one prefix; the blanks
  after it are kept exactly, since an ss continuation line starts with a tab
  that belongs to the data. Lines that only hold the prefix (a quoted blank
  line: `>`) become blank; lines without it stay as they are.

Lines wrapped at a fixed width are joined where a parser knows what a whole
row is: the ss parser joins its own (kit/parsers/ss.py), and
`kit.paste.rejoin_wrapped` does it for netstat and /proc/net. Both count
what they joined (kind WRAPPED in the report).

Every judgement (quoted-printable, tabs, the prefix) is made on the text's
first 256 KiB: a tool mangles a whole paste alike, and a 100k-socket paste
is 20 MB.
"""

from __future__ import annotations

import quopri
import re
from collections import Counter

from kit.frozen import frozen

# Kinds of Undone, in the order unmangle() undoes them.
LINE_ENDS = "line_ends"
QUOTED_PRINTABLE = "quoted_printable"
TABS = "tabs"
PREFIX = "prefix"
WRAPPED = "wrapped"

_MAX_SHAPES = 16  # distinct prefix patterns kept (a month change, a few hostnames)
_MIN_SHARE = 0.02  # of the data lines a prefix shape must be seen on
_MAX_SAMPLES = 500
_SAMPLE_CHARS = (
    1 << 18
)  # QP, tabs and the prefix are judged on the text's first 256 KiB (100k sockets: 20 MiB)  # data lines looked at for the prefix: enough for any paste, cheap at 100k sockets


@frozen
class Undone:
    """One kind of mangling undone: which, on how many lines, and what it was."""

    kind: str  # LINE_ENDS | QUOTED_PRINTABLE | TABS | PREFIX | WRAPPED
    lines: int
    detail: str = ""  # PREFIX: the prefix as found on the first data line; LINE_ENDS: "CR LF" / "CR"


@frozen
class Unmangled:
    text: str
    undone: tuple[Undone, ...] = ()


# First lines of socket data that kit reads (ss, busybox/net-tools netstat,
# /proc/net tables, sockstat): where one is found inside a line, what stands
# before it is the paste's prefix. Row patterns need the two queue numbers, so
# prose rarely matches.
_SS_NETIDS = r"(?:tcp|udp|raw|u_str|u_dgr|u_seq|nl|p_raw|p_dgr|mptcp|sctp|dccp|icmp6|xdp|v_str|v_dgr)"
_STATE = r"[A-Z][A-Z0-9_-]{2,19}"
SS_ROW = re.compile(_SS_NETIDS + r" +" + _STATE + r" +\d+ +\d+ ")
DATA_LINE = re.compile(
    "|".join(
        (
            # ss header, from its first word (leftmost match: never from "State" inside it)
            r"(?:Netid +)?(?:State +)?Recv-Q +Send-Q +Local",
            SS_ROW.pattern,
            r"(?:ESTAB|LISTEN|UNCONN|TIME-WAIT|CLOSE-WAIT|SYN-SENT|SYN-RECV|FIN-WAIT-[12]|LAST-ACK|CLOSING) +\d+ +\d+ ",
            r"Proto +(?:Recv-Q|RefCnt) ",  # netstat headers
            r"Active (?:Internet|UNIX domain) ",
            r"(?:tcp|udp|raw)6? +\d+ +\d+ +\S+:\S+ ",  # netstat inet row
            r"unix +\d+ +\[",  # netstat unix row
            # /proc/net/{tcp,udp,raw}[6], with the kernel's own right-aligning blanks
            r" *sl +local_address ",
            r" *\d+: [0-9A-Fa-f]{8}(?:[0-9A-Fa-f]{24})?:[0-9A-Fa-f]{4} ",
            r"Num +RefCount +Protocol ",  # /proc/net/unix
            r"[0-9a-f]{8,16}: [0-9A-F]{8} [0-9A-F]{8} ",
            r"(?:sockets|TCP6?|UDP6?|UDPLITE6?|RAW6?|FRAG6?): (?:used|inuse) \d+",
            r"Total: \d+",  # ss -s
        )
    )
)


def unmangle(text: str, anchor: re.Pattern[str] = DATA_LINE, tabs: bool = True) -> Unmangled:
    """The text as the command printed it (as far as can be told), and what was undone.

    `tabs=False` keeps tabs as they are: the probe's own output holds files
    with tabs after text (/proc/modules, kallsyms), which are data.
    """
    undone: list[Undone] = []
    text = _line_ends(text, undone)
    text = _quoted_printable(text, undone)
    if tabs:
        text = _tabs(text, undone)
    text = _prefix(text, anchor, undone)
    return Unmangled(text, tuple(undone))


# --- line ends -------------------------------------------------------------------


def _line_ends(text: str, undone: list[Undone]) -> str:
    if "\r" not in text:
        return text
    if "\n" not in text:
        lines = text.split("\r")
        undone.append(Undone(LINE_ENDS, len(lines) - 1, "CR"))
        return "\n".join(lines)
    lines = text.split("\n")
    n = 0
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            lines[i] = line.rstrip("\r")
            n += 1
    if not n:
        return text
    undone.append(Undone(LINE_ENDS, n, "CR LF"))
    return "\n".join(lines)


# --- quoted-printable ------------------------------------------------------------

_QP_EQUALS = re.compile(r"=(?:[0-9A-F]{2}|[ \t]*(?:\n|\Z))")
_QP_EVIDENCE = re.compile(r"=3D|=[ \t]*\n|=(?:20|09)$", re.MULTILINE)  # `=`, a soft break, a blank kept at a line end


def _quoted_printable(text: str, undone: list[Undone]) -> str:
    # An encoding covers the whole text: judged on its head (a 100k-socket ss paste is 20 MB of `pid=`).
    if not _QP_EVIDENCE.search(text[:_SAMPLE_CHARS]):
        return text
    if len(_QP_EQUALS.findall(text)) != text.count("="):
        return text
    soft = len(re.findall(r"=[ \t]*\n", text))
    decoded = quopri.decodestring(text.encode("utf-8")).decode("utf-8", errors="replace")
    undone.append(Undone(QUOTED_PRINTABLE, soft, "soft line breaks and =XX escapes"))
    return decoded


# --- tabs between columns ---------------------------------------------------------

_TAB_AFTER_TEXT = re.compile(r"\S\t")
_INNER = re.compile(r"(?<=\S)[ \t]*\t[ \t]*")


def _tabs(text: str, undone: list[Undone]) -> str:
    """Columns joined by tabs (`unexpand -a`, a chat or spreadsheet) -> blanks.

    The tools kit reads never print a tab right after text (ss's own tabs
    open a continuation line, or follow padding), so only then are the
    tabs inside lines read as blanks; leading ones stay, they mark ss's
    continuation lines.
    """
    if not _TAB_AFTER_TEXT.search(text[:_SAMPLE_CHARS]):
        return text  # judged on the head, as the prefix is: a tool that tabbed the columns tabbed them all
    lines = text.split("\n")
    n = 0
    for i, line in enumerate(lines):
        if "\t" in line.lstrip(" \t"):
            lines[i] = _INNER.sub(" ", line)
            n += 1
    undone.append(Undone(TABS, n, "tabs between columns"))
    return "\n".join(lines)


# --- a prefix on every line ------------------------------------------------------

_PIECE = re.compile(r"\d+|[ \t]+|[^\d \t]+")


def _shape(core: str) -> str:
    """A prefix sample as a pattern: digits stand for any digits, blanks for any blanks."""
    out = []
    for m in _PIECE.finditer(core):
        piece = m.group()
        if piece[0].isdigit():
            out.append(r"\d+")
        elif piece[0] in " \t":
            out.append(r"[ \t]*")
        else:
            out.append(re.escape(piece))
    return "".join(out)


@frozen
class Prefix:
    """The prefix of a paste's data lines: a pattern for the text, and the blanks that follow it."""

    core: re.Pattern[str]  # matches the prefix without its trailing blanks, then (?P<ws>) the blanks
    sep: str  # the blanks every data line has after the core: part of the prefix

    def strip(self, line: str) -> str | None:
        """The line without the prefix, or None when it does not start with it."""
        m = self.core.match(line)
        if m is None:
            return None
        ws = m.group("ws")
        n = 0
        while n < len(ws) and n < len(self.sep) and ws[n] == self.sep[n]:
            n += 1  # the blanks of the prefix; more are the data's own (an ss continuation's tab)
        if m.start("ws") + n == 0:
            return None
        return line[m.start("ws") + n :]


def prefix_of(samples: list[str]) -> Prefix | None:
    """The prefix seen before the data on data lines, or None when there is none.

    The blanks that end every sample are part of the prefix; those that only
    some samples have belong to the data (proc tables right-align their row
    numbers). A line with fewer blanks after the prefix (a mail client's
    wrapped rest, `> 00000000 ...`) loses what it has of them.
    """
    if not samples:
        return None
    cores: Counter[str] = Counter()
    tails = []
    for sample in samples:
        core = sample.rstrip(" \t")
        tails.append(sample[len(core) :])
        cores[_shape(core)] += 1
    sep = tails[0]
    for tail in tails[1:]:
        while not tail.startswith(sep):
            sep = sep[:-1]
    common = cores.most_common(_MAX_SHAPES)
    if common[0][0] == "" and not sep:
        return None  # most data lines start the line: no prefix
    # A shape seen on a stray line or two (an ss header quoted in prose) is no prefix.
    shapes = [shape for shape, n in common if n >= _MIN_SHARE * len(samples)]
    # Longest first, so a nested quote is not read as a shallower one.
    alternatives = "|".join(sorted(shapes, key=len, reverse=True))
    return Prefix(re.compile(f"(?:{alternatives})(?P<ws>[ \t]*)"), sep)


def _prefix(text: str, anchor: re.Pattern[str], undone: list[Undone]) -> str:
    samples = []
    for line in text[:_SAMPLE_CHARS].split("\n"):
        m = anchor.search(line)
        if m:
            samples.append(line[: m.start()])
            if len(samples) == _MAX_SAMPLES:
                break
    prefix = prefix_of(samples)
    if prefix is None:
        return text
    lines = text.split("\n")
    n = 0
    first = None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        rest = prefix.strip(line)
        if rest is None:
            continue
        if first is None and rest.strip():
            first = line[: len(line) - len(rest)]
        lines[i] = rest if rest.strip() else ""
        n += 1
    if not n:
        return text
    undone.append(Undone(PREFIX, n, first if first is not None else ""))
    return "\n".join(lines)
