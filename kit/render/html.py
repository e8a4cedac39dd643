"""The HTML report: one self-contained file for a support ticket.

Rules the template and this module keep:
- Jinja2 autoescape is on, and every string from the device also goes through
  the `t` filter, which shows control and bidi characters as visible escapes
  (a U+202E in a process name must not reverse the row) and cuts long strings
  (a 10 kB unix path must not become a 10 kB table cell).
- No URL of any kind: inline CSS, inline SVG, no scripts, no fonts, no images.
  The report reads the same with JavaScript off and prints cleanly.
- Bounded size: the socket table shows the top sockets by memory and says how
  many it left out (the JSON has them all); raw sections are cut per section
  and in total. A 100k-socket capture stays within a few MB.

The template gets a small view model built here (numbers pre-computed, chart
geometry pre-computed), so the template only lays things out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

from kit.analyse.owners import LABELS as OWNER_LABELS
from kit.analyse.owners import WHY as OWNER_WHY
from kit.analyse.sockstat_vs_skmem import REASONS as ACCOUNTING_REASONS
from kit.analyse.totals import HELD_NOW, Group, top_sockets
from kit.diag_options import REQUIRED
from kit.records import SEVERITIES, SKMEM_GLOSSARY, Socket
from kit.render.finding_text import worded
from kit.render.kdiag_text import describe_remedy, evidence_texts, note_texts, summary_text
from kit.render.summary_text import GLOSSARY as summary_glossary
from kit.render.summary_text import answer_text
from kit.render.text import human_bytes, origin, this_collect_line, undone
from kit.terminal_text import CONTROL, CONTROL_EXCEPT_NEWLINE, escape_char

if TYPE_CHECKING:
    from kit.analyse.kdiag_facts import KernelDiag
    from kit.report import Report

SOCKET_ROWS = 500  # socket table: top N by memory
PROCESS_ROWS = 300
PROBLEM_ROWS = 200
CHART_BARS = 10
TOP_BY = 10  # the "top sockets by r" and "by t+w" tables
RAW_SECTION_BYTES = 128 * 1024  # per raw section shown
RAW_TOTAL_BYTES = 1024 * 1024  # all raw sections together
CELL_CHARS = 120  # device strings in table cells
CAUSE_LABELS = {
    "sockets": "Sockets.",
    "not_sockets": "Not sockets.",
    "unknown": "Cannot tell yet.",
}

AWK_ONE_LINER = "ss -napm | awk -F '[\\(|,]' '/skmem/ {print $2}' | cut -c 2- | awk '{a+=$1}END{print a}'"


# --- text filters --------------------------------------------------------------


def _inert(value: object, limit: int | None, pattern: re.Pattern[str]) -> Markup:
    text = "" if value is None else str(value)
    tail = Markup("")
    if limit is not None and len(text) > limit:
        tail = Markup('<span class="cut">… +{} chars</span>').format(len(text) - limit)
        text = text[:limit]
    if pattern.search(text) is None:  # most cells: nothing to spell out, nothing cut
        return escape(text) + tail if tail else escape(text)
    parts: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        parts.append(str(escape(text[last : m.start()])))
        parts.append(f'<span class="ctl">{escape_char(m.group())}</span>')
        last = m.end()
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts)) + tail


def t(value: object, limit: int | None = CELL_CHARS) -> Markup:
    """Device text for HTML: escaped, control/bidi characters shown as escapes, cut at `limit`."""
    return _inert(value, limit, CONTROL)


def block(value: object, limit: int | None = None) -> Markup:
    """Like `t` but keeps newlines and tabs (for <pre>)."""
    return _inert(value, limit, CONTROL_EXCEPT_NEWLINE)


def plain(value: object, limit: int = 40) -> str:
    """Device text for SVG <text>: no markup allowed there, so escapes are spelled out."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return CONTROL.sub(lambda m: escape_char(m.group()), text)


def num(n: int | None) -> str:
    """12345678 -> '12 345 678' (thin spaces keep columns readable); None -> '-'."""
    if n is None:
        return "-"
    return f"{n:,}".replace(",", "\u202f")


def kib(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1024:,.1f}".replace(",", "\u202f")


# --- view model ------------------------------------------------------------------


@dataclass(slots=True)
class Bar:
    label: str
    value: int
    width: float  # px
    y: int
    detail: str


@dataclass(slots=True)
class TcpMemChart:
    protocol: str
    pages: int
    bytes: int | None
    min: int
    pressure: int
    max: int
    level: str
    scale: float  # px per page
    width: int = 560
    markers: list[tuple[str, float, int]] = field(default_factory=list)  # label, x, pages


def socket_weight(sock: Socket) -> int:
    mem = sock.skmem
    if mem is None:
        # A LISTEN row's queues are a connection count and the backlog, not bytes.
        return 0 if sock.state == "LISTEN" else (sock.recv_q or 0) + (sock.send_q or 0)
    sent, queued = mem.wmem_alloc or 0, mem.wmem_queued or 0
    # held_now, without the builtin max(): its call is half this function's time (100k sockets: 12 -> 7 ms)
    return (mem.rmem_alloc or 0) + (sent if sent > queued else queued)


def _top_sockets(sockets: list[Socket], holding: list[Socket], n: int) -> list[Socket]:
    """The n sockets of the largest socket_weight, equal ones in capture order (what
    sorted(sockets, key=socket_weight, reverse=True)[:n] gives); `holding`: those of weight > 0."""
    import heapq
    import itertools

    top = heapq.nlargest(n, holding, key=socket_weight)
    if len(top) < n:  # the rest of the table: sockets holding nothing, in capture order
        top.extend(itertools.islice((s for s in sockets if not socket_weight(s)), n - len(top)))
    return top


def _process_bars(processes: list[Group], n: int = CHART_BARS) -> list[Bar]:
    shown = [g for g in processes if g.totals.memory > 0 and not g.this_collect][:n]
    if not shown:
        return []
    top = max(g.totals.memory for g in shown) or 1
    bars = []
    for i, g in enumerate(shown):
        label = plain(g.name, 24) + (f" [{g.pid}]" if g.pid is not None else "")
        bars.append(
            Bar(
                label,
                g.totals.memory,
                max(1.0, 300.0 * g.totals.memory / top),
                i * 22,
                f"{human_bytes(g.totals.memory)}",
            )
        )
    return bars


def _mem_charts(report: Report) -> list[TcpMemChart]:
    km = report.kernel_memory
    charts = []
    for proto in (km.tcp, km.udp):
        if proto.pages is None or proto.limits is None:
            continue  # the template says what is missing
        lim = proto.limits
        top = max(lim.max, proto.pages, 1)
        scale = 520.0 / top
        chart = TcpMemChart(
            proto.protocol, proto.pages, km.bytes(proto.pages), lim.min, lim.pressure, lim.max, proto.level(), scale
        )
        chart.markers = [
            ("min", 20 + lim.min * scale, lim.min),
            ("pressure", 20 + lim.pressure * scale, lim.pressure),
            ("max", 20 + lim.max * scale, lim.max),
        ]
        charts.append(chart)
    return charts


def _diag_rows(diag: KernelDiag) -> list[dict[str, Any]]:
    options = diag.options
    names = [n for n in REQUIRED if n in options] + sorted(n for n in options if n not in REQUIRED)
    rows = []
    for name in names:
        opt = options[name]
        rows.append(
            {
                "name": name,
                "state": opt.state,
                "evidence": evidence_texts(opt),
                "remedy": describe_remedy(opt.remedy) if opt.remedy else None,
                "required": name in diag.required,
            }
        )
    return rows


@dataclass(slots=True)
class RawSection:
    name: str
    rc: int | None
    complete: bool
    truncated: bool
    size: int
    shown: str
    cut: int  # bytes not shown here
    stderr: str
    why: str


def _raw_sections(report: Report) -> list[RawSection]:
    from kit.capture import decode
    from kit.sections import BY_NAME

    budget = RAW_TOTAL_BYTES
    out = []
    for s in report.sections:
        size = len(s.stdout)
        n = max(0, min(size, RAW_SECTION_BYTES, budget))
        budget -= n
        shown = decode(s.stdout[:n])
        out.append(
            RawSection(
                s.name,
                s.rc,
                s.complete,
                s.truncated,
                size,
                shown,
                size - n,
                s.stderr,
                BY_NAME[s.name].why if s.name in BY_NAME else "",
            )
        )
    return out


def _shared_sockets(sockets: Iterable[Socket]) -> int:
    # the set only for sockets with several owners: 100k sets cost 15 ms
    return sum(1 for s in sockets if len(s.processes) > 1 and len({p.pid for p in s.processes}) > 1)


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return stamp.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def context(report: Report, redacted: bool = False) -> dict[str, Any]:
    # The sockets holding anything, found once: the three rankings look only at them (at 100k
    # sockets a walk is ~6 ms; most sockets of a big capture hold nothing).
    holding = [s for s in report.sockets if socket_weight(s)]
    top = _top_sockets(report.sockets, holding, SOCKET_ROWS)
    km = report.kernel_memory
    t_ = report.totals
    all_findings = [worded(f) for f in report.findings]
    findings = {s: [f for f in all_findings if f.severity == s] for s in SEVERITIES}
    mem_total = km.mem_total
    skmem_bytes = t_.memory
    return {
        "r": report,
        "dev": report.device,
        "cap": report.capture,
        "diag": {
            "verdict": report.kernel_diag.verdict,
            "summary": summary_text(report.kernel_diag),
            "notes": note_texts(report.kernel_diag),
        },
        "diag_rows": _diag_rows(report.kernel_diag),
        "findings": findings,
        "n_findings": len(report.findings),
        "totals": t_,
        "total_rows": [
            ("r", "rmem_alloc", t_.rmem_alloc, "bytes received, not yet read"),
            ("t", "wmem_alloc", t_.wmem_alloc, "bytes sent, not yet freed"),
            ("w", "wmem_queued", t_.wmem_queued, "bytes queued to send"),
            ("f", "fwd_alloc", t_.fwd_alloc, "bytes reserved, unused"),
        ],
        "skmem_bytes": skmem_bytes,
        "mem_share": (100.0 * skmem_bytes / mem_total) if mem_total else None,
        "avail_share": (100.0 * skmem_bytes / km.mem_available) if km.mem_available else None,
        # r > 0 or t + w > 0 means socket_weight > 0: every such socket is in `holding`
        "top_r": top_sockets(holding, "rmem_alloc", TOP_BY),
        "top_send": top_sockets(holding, "send", TOP_BY),
        "bars": _process_bars(report.processes),
        "mem_charts": _mem_charts(report),
        "mem_missing": [p for p in (km.tcp, km.udp) if p.pages is None or p.limits is None],
        "processes": report.processes[:PROCESS_ROWS],
        "processes_left": max(0, len(report.processes) - PROCESS_ROWS),
        "shared": _shared_sockets(report.sockets),
        "sockets": top,
        "sockets_left": len(report.sockets) - len(top),
        "socket_rows": SOCKET_ROWS,
        "problems": report.parse_problems[:PROBLEM_ROWS],
        "problems_left": max(0, len(report.parse_problems) - PROBLEM_ROWS),
        "raw": _raw_sections(report),
        "km": km,
        "counters": km.counters,
        "watched_counters": km.watched,
        "glossary": SKMEM_GLOSSARY,
        "held_now": HELD_NOW,
        "summary": report.summary,
        "cause_label": CAUSE_LABELS[report.summary.cause],
        "summary_rules": summary_glossary,
        "answer": answer_text(report.summary),
        "ours": report.this_collect,
        "ours_line": this_collect_line(report) if report.this_collect.sockets else "",
        "where": report.memory_elsewhere,
        "accounting": report.accounting,
        "accounting_reasons": ACCOUNTING_REASONS,
        "owner_why": OWNER_WHY,
        "owner_labels": OWNER_LABELS,
        "CELL": CELL_CHARS,
        "awk": AWK_ONE_LINER,
        "started": _when(report.capture.started),
        "redacted": redacted,
        "origin": origin(report.capture),
        "undone": undone(report.capture),
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


# --- rendering -------------------------------------------------------------------


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Templates compiled once and kept between runs: compiling report.html.j2
    costs ~0.16 s of every `kit collect` and `kit render`, loading it ~0.01 s.
    Jinja2 keeps them in a directory of the user's own (mode 0700, checked),
    keyed by the template's checksum; a cache that cannot be written is no error."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _QuietBytecodeCache()
    except (OSError, RuntimeError):  # no safe directory for it: compile every time
        return None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kit", "templates"),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(t=t, block=block, plain=plain, num=num, kib=kib, hb=human_bytes)
    return env


def render(report: Report, redact: bool = False) -> str:
    """One self-contained HTML document for `report` (addresses and names replaced if `redact`)."""
    if redact:
        from kit import redact as redact_mod

        report = redact_mod.redact(report)
    env = environment()
    return env.get_template("report.html.j2").render(**context(report, redacted=redact))
