"""The index of many devices' reports (schema kit.fleet/1, docs/fleet.md): one entry per device.

`kit collect -f FILE` writes it for a fleet it collected, and `kit render A B
...` for the captures it rendered; each device is a kit.collect.Collected whose
`target` is what the user wrote. Entries keep the input's order; the HTML
shows them worst first (`rank`). Paths are written relative to the index
file, so the reports folder can be zipped onto a ticket as it is.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit import failure_note
from kit.collect import Collected
from kit.render.json import totals_dict
from kit.report import Report

if TYPE_CHECKING:
    from kit.capture import Capture

SCHEMA = "kit.fleet/1"
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def top_process(report: Report) -> dict[str, Any] | None:
    """The report summary's top holder of socket memory (this collect's own session left out), or None."""
    holder = report.summary.top_holder
    if holder is None:
        return None
    return {"name": holder.name, "pid": holder.pid, "bytes": holder.bytes, "sockets": holder.sockets}


def worst_finding(report: Report) -> dict[str, str] | None:
    ranked = sorted(report.findings, key=lambda f: SEVERITY_RANK.get(f.severity, 3))
    if not ranked:
        return None
    from kit.render.finding_text import worded  # words for the index page, only when a finding is there

    return {"severity": ranked[0].severity, "title": worded(ranked[0]).title}


def _relative(path: Path | None, base: Path) -> str | None:
    return None if path is None else os.path.relpath(Path(path).resolve(), base.resolve())


def device_dict(entry: Collected, base: Path) -> dict[str, Any]:
    """One `devices` item; `entry.target` as the user wrote it, paths relative to the index's folder `base`."""
    rep = entry.report
    return {
        "target": entry.target,
        "exit": entry.exit_code,
        "error": entry.error,
        "hostname": rep.device.hostname if rep else None,
        "verdict": rep.kernel_diag.verdict if rep else None,
        "totals": totals_dict(rep.totals) if rep else None,
        "share_of_memtotal": rep.summary.share_of_memtotal if rep else None,
        "top_process": top_process(rep) if rep else None,
        "worst_finding": worst_finding(rep) if rep else None,
        "capture": _relative(entry.capture, base),
        "html": _relative(entry.html, base),
        "json": _relative(entry.json, base),
    }


def iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat()


def to_dict(entries: list[Collected], started: float, finished: float, base: Path) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "started": iso(started),
        "finished": iso(finished),
        "devices": [device_dict(e, base) for e in entries],
    }


def rank(device: dict[str, Any]) -> tuple[int, float]:
    """Sort key, worst first: not reached (no report), then partial or verdict not ok, then
    critical, then warning findings, then the larger socket memory share."""
    finding = (device["worst_finding"] or {}).get("severity")
    if device["verdict"] is None:
        group = 0
    elif device["exit"] == 4 or device["verdict"] != "ok":
        group = 1
    elif finding == "critical":
        group = 2
    elif finding == "warning":
        group = 3
    else:
        group = 4
    return (group, -(device["share_of_memtotal"] or 0.0))


def exit_code(entries: list[Collected]) -> int:
    """0 when every device gave 0, else the largest code any device gave."""
    return max((e.exit_code for e in entries), default=0)


def render_one(arg: str, reports: Path, read: Callable[[str], tuple[Capture, str]]) -> Collected:
    """`kit render ARG` for an index: the HTML report under `reports`, and the exit a collect would give.

    `read` is how `kit render` reads its input (a file, or stdin for `-`). An
    input kit cannot read is exit 2 with the reason, never an exception: the
    other inputs still get their reports and the index lists this one.
    """
    from kit import capture
    from kit import report as report_mod
    from kit.collect import exit_code as collect_exit
    from kit.errors import KitError
    from kit.render import html

    note = failure_note.read(Path(arg)) if arg != "-" else None
    if note is not None:
        return Collected(target=arg, exit_code=note.exit, error=f"{note.target}: {note.error}")
    try:
        cap, source = read(arg)
    except KitError as exc:
        return Collected(target=arg, exit_code=exc.exit_code, error=str(exc))
    rep = report_mod.build(cap, source=source)
    name = "stdin" if arg == "-" else Path(arg).stem
    html_path = capture.write_new(reports, name, ".html", html.render(rep).encode("utf-8"))
    partial = rep.capture.partial
    return Collected(
        target=arg,
        exit_code=collect_exit(rep, partial),
        error=(rep.capture.error or "the probe's output is cut short") if partial else None,
        capture=None if arg == "-" else Path(arg),
        html=html_path,
        report=rep,
    )


def write(entries: list[Collected], reports: Path, started: float, finished: float) -> tuple[Path, Path]:
    """Write index-<time>.html and index-<time>.json under `reports`; returns (html, json)."""
    import json

    from kit import capture
    from kit.collect import timestamp
    from kit.render import index as index_html
    from kit.terminal_text import json_safe

    data = to_dict(entries, started, finished, reports)
    name = f"index-{timestamp(started)}"
    text = json_safe(json.dumps(data, indent=1, ensure_ascii=False)) + "\n"
    json_path = capture.write_new(reports, name, ".json", text.encode("utf-8"))
    html = index_html.render(data, json_name=json_path.name)
    html_path = capture.write_new(reports, json_path.stem, ".html", html.encode("utf-8"))
    return html_path, json_path
