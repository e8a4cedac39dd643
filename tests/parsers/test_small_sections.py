"""The one-value sections (hostname, id, pagesize, tcp_mem and friends): typed, never raising.

Inputs are what the probe printed on this machine's kernel and on the busybox
test device (captures/), not made-up values.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import FIXTURES

from kit import capture
from kit.parsers import hostname, pagesize, sysctl_numbers, user_id

PARSERS = (hostname.parse, pagesize.parse, sysctl_numbers.parse, user_id.parse)


@pytest.mark.parametrize("cap", sorted((FIXTURES.parent.parent / "captures").glob("*.cap")), ids=lambda p: p.name)
def test_real_sections(cap):
    sections = capture.load(cap).sections
    page = pagesize.parse(sections["pagesize"].text)
    said = sections["pagesize"].text.strip()
    assert page.records == ([int(said)] if said else []) and not page.problems
    for name in ("tcp_mem", "udp_mem", "tcp_rmem", "tcp_wmem"):
        numbers = sysctl_numbers.parse(sections[name].text)
        assert [list(r) for r in numbers.records] == [[int(w) for w in sections[name].text.split()]]
        assert len(numbers.records[0]) == 3
    assert hostname.parse(sections["hostname"].text).records == [sections["hostname"].text.strip()]
    who = user_id.parse(sections["id"].text).records[0]
    assert who.text == sections["id"].text.strip() and who.root == who.text.startswith("uid=0(")


def test_what_is_not_a_value_is_a_problem():
    assert pagesize.parse("0\n").problems and not pagesize.parse("0\n").records
    assert pagesize.parse("４０９６").problems  # fullwidth digits are not ASCII digits
    assert sysctl_numbers.parse("18951\t25270\tx\n").problems
    assert not hostname.parse("  \n").records and not user_id.parse("").records


@given(st.text())
def test_never_raise(text):
    for parse in PARSERS:
        parse(text)
