"""`ss -s` summaries of iproute2 6.1 and 4.4 (real output, tests/fixtures/debian-12/NOTES.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.parsers.ss_summary import parse
from kit.paste import detect

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "debian-12"


@pytest.mark.parametrize("name", ["ss-s.out", "iproute2-4.4.0-ss-s.out"])
def test_every_number_is_read(name):
    text = (FIXTURES / name).read_text()
    parsed = parse(text)
    assert parsed.problems == []
    by = {r.protocol: r.counters for r in parsed.records}
    # Expected values read from the text with a different method: the numbers on each line.
    total_line = next(line for line in text.splitlines() if line.startswith("Total:"))
    assert by["Total"]["total"] == int(re.findall(r"\d+", total_line)[0])
    tcp_line = next(line for line in text.splitlines() if line.startswith("TCP:"))
    assert by["TCP"]["estab"] == int(re.search(r"estab (\d+)", tcp_line).group(1))
    for line in text.splitlines():
        words = line.split()
        if len(words) == 4 and words[0] in ("RAW", "UDP", "TCP", "INET", "FRAG"):
            assert by[f"{words[0]}/transport"]["total"] == int(words[1])
    assert detect(text) == "ss_summary"


@given(st.text(max_size=300))
def test_never_raises_and_accounts_for_every_line(text):
    parsed = parse(text)
    lines = {r.line for r in parsed.records} | {p.line for p in parsed.problems}
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and line.split()[:2] != ["Transport", "Total"]:
            assert number in lines
