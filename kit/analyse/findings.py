"""Findings: what is wrong, the evidence it rests on, and what to do.

Each rule is a small function from the Report to zero or more Findings; the
RULES tuple lists them in one place. Rules read the analysed report only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from kit.records import SEVERITIES, Finding

if TYPE_CHECKING:
    from kit.report import Report


def partial_capture(report: "Report") -> Iterable[Finding]:
    cap = report.capture
    if cap["partial"]:
        yield Finding(
            "critical", "The capture is partial: the probe did not finish",
            (cap.get("error") or "the probe stopped early",),
            "Re-run kit collect; if it stops at the same place, raise --timeout or check the link.",
            code="partial-capture",
        )


def kernel_diag_not_ok(report: "Report") -> Iterable[Finding]:
    diag = report.kernel_diag
    if diag.verdict == "ok":
        return
    remedies = [f"{name}: {v.remedy}" for name, v in diag.options.items() if v.remedy and name in (
        "CONFIG_INET_DIAG", "CONFIG_INET_TCP_DIAG", "CONFIG_INET_UDP_DIAG")]
    severity = "critical" if diag.verdict == "missing" else "warning"
    yield Finding(
        severity, f"Kernel socket diag: {diag.verdict} — {diag.summary}",
        tuple(e for name in ("CONFIG_INET_DIAG", "CONFIG_INET_TCP_DIAG", "CONFIG_INET_UDP_DIAG")
              if name in diag.options for e in diag.options[name].evidence[:3]),
        "; ".join(remedies) or "See the kernel diag section.",
        code="kernel-diag",
    )


def parse_problems(report: "Report") -> Iterable[Finding]:
    if report.parse_problems:
        first = report.parse_problems[:3]
        yield Finding(
            "info", f"{len(report.parse_problems)} line(s) could not be read",
            tuple(f"{p.section} line {p.problem.line}: {p.problem.reason}" for p in first),
            "They are listed under 'Lines kit could not read'; the totals leave them out.",
            code="parse-problems",
        )


RULES: tuple[Callable[["Report"], Iterable[Finding]], ...] = (
    partial_capture,
    kernel_diag_not_ok,
    parse_problems,
)


def find(report: "Report") -> list[Finding]:
    found = [f for rule in RULES for f in rule(report)]
    return sorted(found, key=lambda f: SEVERITIES.index(f.severity))
