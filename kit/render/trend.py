"""The trend report: JSON (schema kit.trend/1, docs/trend.schema.json), text, and one HTML file with inline SVG.

Reads a kit.analyse.trend.Trend only. Charts are polylines computed here
(geometry in the view model, as kit.render.html does); device strings reach
SVG only through `plain()` and autoescape.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass, field
from typing import Any

from kit import __version__
from kit.analyse.trend import GROW_MIN_BYTES, MIN_SAMPLES, Sample, Trend
from kit.render.diff import caveat_text, signed_bytes
from kit.render.finding_text import worded
from kit.render.json import socket_dict, totals_dict, write_data
from kit.render.text import human_bytes
from kit.terminal_text import visible

CHART_PROCESSES = 8  # lines in the per-process chart
HTML_ROWS = 200
WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 28  # plot margins inside the SVG


# The growing rule (kit.analyse.trend.growth and _critical) in words: JSON `rule` and the glossary.
GROWING_RULE = (
    f"A process or socket is growing when, over at least {MIN_SAMPLES} samples where it exists, its memory "
    f"(r + t + w) rose in more than half of the steps from one sample to the next, and by at least "
    f"{GROW_MIN_BYTES // 1024} KiB from its first sample to its last. It is critical when, at its rate (a "
    f"least-squares line through its samples), it would within an hour bring TCP memory (sockstat) to "
    f"tcp_mem's pressure threshold (counting its TCP sockets) or itself reach a tenth of MemTotal; "
    f"otherwise a warning."
)


# --- JSON ------------------------------------------------------------------------


def _sample_dict(s: Sample) -> dict[str, Any]:
    lim = s.tcp_limits
    return {
        "captured": s.side.captured,
        "capture": s.side.source,
        "totals": totals_dict(s.totals),
        "kernel_diag": s.kernel_diag,
        "tcp_mem": {
            "pages": s.tcp_pages,
            "min": lim.min if lim else None,
            "pressure": lim.pressure if lim else None,
            "max": lim.max if lim else None,
        },
        "udp_pages": s.udp_pages,
        "page_size": s.page_size,
        "mem_total": s.mem_total,
    }


def _growth(g: Any) -> dict[str, Any] | None:
    if g is None:
        return None
    return {**asdict(g), "rise": g.rise}


def to_dict(trend: Trend) -> dict[str, Any]:
    return {
        "schema": trend.schema,
        "kit_version": __version__,
        "device": trend.device,
        "samples": [_sample_dict(s) for s in trend.samples],
        "processes": [
            {"name": p.name, "pid": p.pid, "series": p.values, "sockets": p.sockets, "growing": _growth(p.growth)}
            for p in trend.processes
        ],
        "sockets": [{**socket_dict(s.socket), "series": s.values, "growing": _growth(s.growth)} for s in trend.sockets],
        "findings": [asdict(worded(f)) for f in trend.findings],
        "rule": GROWING_RULE,
        "warnings": [caveat_text(w) for w in trend.warnings],
    }


def render_json(trend: Trend) -> str:
    """Laid out and escaped as the report's JSON (kit.render.json: control and bidi characters escaped)."""
    buf = io.StringIO()
    write_data(to_dict(trend), buf)
    return buf.getvalue()


# --- text ------------------------------------------------------------------------


def _memory(s: Sample) -> int:
    t = s.totals
    return t.rmem_alloc + t.wmem_alloc + t.wmem_queued


def render_text(trend: Trend, top: int = 8) -> str:
    first, last = trend.samples[0], trend.samples[-1]
    who = visible(trend.device.get("hostname") or trend.device.get("target") or "unnamed device", 80)
    lines = [
        f"kit trend: {who}, {len(trend.samples)} samples, "
        f"{visible(first.side.captured or '?', 40)} -> {visible(last.side.captured or '?', 40)}"
    ]
    lines += [f"WARNING: {visible(caveat_text(w), 300)}" for w in trend.warnings]
    lines.append(
        f"Sockets {first.totals.sockets} -> {last.totals.sockets}; r+t+w {human_bytes(_memory(first))} -> "
        f"{human_bytes(_memory(last))} ({signed_bytes(_memory(last) - _memory(first))})"
    )
    if last.tcp_pages is not None:
        lim = last.tcp_limits
        lines.append(
            f"TCP memory (sockstat) {first.tcp_pages} -> {last.tcp_pages} pages"
            + (f"; tcp_mem min {lim.min} pressure {lim.pressure} max {lim.max}" if lim else "")
        )
    lines.append(f"Processes (r+t+w, first -> last sample), top {min(top, len(trend.processes))}:")
    for p in trend.processes[:top]:
        present = [v for v in p.values if v is not None]
        mark = "  GROWING" if p.growth else ""
        lines.append(f"  {human_bytes(present[0]):>10} -> {human_bytes(present[-1]):>10}  {visible(p.label, 60)}{mark}")
    if trend.findings:
        lines.append(f"Findings ({len(trend.findings)}):")
        for f in trend.findings:
            lines.append(f"  [{f.severity}] {visible(worded(f).title, 300)}")
    else:
        lines.append("Findings: nothing grows (rule: see --format html, glossary)")
    return "\n".join(lines) + "\n"


# --- HTML: line charts -----------------------------------------------------------


@dataclass(slots=True)
class Line:
    label: str
    points: str  # "x,y x,y ..." for <polyline>
    css: str  # c0..c7, or "limit"
    dots: list[tuple[float, float]] = field(default_factory=list)
    last: tuple[float, float] = (0.0, 0.0)


@dataclass(slots=True)
class Chart:
    title: str
    lines: list[Line]
    yticks: list[tuple[float, str]]  # y, label
    xticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM


def _x_positions(trend: Trend) -> tuple[list[float], list[tuple[float, str]]]:
    n = len(trend.samples)
    times = trend.times
    plot = WIDTH - LEFT - RIGHT
    if all(t is not None for t in times) and n > 1 and times[-1] != times[0]:
        t0, t1 = float(times[0] or 0.0), float(times[-1] or 0.0)
        xs = [LEFT + plot * ((t or 0.0) - t0) / (t1 - t0) for t in times]
        span = t1 - t0
        ticks = []
        for i in range(5):
            sec = span * i / 4
            if span < 10:
                label = f"+{sec:.1f}s"
            elif span < 120:
                label = f"+{sec:.0f}s"
            else:
                label = f"+{sec / 60:.0f}m" if span < 7200 else f"+{sec / 3600:.1f}h"
            ticks.append((LEFT + plot * i / 4, label))
        return xs, ticks
    xs = [LEFT + (plot * i / (n - 1) if n > 1 else plot / 2) for i in range(n)]
    return xs, [(x, f"#{i + 1}") for i, x in enumerate(xs)][:: max(1, n // 8)]


def _short(n: float, unit: str) -> str:
    if unit == "bytes":
        return human_bytes(int(n))
    return f"{n:,.0f}".replace(",", "\u202f")


def chart(trend: Trend, title: str, series: list[tuple[str, list[int | None], str]], unit: str = "bytes") -> Chart:
    """One line per series (label, values, css class); None values leave a gap at that sample."""
    xs, xticks = _x_positions(trend)
    peak = max((v for _, values, _ in series for v in values if v is not None), default=0)
    # An all-zero chart still gets a readable scale (1 KiB, or 4 of a count), not ticks of fractions of a byte.
    top = 1.08 * peak if peak else (1024.0 if unit == "bytes" else 4.0)
    plot_h = HEIGHT - TOP - BOTTOM

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    lines = []
    for label, values, css in series:
        pts = [(xs[i], y(v)) for i, v in enumerate(values) if v is not None]
        if not pts:
            continue
        lines.append(
            Line(label, " ".join(f"{a:.1f},{b:.1f}" for a, b in pts), css, pts if len(pts) <= 60 else [], pts[-1])
        )
    yticks = [(y(top * i / 4), _short(top * i / 4, unit)) for i in range(5)]
    return Chart(title, lines, yticks, xticks)


def _charts(trend: Trend) -> list[Chart]:
    from kit.render.html import plain

    samples = trend.samples
    charts = [
        chart(
            trend,
            "Socket memory, all sockets (bytes)",
            [
                ("r rmem_alloc", [s.totals.rmem_alloc for s in samples], "c0"),
                ("t wmem_alloc", [s.totals.wmem_alloc for s in samples], "c1"),
                ("w wmem_queued", [s.totals.wmem_queued for s in samples], "c2"),
            ],
        ),
        chart(trend, "Sockets (count)", [("sockets", [s.totals.sockets for s in samples], "c0")], unit="count"),
    ]
    procs = [p for p in trend.processes if p.peak > 0][:CHART_PROCESSES]
    if procs:
        charts.append(
            chart(
                trend,
                f"Socket memory per process (r + t + w), top {len(procs)}",
                [(plain(p.label, 28), p.values, f"c{i % 8}") for i, p in enumerate(procs)],
            )
        )
    if any(s.tcp_pages is not None for s in samples):
        lim = [s.tcp_limits for s in samples]
        charts.append(
            chart(
                trend,
                "TCP memory (sockstat mem, pages) against tcp_mem",
                [
                    ("TCP pages in use", [s.tcp_pages for s in samples], "c0"),
                    ("min", [x.min if x else None for x in lim], "limit c2"),
                    ("pressure", [x.pressure if x else None for x in lim], "limit c3"),
                    ("max", [x.max if x else None for x in lim], "limit c1"),
                ],
                unit="pages",
            )
        )
    return charts


def context(trend: Trend) -> dict[str, Any]:
    return {
        "tr": trend,
        "warnings": [caveat_text(w) for w in trend.warnings],
        "findings": [worded(f) for f in trend.findings],
        "kit_version": __version__,
        "charts": _charts(trend),
        "processes": trend.processes[:HTML_ROWS],
        "processes_left": max(0, len(trend.processes) - HTML_ROWS),
        "sockets": trend.sockets[:HTML_ROWS],
        "rule": GROWING_RULE,
        "memory": _memory,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def render_html(trend: Trend) -> str:
    from kit.render.html import environment

    env = environment()
    env.filters.update(sb=signed_bytes)
    return env.get_template("trend.html.j2").render(**context(trend))
