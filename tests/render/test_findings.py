"""Findings on real situations made in a fresh network namespace (situations.py), and none on an idle one."""

from __future__ import annotations

import dataclasses

import pytest
from support import build_report as build

from kit import capture as capture_mod
from kit import report as report_mod
from kit.analyse.finding_facts import CounterHits
from kit.capture import SectionOutput
from kit.render.finding_text import worded


def by_code(report) -> dict:
    """The report's findings in words (kit.render.finding_text), by code."""
    return {f.code: worded(f) for f in report.findings}


@pytest.fixture(scope="module")
def situations(situations_cap):
    return build(situations_cap)


def test_idle_device_has_no_findings(idle_cap):
    report = build(idle_cap)
    assert report.kernel_diag.verdict == "ok"
    assert report.totals.sockets >= 3 and report.totals.with_skmem >= 3
    assert report.findings == [], [worded(f).title for f in report.findings]


def test_receiver_that_never_reads(situations):
    f = by_code(situations)["rcvq-near-rcvbuf"]
    assert f.severity == "warning"
    assert "noread" in f.title and "udpdrop" in f.title
    assert any("owner noread[" in e and "tcp ESTAB" in e for e in f.evidence)
    assert f.remedy


def test_udp_socket_dropping_datagrams(situations):
    findings = by_code(situations)
    drops = findings["socket-drops"]
    assert any(e.startswith("udp UNCONN") and "owner udpdrop[" in e for e in drops.evidence)
    udp = [
        s
        for s in situations.sockets
        if s.netid == "udp" and any(p.name == "udpdrop" for p in s.processes) and s.skmem and s.skmem.sock_drop
    ]
    assert udp and udp[0].skmem.sock_drop > 100
    counters = findings["udp-rcvbuf-counters"]
    assert "RcvbufErrors" in counters.title
    assert situations.kernel_memory.counter("Udp", "RcvbufErrors") >= udp[0].skmem.sock_drop


def test_close_wait_holding_data(situations):
    f = by_code(situations)["close-wait-data"]
    assert "closewait" in f.title
    assert f.evidence and "CLOSE-WAIT" in f.evidence[0] and "Recv-Q 5001" in f.evidence[0]


def test_full_accept_queue(situations):
    f = by_code(situations)["accept-queue-full"]
    assert "acceptq" in f.title
    assert "LISTEN" in f.evidence[0] and "accept queue 2 > backlog 1" in f.evidence[0]
    assert any("ListenOverflows" in e for e in f.evidence)


def test_only_the_made_troubles_are_found(situations):
    codes = set(by_code(situations))
    assert codes == {
        "rcvq-near-rcvbuf",
        "socket-drops",
        "close-wait-data",
        "accept-queue-full",
        "udp-rcvbuf-counters",
    }, codes
    severities = [f.severity for f in situations.findings]
    assert severities == sorted(severities, key=("critical", "warning", "info").index)


def test_non_root_capture(nonroot_cap):
    report = build(nonroot_cap)
    assert report.device.root is False
    f = by_code(report)["non-root"]
    assert "uid=65534" in f.evidence[0]
    # ss -p as nobody shows no owner for root's sockets: the finding is why
    assert report.sockets and not any(s.processes for s in report.sockets if s.netid in ("tcp", "udp"))


def test_ss_missing(noss_cap):
    report = build(noss_cap)
    f = by_code(report)["ss-missing"]
    assert f.severity == "warning" and "opkg install ss" in f.remedy
    assert "ss exited" in f.evidence[0]
    assert "# kit:" not in f.evidence[0], f.evidence  # the probe's own pid line is not ss's error


def test_partial_capture(idle_cap):
    """A capture whose link dropped inside the ss section, as transport saves it."""
    data = idle_cap.read_bytes()
    cap = capture_mod.from_bytes(data)
    cut = cap.stdout[: cap.stdout.index(b"BEGIN ss\n") + 200]
    header = dict(cap.header, partial=True, error="connection lost after 3.1 s")
    partial = capture_mod.from_bytes(capture_mod.capture_bytes(header, cut, b""))
    report = report_mod.build(partial)
    f = by_code(report)["partial-capture"]
    assert f.severity == "critical" and report.findings[0].code == "partial-capture"
    assert any("ss" in e for e in f.evidence)


def test_tcp_memory_past_pressure(situations_cap):
    """Real sockstat, with tcp_mem set (in the capture, not on this machine) below what is in use."""
    cap = capture_mod.load(situations_cap)
    pages = build(situations_cap).kernel_memory.tcp.pages
    assert pages, "the noread sender holds megabytes: sockstat must count pages"
    cap.sections["tcp_mem"] = SectionOutput("tcp_mem", f"1 {pages} {pages * 10}\n".encode(), "", 0)
    f = by_code(report_mod.build(cap))["tcp-mem-pressure"]
    assert f.severity == "warning" and "pressure" in f.title
    cap.sections["tcp_mem"] = SectionOutput("tcp_mem", f"1 2 {pages}\n".encode(), "", 0)
    f = by_code(report_mod.build(cap))["tcp-mem-pressure"]
    assert f.severity == "critical"


def test_kernel_diag_not_ok_on_a_paste_without_memory(situations_cap):
    """An `ss -nap` paste (no -m): no skmem anywhere, so the verdict cannot be ok."""
    report = build(situations_cap)
    ss = next(s for s in report.sections if s.name == "ss").text
    lines = [ln for ln in ss.splitlines() if "skmem:" not in ln or not ln.startswith("\t")]
    lines = [ln.split(" skmem:(")[0] for ln in lines]
    paste = capture_mod.from_bytes("\n".join(lines).encode())
    rep = report_mod.build(paste)
    assert rep.kernel_diag.verdict != "ok"
    assert "kernel-diag" in by_code(rep)


def test_memory_counters_rule_reads_counters(idle_cap):
    cap = capture_mod.load(idle_cap)
    snmp = cap.sections["snmp"]
    text = snmp.text
    head, values = [ln for ln in text.splitlines() if ln.startswith("Udp:")][:2]
    names = head.split()[1:]
    new_values = "Udp: " + " ".join(
        "7" if n == "SndbufErrors" else v for n, v in zip(names, values.split()[1:], strict=False)
    )
    cap.sections["snmp"] = dataclasses.replace(snmp, stdout=text.replace(values, new_values).encode())
    found = next(f for f in report_mod.build(cap).findings if f.code == "udp-sndbuf-counters")
    assert found.facts == CounterHits("udp-sndbuf-counters", (("Udp", "SndbufErrors", 7),))  # data, not words
    assert worded(found).evidence == ("/proc/net/snmp: Udp SndbufErrors 7",)


def test_shared_socket_counted_once_shown_under_each_owner(situations):
    from kit.render import html

    shared = [
        s
        for s in situations.sockets
        if len({p.pid for p in s.processes}) > 1 and all(p.name == "shared" for p in s.processes)
    ]
    data = [s for s in shared if s.skmem and s.skmem.rmem_alloc]
    assert data, "the forked owner must show in ss -p"
    groups = [g for g in situations.processes if g.name == "shared"]
    assert len(groups) == 2
    r = data[0].skmem.rmem_alloc
    assert all(g.totals.rmem_alloc >= r for g in groups)  # under each owner
    assert situations.totals.rmem_alloc == sum(s.skmem.rmem_alloc or 0 for s in situations.sockets if s.skmem)
    page = html.render(situations)
    assert "are shared by several processes: they are counted once in the totals" in page


def test_awk_one_liner_pitfall_is_real(situations):
    """The glossary's claim, on the real capture: awk's fields miss unix rows, kit does not.

    Unix stream data is charged to the sender (t), so the unread 5000 bytes of the noread
    pair show as t on the writing end: the one-liner with $4 (t) misses them."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from oneliner import awk_total

    ss = next(s for s in situations.sections if s.name == "ss").text
    unix_t = sum(s.skmem.wmem_alloc or 0 for s in situations.sockets if s.netid == "u_str" and s.skmem and s.processes)
    assert unix_t >= 5000
    assert situations.totals.wmem_alloc - awk_total(ss, field=4) >= unix_t
    assert situations.totals.rmem_alloc >= awk_total(ss, field=2)
