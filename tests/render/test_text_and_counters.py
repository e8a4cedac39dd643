"""The terminal summary, the HTML's static promises, and the /proc/net/netstat|snmp parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import build_report as build

from kit.parsers import proc_counters
from kit.records import SKMEM_GLOSSARY
from kit.render import html, text


def test_text_summary(situations_cap):
    report = build(situations_cap)
    out = text.render(report, "/reports/x.html")
    assert "Kernel socket diag: OK" in out
    assert "Top processes by memory" in out and "noread [" in out
    assert "[warning] 1 CLOSE-WAIT socket(s)" in out
    assert out.rstrip().endswith("Report: /reports/x.html")
    assert "\x1b" not in out and "\u202e" not in out


def test_text_summary_makes_escapes_inert():
    """Process names holding ESC [31m and U+202E (a ticket's paste): printed as visible escapes."""
    from test_html_chromium import huge_paste

    from kit import capture, report

    out = text.render(report.build(capture.from_bytes(huge_paste(), source="ticket.txt")))
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\u202e" in out and "\\x1b[31m" in out
    assert max(len(line) for line in out.splitlines()) < 400  # 10 kB names are cut


def test_html_static_promises(situations_cap, idle_cap):
    for cap in (situations_cap, idle_cap):
        page = html.render(build(cap))
        # Device text may mention a URL (os-release's HOME_URL) as inert text; nothing may load or link one.
        assert not re.search(r"(?i)<[^<>]*\s(src|href|action|srcset|xlink:href)\s*=\s*[\"']?(?![\"'#])", page)
        assert not re.search(r"(?i)(url\(|@import|<script|<img|<link|<iframe|<object|<embed|<base)", page)
        assert 'http-equiv="Content-Security-Policy"' in page and "default-src 'none'" in page
        assert "@media print" in page and "@media (max-width" in page
        assert "awk -F &#39;[\\(|,]&#39;" in page  # the one-liner in the glossary
        for key, name, _ in SKMEM_GLOSSARY:
            assert f'<dt>{key}</dt><dd class="kname mono">{name}</dd>' in page


def test_socket_table_is_bounded(situations_cap, monkeypatch):
    report = build(situations_cap)
    monkeypatch.setattr(html, "SOCKET_ROWS", 5)
    page = html.render(report)
    assert page.count('<tr><td class="mono">', page.index('id="sockets"')) >= 5
    left = report.totals.sockets - 5
    assert f"{left} of {report.totals.sockets} sockets are left out" in page
    assert "full list is in the JSON" in page


# --- proc_counters --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/proc/net/netstat", "/proc/net/snmp"])
def test_counters_on_this_kernel(path):
    text_ = Path(path).read_text()
    parsed = proc_counters.parse(text_)
    assert not parsed.problems
    assert len(parsed.records) * 2 == len([ln for ln in text_.splitlines() if ln.strip()])
    groups = proc_counters.as_dict(parsed)
    if path.endswith("snmp"):
        assert {"RcvbufErrors", "SndbufErrors", "InErrors"} <= set(groups["Udp"])
        assert groups["Tcp"]["MaxConn"] == -1  # printed signed
    else:
        assert {"PruneCalled", "RcvPruned", "OfoPruned", "TCPMemoryPressures", "TCPAbortOnMemory"} <= set(
            groups["TcpExt"]
        )


def test_counters_problems():
    parsed = proc_counters.parse("TcpExt: A B\nTcpExt: 1\nUdp: X\nfoo\nUdp: 1 2\nIp: a\nIp: z\n")
    assert parsed.records == []
    assert [p.line for p in parsed.problems] == [1, 2, 3, 4, 5, 6, 7]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(["TcpExt: A B C", "TcpExt: 1 2 3", "Udp: InErrors", "Udp: -1", "Udp: 4 x", ": 1", "X:"]),
        ),
        max_size=12,
    )
)
def test_counters_fuzz_never_raises_and_accounts_for_every_line(lines):
    text_ = "\n".join(lines)
    parsed = proc_counters.parse(text_)
    nonblank = [n for n, ln in enumerate(text_.splitlines(), 1) if ln.strip()]
    # a record stands for two lines (names and values), a problem for one
    assert len(nonblank) == 2 * len(parsed.records) + len(parsed.problems)
    assert len({p.line for p in parsed.problems}) == len(parsed.problems)
