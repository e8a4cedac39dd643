"""`kit diff` output: JSON (schema kit.diff/1, docs/diff.schema.json), text and one HTML file.

Reads a kit.analyse.diff_records.Diff only. Device strings go through the same
guards as the report's: `visible()` for text, the `t` filter (and autoescape)
for HTML, `plain()` inside SVG. The HTML shares the report's CSS and, like
the report, bounds its tables (the JSON has every row).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, TextIO

from kit import __version__
from kit.analyse.diff import socket_weight
from kit.analyse.diff_records import Caveat, Diff, ProcessChange, ProcMem, Side, SocketChange
from kit.render import json as json_render
from kit.render.finding_text import describe, worded
from kit.render.json import socket_dict, socket_line
from kit.render.text import human_bytes
from kit.terminal_text import visible


def describe_side(s: Side) -> str:
    """A capture's device in words: its host name (or target) and host key."""
    parts = [s.hostname or s.target or "unnamed device"]
    if s.host_key:
        parts.append(f"host key {s.host_key}")
    return ", ".join(parts)


_CAVEATS = {
    "backwards": "NEW was captured before OLD: every change below reads backwards (swap the arguments).",
    "partial": "{side} is a partial capture: sockets it did not list show as new or gone.",
    "no_skmem": "{side} has no per-socket memory (no skmem): its sockets count with their queue bytes only.",
    "no_sockets": "{side} lists no sockets at all.",
    "no_times": "Some captures carry no capture time (pastes?): the samples are in the order given, and no rate "
    "per hour is computed.",
    "samples_without_skmem": "Some samples have no skmem: their memory is Recv-Q + Send-Q only.",
}


def caveat_text(c: Caveat) -> str:
    """One warning of kit diff or kit trend (JSON `warnings`)."""
    if c.kind == "other_devices":
        return (
            f"OLD and NEW come from different devices ({describe_side(c.sides[0])}; {describe_side(c.sides[1])}): "
            "the changes below compare two machines, not one machine over time."
        )
    if c.kind == "sources":
        return (
            f"OLD's sockets come from {c.names[0]}, NEW's from {c.names[1]}: "
            "fields one source has and the other lacks are not compared."
        )
    if c.kind == "counters_down":
        return (
            "Counters since boot went down (" + ", ".join(c.names) + "): the device "
            "rebooted between the captures, or they come from different network namespaces."
        )
    if c.kind == "few_samples":
        return (
            f"{c.counts[0]} sample(s): the growing rule needs at least {c.counts[1]}; "
            "for two captures, kit diff shows what changed."
        )
    return _CAVEATS[c.kind].format(side=c.side)


HTML_ROWS = 200  # per table in the HTML
TEXT_ROWS = 10  # per list in the text form
CHART_BARS = 12


def signed_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    if n == 0:
        return "0"
    return ("+" if n > 0 else "-") + human_bytes(abs(n))


def signed(n: int | None) -> str:
    if n is None:
        return "-"
    return f"+{n}" if n > 0 else str(n)


# --- JSON ------------------------------------------------------------------------


def _mem(m: ProcMem) -> dict[str, int]:
    return {"r": m.r, "t": m.t, "w": m.w, "sockets": m.sockets}


def _process(p: ProcessChange) -> dict[str, Any]:
    return {
        "name": p.name,
        "pid": p.pid,
        "old_pid": p.old_pid,
        "status": p.status,
        "old": _mem(p.old),
        "new": _mem(p.new),
        "change": _mem(p.change),
    }


def _changed(c: SocketChange) -> dict[str, Any]:
    return {**socket_dict(c.socket), "change": dict(c.change), "old_state": c.old.state}


def to_dict(d: Diff, sockets: bool = True) -> dict[str, Any]:
    """The diff as plain data; `sockets=False` leaves the (big) new/gone/changed lists empty."""
    return {
        "schema": d.schema,
        "kit_version": __version__,
        "old": asdict(d.old),
        "new": asdict(d.new),
        "same_device": d.same_device,
        "seconds": d.seconds,
        "warnings": [caveat_text(w) for w in d.warnings],
        "totals": {k: {"old": c.old, "new": c.new, "change": c.change} for k, c in d.totals.items()},
        "processes": [_process(p) for p in d.processes],
        "sockets": {
            "new": [socket_dict(s) for s in d.sockets.new] if sockets else [],
            "gone": [socket_dict(s) for s in d.sockets.gone] if sockets else [],
            "changed": [_changed(c) for c in d.sockets.changed] if sockets else [],
            "unchanged": d.sockets.unchanged,
            "left_out": d.sockets.left_out,
        },
        "findings": {
            "new": [asdict(worded(f)) for f in d.findings.new],
            "resolved": [asdict(worded(f)) for f in d.findings.resolved],
            "still": [asdict(worded(f)) for f in d.findings.still],
        },
        "kernel_diag": {
            "old": d.kernel_diag.old,
            "new": d.kernel_diag.new,
            "options": [{"name": n, "old": a, "new": b} for n, a, b in d.kernel_diag.options],
        },
        "counters": [
            {"group": c.group, "name": c.name, "meaning": c.meaning, "old": c.old, "new": c.new, "change": c.change}
            for c in d.counters
        ],
        "kernel_memory": {k: {"old": c.old, "new": c.new, "change": c.change} for k, c in d.kernel_memory.items()},
    }


def _socket_lists(d: Diff, rest: dict[str, Any]) -> Iterator[str]:
    """data["sockets"], its lists one socket a line (kit.render.json's layout and escaping)."""
    memo: dict[Any, str] = {}

    def lines(items: list[str]) -> Iterator[str]:
        if not items:
            yield "[]"
            return
        yield "[\n   " + ",\n   ".join(items) + "\n  ]"

    changed = [
        socket_line(c.socket, memo)[:-1]
        + f', "change": {json_render._inline(dict(c.change))}, "old_state": {json_render._str(c.old.state)}}}'
        for c in d.sockets.changed
    ]
    yield "{\n  " + '"new": '
    yield from lines([socket_line(s, memo) for s in d.sockets.new])
    yield ',\n  "gone": '
    yield from lines([socket_line(s, memo) for s in d.sockets.gone])
    yield ',\n  "changed": '
    yield from lines(changed)
    for key, value in rest.items():
        if key not in ("new", "gone", "changed"):
            yield f",\n  {json_render._key(key)}: "
            yield from json_render._value(value, 2)
    yield "\n }"


def write_json(d: Diff, out: TextIO) -> None:
    """Stream the JSON diff: sockets one a line, strings escaped as in the report (kit.render.json.string)."""
    data = to_dict(d, sockets=False)

    def pieces() -> Iterator[str]:
        yield "{"
        for n, (key, value) in enumerate(data.items()):
            yield ("," if n else "") + "\n " + json_render._key(key) + ": "
            if key == "sockets":
                yield from _socket_lists(d, value)
            else:
                yield from json_render._value(value, 1)
        yield "\n}\n"

    json_render._write_pieces(pieces(), out)


def render_json(d: Diff) -> str:
    buf = io.StringIO()
    write_json(d, buf)
    return buf.getvalue()


# --- text ------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "time between them unknown"
    s = abs(int(seconds))
    text = f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")
    return text + (" earlier" if seconds < 0 else " apart")


def _who(side: Side) -> str:
    return visible(side.hostname or side.target or "unnamed device", 80)


def _change_line(c: SocketChange) -> str:
    parts = [f"{k} {signed(v)}" for k, v in c.change.items()]
    if c.old.state != c.socket.state:
        parts.insert(0, f"state {visible(c.old.state, 16)} -> {visible(c.socket.state, 16)}")
    return ", ".join(parts)


def render_text(d: Diff, top: int = TEXT_ROWS) -> str:
    lines = [
        f"kit diff: {_who(d.old)} {visible(d.old.captured or 'time unknown', 40)} -> "
        f"{_who(d.new)} {visible(d.new.captured or 'time unknown', 40)} ({_duration(d.seconds)})"
    ]
    lines += [f"WARNING: {visible(caveat_text(w), 400)}" for w in d.warnings]
    lines.append(f"{'':14}{'old':>12}{'new':>12}{'change':>12}")
    for name, total in d.totals.items():
        is_bytes = name not in ("sockets", "with_skmem", "sock_drop")
        fmt = human_bytes if is_bytes else (lambda v: "-" if v is None else str(v))
        ch = signed_bytes(total.change) if is_bytes else signed(total.change)
        lines.append(f"{name:14}{fmt(total.old):>12}{fmt(total.new):>12}{ch:>12}")
    moved = [p for p in d.processes if p.change != ProcMem() or p.status != "same"]
    if moved:
        lines.append(f"Processes that changed ({len(moved)}), largest first:")
        lines.append(f"  {'r':>10} {'t':>10} {'w':>10} {'sockets':>8}  process")
        for p in moved[:top]:
            pc = p.change
            status = (
                ""
                if p.status == "same"
                else f" ({p.status}" + (f", was pid {p.old_pid})" if p.status == "restarted" else ")")
            )
            lines.append(
                f"  {signed_bytes(pc.r):>10} {signed_bytes(pc.t):>10} {signed_bytes(pc.w):>10} "
                f"{signed(pc.sockets):>8}  {visible(p.name, 40)}"
                + (f" [{p.pid}]" if p.pid is not None else "")
                + status
            )
        if len(moved) > top:
            lines.append(f"  ... {len(moved) - top} more (--format json lists them all)")
    else:
        lines.append("Processes: no change")
    s = d.sockets
    lines.append(
        f"Sockets: {len(s.new)} new, {len(s.gone)} gone, {len(s.changed)} changed, {s.unchanged} unchanged"
        + (f" ({s.left_out} of this collect's own SSH session left out)" if s.left_out else "")
    )
    for sc in s.changed[:top]:
        lines.append(f"  changed: {visible(describe(sc.socket), 300)}: {_change_line(sc)}")
    for label, socks in (("new", s.new), ("gone", s.gone)):
        for sock in socks[:top]:
            lines.append(f"  {label}: {visible(describe(sock), 300)}")
        if len(socks) > top:
            lines.append(f"  ... {len(socks) - top} more {label}")
    k = d.kernel_diag
    lines.append(
        f"Kernel socket diag: {visible(k.old).upper()} -> {visible(k.new).upper()}"
        if k.old != k.new
        else f"Kernel socket diag: {visible(k.new).upper()} (unchanged)"
    )
    for name, a, b in k.options:
        lines.append(f"  {visible(name, 60)}: {visible(a or '-')} -> {visible(b or '-')}")
    for label, items in (("new", d.findings.new), ("resolved", d.findings.resolved)):
        for f in items:
            lines.append(f"Finding {label}: [{f.severity}] {visible(worded(f).title, 200)}")
    for cc in d.counters:
        if cc.change:
            lines.append(f"Counter {cc.group} {cc.name}: {cc.old} -> {cc.new} ({signed(cc.change)}): {cc.meaning}")
    if not (d.findings.new or d.findings.resolved):
        lines.append(f"Findings: no change ({len(d.findings.still)} on both sides)")
    return "\n".join(lines) + "\n"


# --- HTML ------------------------------------------------------------------------


def _bars(d: Diff) -> list[dict[str, Any]]:
    """Per-process memory change as a bar chart: growth right of the axis, shrinkage left of it."""
    from kit.render.html import plain

    shown = [p for p in d.processes if p.change.memory][:CHART_BARS]
    if not shown:
        return []
    top = max(abs(p.change.memory) for p in shown) or 1
    grows, shrinks = any(p.change.memory > 0 for p in shown), any(p.change.memory < 0 for p in shown)
    # Bars live between x=175 and x=475; the value is printed in a column of its own at the right.
    axis, span = (325.0, 150.0) if grows and shrinks else ((175.0, 300.0) if grows else (475.0, 300.0))
    bars = []
    for i, p in enumerate(shown):
        width = max(1.0, span * abs(p.change.memory) / top)
        grow = p.change.memory > 0
        bars.append(
            {
                "label": plain(p.name, 24) + (f" [{p.pid}]" if p.pid is not None else ""),
                "x": axis if grow else axis - width,
                "width": width,
                "y": i * 22,
                "grow": grow,
                "text": signed_bytes(p.change.memory),
                "axis": axis,
            }
        )
    return bars


def context(d: Diff, redacted: bool = False) -> dict[str, Any]:
    moved = [p for p in d.processes if p.change != ProcMem() or p.status != "same"]
    s = d.sockets
    return {
        "d": d,
        "warnings": [caveat_text(w) for w in d.warnings],
        "findings": {
            "new": [worded(f) for f in d.findings.new],
            "resolved": [worded(f) for f in d.findings.resolved],
            "still": [worded(f) for f in d.findings.still],
        },
        "kit_version": __version__,
        "duration": _duration(d.seconds),
        "totals": list(d.totals.items()),
        "byte_fields": {"rmem_alloc", "wmem_alloc", "wmem_queued", "fwd_alloc", "recv_q", "send_q"},
        "processes": moved[:HTML_ROWS],
        "processes_left": max(0, len(moved) - HTML_ROWS),
        "processes_same": len(d.processes) - len(moved),
        "bars": _bars(d),
        "changed": s.changed[:HTML_ROWS],
        "changed_left": max(0, len(s.changed) - HTML_ROWS),
        "new_sockets": s.new[:HTML_ROWS],
        "new_left": max(0, len(s.new) - HTML_ROWS),
        "gone_sockets": s.gone[:HTML_ROWS],
        "gone_left": max(0, len(s.gone) - HTML_ROWS),
        "counters": d.counters,
        "weight": socket_weight,
        "change_line": _change_line,
        "redacted": redacted,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def render_html(d: Diff, redacted: bool = False) -> str:
    from kit.render.html import environment

    env = environment()
    env.filters.update(sb=signed_bytes, signed=signed)
    return env.get_template("diff.html.j2").render(**context(d, redacted=redacted))
