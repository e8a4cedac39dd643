"""The terminal summary: verdict, top processes by memory, findings, the report path.

Printed by `kit render --format text` and at the end of `kit collect`. Every
string from the device goes through `visible()` first: a process name or a
hostname can hold terminal escape sequences (ESC [ 2 J clears the screen of
whoever reads the ticket) or bidi overrides, and they must print as inert
text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.records import SEVERITIES
from kit.render.finding_text import worded
from kit.render.kdiag_text import summary_text
from kit.render.summary_text import answer_text, human
from kit.terminal_text import visible

if TYPE_CHECKING:
    from kit.report import CaptureInfo, Report


UNREAD_SHOWN = 3  # unread lines the summary quotes (the HTML and JSON list them all)


def origin(cap: CaptureInfo) -> str | None:
    """Where the report's text came from, when it is not a capture written by kit collect."""
    if cap.hand_run:
        left = [
            f"{count} line{'s' if count != 1 else ''} {where}"
            for count, where in ((cap.lines_before, "before it"), (cap.lines_after, "after it"))
            if count
        ]
        return f"the output of a hand-run probe (kit probe {visible(cap.kit_version or '?', 20)})" + (
            f"; left out {' and '.join(left)} (echoed command line, prompt, other text)" if left else ""
        )
    if cap.raw_paste:
        return f"a pasted {visible(cap.detected or 'text', 30)} listing"
    return None


def undone(cap: CaptureInfo) -> list[str]:
    """What was undone to read the text (kit.unmangle), one sentence each."""
    return [describe_undone(u.kind, u.lines, u.detail) for u in cap.unmangled]


def describe_undone(kind: str, lines: int, detail: str) -> str:
    """One kit.unmangle.Undone as a sentence: "removed '> > ' quoting from 212 lines"."""
    s = "" if lines == 1 else "s"
    if kind == "line_ends":
        return f"read {visible(detail)} line ends as LF ({lines} line{s})"
    if kind == "quoted_printable":
        return f"decoded quoted-printable ({lines} soft line break{s} joined, =XX escapes decoded)"
    if kind == "tabs":
        return f"read tabs between columns as blanks ({lines} line{s})"
    if kind == "prefix":
        core = detail.strip()
        if core and set(core) <= set("> \t"):
            return f"removed {visible(detail)!r} quoting from {lines} line{s}"
        if not core:
            return f"removed {len(detail)} blank{'s' if len(detail) != 1 else ''} of indentation from {lines} line{s}"
        return f"removed the prefix {visible(detail, 80)!r} (as on the first line) from {lines} line{s}"
    if kind == "wrapped":
        return f"joined {lines} wrapped line{s}"
    return f"{visible(kind)}: {lines} line{s}"


def human_bytes(n: int | None) -> str:
    """1536 -> '1.5 KiB'; exact bytes below 1 KiB."""
    return "-" if n is None else human(n, byte_word="B")


ROLES = {"ssh session": "SSH session", "kit": "kit itself", "ss": "ss's own query"}


def this_collect_line(report: Report) -> str:
    """Which sockets carry this collect itself, and that they are left out of the answer and the findings."""
    ours = report.this_collect
    who = "; ".join(f"{ROLES.get(p.role, p.role)}: {p.name} [{p.pid}]" for p in ours.processes)
    return (
        f"Left out of the answer and the findings as this collect's own: {ours.sockets} socket(s) holding "
        f"{human_bytes(ours.memory)}" + (f" ({who})" if who else "") + "."
    )


def render(report: Report, report_path: str | None = None, top: int = 5) -> str:
    dev = report.device
    cap = report.capture
    diag = report.kernel_diag
    diag_summary = summary_text(diag)
    t = report.totals
    lines: list[str] = []
    who = visible(dev.hostname or cap.target or "?", 80)
    kernel = " ".join(visible(x, 60) for x in (dev.kernel_release, dev.machine) if x)
    when = visible(cap.started or "", 40)
    lines.append(
        f"kit {report.kit_version}: {who}"
        + (f", kernel {kernel}" if kernel else "")
        + (f", captured {when}" if when else "")
    )
    lines.append(f"Answer ({report.summary.cause}): " + visible(answer_text(report.summary), 1000))
    ours = report.this_collect
    if ours.sockets:
        lines.append("  " + visible(this_collect_line(report), 300))
    if origin(cap):
        lines.append(f"Read from {origin(cap)}")
    if undone(cap):
        lines.append("To read it, kit " + "; ".join(undone(cap)))
    if cap.partial:
        lines.append("PARTIAL CAPTURE: " + visible(cap.error or "the probe did not finish", 200))
    lines.append(
        f"Kernel socket diag: {visible(diag.verdict).upper()}"
        + (f" — {visible(diag_summary, 200)}" if diag_summary else "")
    )
    lines.append(
        f"Socket memory: {t.sockets} sockets ({t.with_skmem} with skmem) — "
        f"r (rmem_alloc) {human_bytes(t.rmem_alloc)}, t (wmem_alloc) {human_bytes(t.wmem_alloc)}, "
        f"w (wmem_queued) {human_bytes(t.wmem_queued)}, f (fwd_alloc) {human_bytes(t.fwd_alloc)}, "
        f"d (drops) {t.sock_drop}"
    )
    if report.parse_problems:
        lines.append(f"Lines kit could not read: {len(report.parse_problems)}, the first:")
        for p in report.parse_problems[:UNREAD_SHOWN]:
            lines.append(f"  {visible(p.section, 30)} line {p.problem.line}: {visible(p.problem.text, 100)}")
    procs = [g for g in report.processes if g.totals.memory or g.totals.sockets][:top]
    if procs:
        lines.append(f"Top processes by memory (of {len(report.processes)}):")
        lines.append(f"  {'r':>10} {'t':>10} {'w':>10} {'sockets':>8}  process")
        for g in procs:
            name = visible(g.name, 40) + (f" [{g.pid}]" if g.pid is not None else "")
            name += " (this collect)" if g.this_collect and g.pid is not None else ""
            lines.append(
                f"  {human_bytes(g.totals.rmem_alloc):>10} {human_bytes(g.totals.wmem_alloc):>10} "
                f"{human_bytes(g.totals.wmem_queued):>10} {g.totals.sockets:>8}  {name}"
            )
    if report.findings:
        counts = ", ".join(
            f"{sum(f.severity == s for f in report.findings)} {s}"
            for s in SEVERITIES
            if any(f.severity == s for f in report.findings)
        )
        lines.append(f"Findings ({counts}):")
        for f in map(worded, report.findings):
            lines.append(f"  [{f.severity}] {visible(f.title, 200)}")
            if f.remedy:
                lines.append(f"      do: {visible(f.remedy, 300)}")
    else:
        lines.append("Findings: none")
    if report_path:
        lines.append(f"Report: {visible(report_path)}")
    return "\n".join(lines) + "\n"
