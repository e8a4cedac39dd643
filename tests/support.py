"""Helpers shared by the test folders (a plain module: `conftest` names clash between folders).

tests/conftest.py puts this folder on sys.path, so `from support import ...`
works from every test module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HOSTILE_HOSTNAME = "<svg/onload=alert(1)>\"'&x"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def unavailable(reason: str):
    """A real part the test needs is missing: skip, but fail under CI=true (CI must test everything)."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


def build_report(path: Path):
    """Parse and analyse a capture file, as `kit render` does."""
    from kit import capture, report

    return report.build(capture.load(path), source=str(path))


def parse_sections(sections):
    """Each section's parser run on it, as kit.report.build does (what kdiag.diagnose_live reads)."""
    from kit.report import parse_section, parses

    return {n: parse_section(s, parser) for n, s in sections.items() if (parser := parses(s)) is not None}
