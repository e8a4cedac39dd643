"""kit diff on real captures: the real probe in a namespace whose sockets grow between samples.

Expected figures come from the two reports themselves (a socket's r in NEW
minus its r in OLD, found by its addresses), never typed in.
"""

from __future__ import annotations

import json
from pathlib import Path

import cdp
import jsonschema
import pytest
import referencing
from situations import ADDRESSES
from support import HOSTILE_HOSTNAME
from support import build_report as build
from test_html_chromium import assert_hostile_names_are_inert_text, census

from kit.analyse import diff as diff_mod
from kit.analyse import diff_records
from kit.cli import main
from kit.render import diff as diff_render
from kit.render.diff import caveat_text

DOCS = Path(__file__).resolve().parents[2] / "docs"
REPORT_SCHEMA = json.loads((DOCS / "report.schema.json").read_text())
DIFF_SCHEMA = json.loads((DOCS / "diff.schema.json").read_text())
REGISTRY = referencing.Registry().with_resources(
    [(s["$id"], referencing.Resource.from_contents(s)) for s in (REPORT_SCHEMA, DIFF_SCHEMA)]
)
VALIDATOR = jsonschema.Draft202012Validator(DIFF_SCHEMA, registry=REGISTRY)


def check(doc: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["diff", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def owns(sock, name: str) -> bool:
    return any(p.name == name for p in sock.processes)


def owned_by(report, name: str):
    return [s for s in report.sockets if owns(s, name)]


def group(report, name: str):
    return next(g for g in report.processes if g.name == name)


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(DIFF_SCHEMA)


@pytest.mark.parametrize("name", ["situations_cap", "growing_last", "local_cap"])
def test_a_capture_diffed_with_itself_changes_nothing(request, capsys, name):
    path = request.getfixturevalue(name)
    d = diff_mod.diff(build(path), build(path))
    assert diff_mod.is_empty(d), diff_render.render_text(d)
    code, out, _ = run(capsys, path, path, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    check(doc)
    assert all(c["change"] == 0 for c in doc["totals"].values())
    assert doc["processes"] and all(p["status"] == "same" for p in doc["processes"])
    assert all(v == 0 for p in doc["processes"] for v in p["change"].values())
    assert doc["sockets"]["new"] == doc["sockets"]["gone"] == doc["sockets"]["changed"] == []
    assert doc["sockets"]["unchanged"] == doc["totals"]["sockets"]["new"]
    assert doc["findings"]["new"] == doc["findings"]["resolved"] == []
    assert doc["warnings"] == [] and doc["same_device"] is True and doc["seconds"] == 0
    assert all(not c["change"] for c in doc["counters"])
    code, out, _ = run(capsys, path, path, "--format", "text")
    assert "Processes: no change" in out and "0 new, 0 gone, 0 changed" in out
    assert "Findings: no change" in out


@pytest.fixture(scope="module")
def growing_last(growing_series) -> Path:
    return growing_series[-1]


def test_growing_receiver_and_close_wait_pile_are_named(growing_series, capsys):
    first, last = growing_series[0], growing_series[-1]
    old, new = build(first), build(last)
    d = diff_mod.diff(old, new)

    # Totals: NEW minus OLD of the devices' totals (this collect's own sockets left out), for every field.
    from kit.analyse.totals import totals as totals_of

    ta, tb = totals_of(diff_mod.counted(old.sockets)), totals_of(diff_mod.counted(new.sockets))
    assert any(s.this_collect for s in old.sockets)  # ss's own netlink socket, at least
    for name, change in d.totals.items():
        assert (change.old, change.new) == (getattr(ta, name), getattr(tb, name))
        assert change.change == getattr(tb, name) - getattr(ta, name)

    # The receiver that never reads: its socket holds the most r in both, and grew.
    def receiver(report):
        return max(owned_by(report, "leak"), key=lambda s: s.skmem.rmem_alloc)

    r_old, r_new = receiver(old), receiver(new)
    assert (r_old.local, r_old.peer) == (r_new.local, r_new.peer)
    grown = r_new.skmem.rmem_alloc - r_old.skmem.rmem_alloc
    assert grown > 0
    top = d.sockets.changed[0]  # largest change first
    assert (top.socket.local, top.socket.peer) == (r_new.local, r_new.peer)
    assert top.change["rmem_alloc"] == grown
    assert [p.name for p in top.socket.processes] == ["leak"]

    leak = next(p for p in d.processes if p.name == "leak")
    assert leak.status == "same" and leak.pid == group(new, "leak").pid
    assert leak.change.r == group(new, "leak").totals.rmem_alloc - group(old, "leak").totals.rmem_alloc > 0

    # The CLOSE-WAIT pile: more sockets for cwpile, each new one CLOSE-WAIT with unread data.
    def close_wait(report):
        return {(s.local, s.peer) for s in owned_by(report, "cwpile") if s.state == "CLOSE-WAIT"}

    piled = close_wait(new) - close_wait(old)
    assert len(piled) >= 2
    cw = next(p for p in d.processes if p.name == "cwpile")
    assert cw.change.sockets == group(new, "cwpile").totals.sockets - group(old, "cwpile").totals.sockets
    assert cw.change.r > 0
    new_cw = {(s.local, s.peer) for s in d.sockets.new if s.state == "CLOSE-WAIT" and owns(s, "cwpile")}
    # A pile socket OLD caught between accept and the peer's FIN (ESTAB then) is changed, not new.
    # The diff leaves this collect's own sockets out of both sides (kit.analyse.diff.counted), so
    # OLD's are the counted ones: a suite run once failed here on a pile socket that was in OLD
    # but not among the sockets the diff matches.
    in_old = {(s.local, s.peer) for s in diff_mod.counted(old.sockets)}
    assert new_cw == {a for a in piled if a not in in_old}
    assert len(new_cw) >= 2 and cw.change.sockets >= len(new_cw)
    moved = {(c.socket.local, c.socket.peer) for c in d.sockets.changed if c.old.state != c.socket.state}
    assert piled - new_cw <= moved
    assert all(s.skmem.rmem_alloc > 0 for s in d.sockets.new if s.state == "CLOSE-WAIT" and owns(s, "cwpile"))
    # The two that grew are the two at the top of the per-process changes.
    assert {p.name for p in d.processes[:2]} == {"leak", "cwpile"}, d.processes[:3]
    # The idle listener did not change.
    assert next(p for p in d.processes if p.name == "idle").change == diff_records.ProcMem()
    assert d.same_device is True and not d.warnings and d.seconds and d.seconds > 2

    code, out, _ = run(capsys, first, last, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    check(doc)
    assert doc["sockets"]["changed"][0]["change"]["rmem_alloc"] == grown
    assert doc["sockets"]["changed"][0]["processes"][0]["name"] == "leak"
    proc = next(p for p in doc["processes"] if p["name"] == "leak")
    assert proc["change"]["r"] == leak.change.r and proc["new"]["r"] == group(new, "leak").totals.rmem_alloc

    code, out, _ = run(capsys, first, last, "--format", "text")
    lines = out.splitlines()
    changed = next(i for i, line in enumerate(lines) if line.startswith("Processes that changed"))
    assert {lines[changed + 2].split()[-2], lines[changed + 3].split()[-2]} == {"leak", "cwpile"}
    assert any(line.startswith("  changed: tcp ESTAB") and "owner leak[" in line for line in lines)
    assert any(line.startswith("  new: tcp CLOSE-WAIT") and "owner cwpile[" in line for line in lines)


def test_counters_that_still_grow_show_in_the_diff(growing_series, capsys):
    """What the counter findings advise (`kit diff THIS.cap LATER.cap`) answers their question."""
    old, new = build(growing_series[0]), build(growing_series[-1])
    before = old.kernel_memory.counter("Udp", "RcvbufErrors")
    after = new.kernel_memory.counter("Udp", "RcvbufErrors")
    assert before and after and after > before  # the flood went on between the captures
    assert "udp-rcvbuf-counters" in {f.code for f in old.findings}
    d = diff_mod.diff(old, new)
    counter = next(c for c in d.counters if c.name == "RcvbufErrors")
    assert (counter.old, counter.new, counter.change) == (before, after, after - before)
    assert "udp-rcvbuf-counters" in {f.code for f in d.findings.still}
    _, out, _ = run(capsys, growing_series[0], growing_series[-1], "--format", "text")
    assert f"Counter Udp RcvbufErrors: {before} -> {after} (+{after - before})" in out
    _, out, _ = run(capsys, growing_series[0], growing_series[-1], "-o", "-")
    assert "still happening" in out and "Udp RcvbufErrors" in out


def test_different_devices_warn_at_the_top_and_still_diff(idle_cap, situations_cap, capsys):
    old, new = build(idle_cap), build(situations_cap)
    d = diff_mod.diff(old, new)
    assert d.same_device is False
    assert caveat_text(d.warnings[0]).startswith("OLD and NEW come from different devices")
    assert d.processes and d.sockets.new  # still diffed
    code, out, _ = run(capsys, idle_cap, situations_cap, "--format", "text")
    assert code == 0 and out.splitlines()[1].startswith("WARNING: OLD and NEW come from different devices")
    code, out, _ = run(capsys, idle_cap, situations_cap, "--format", "json")
    doc = json.loads(out)
    check(doc)
    assert doc["same_device"] is False and "different devices" in doc["warnings"][0]
    assert doc["old"]["hostname"] == "idle-router" and doc["new"]["hostname"] == HOSTILE_HOSTNAME


def test_findings_that_appeared_and_were_resolved(idle_cap, situations_cap):
    idle, trouble = build(idle_cap), build(situations_cap)
    appeared = {f.code for f in trouble.findings} - {f.code for f in idle.findings}
    assert {"close-wait-data", "accept-queue-full"} <= appeared
    forward = diff_mod.diff(idle, trouble)
    assert {f.code for f in forward.findings.new} == appeared
    backward = diff_mod.diff(trouble, idle)
    assert {f.code for f in backward.findings.resolved} == appeared
    assert not backward.findings.new or {f.code for f in backward.findings.new} <= {f.code for f in idle.findings}


def test_output_is_placed_as_kit_render_places_it(idle_cap, situations_cap, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, idle_cap, situations_cap)
    path = Path(out.strip())
    assert code == 0 and path.parent == Path("reports") and path.suffix == ".html" and path.exists()
    code, out, _ = run(capsys, idle_cap, situations_cap, "--format", "text", "-o", tmp_path / "d.txt")
    assert code == 0 and out == "" and (tmp_path / "d.txt").read_text().startswith("kit diff:")
    code, out, _ = run(capsys, idle_cap, situations_cap, "-o", "-")
    assert out.startswith("<!DOCTYPE html>")
    code, out, err = run(capsys, idle_cap, tmp_path / "missing.cap")
    assert code == 2 and out == "" and err.count("\n") == 1 and "no such file" in err


def test_redacted_diff_keeps_no_address_and_no_host_name(idle_cap, situations_cap, capsys):
    for fmt in ("json", "text", "html"):
        code, out, _ = run(capsys, idle_cap, situations_cap, "--format", fmt, "--redact", "-o", "-")
        assert code == 0
        for secret in (*ADDRESSES, "idle-router", "10.23.45"):
            assert secret not in out, (fmt, secret)
        if fmt == "json":
            doc = json.loads(out)
            check(doc)
            assert doc["old"]["hostname"].startswith("host-") and doc["new"]["hostname"].startswith("host-")
            assert doc["old"]["hostname"] != doc["new"]["hostname"]


@pytest.mark.chromium
@pytest.mark.parametrize("width", [1280, 375])
def test_diff_html_in_chromium(chromium, idle_cap, situations_cap, tmp_path, width):
    d = diff_mod.diff(build(idle_cap), build(situations_cap))
    page = tmp_path / f"diff-{width}.html"
    page.write_text(diff_render.render_html(d), encoding="utf-8")
    assert_hostile_names_are_inert_text(census(cdp.dump_dom(chromium, cdp.file_url(page))))
    with cdp.Browser(chromium, width=width, height=800) as b:
        b.open(cdp.file_url(page))
        got = b.evaluate("""(() => ({
            overflow: document.documentElement.scrollWidth - innerWidth,
            warning: document.querySelector('header .note').innerText,
            warningTop: document.querySelector('header .note').getBoundingClientRect().top,
            chart: !!document.querySelector('#totals svg'),
        }))()""")
        assert got["overflow"] <= 0, got
        assert "different devices" in got["warning"] and got["warningTop"] < 300, got
        assert got["chart"]
        assert b.console_errors() == []
        assert b.requests() == [cdp.file_url(page)]


def test_streamed_json_is_the_same_data_with_device_text_escaped(idle_cap, situations_cap):
    d = diff_mod.diff(build(idle_cap), build(situations_cap))
    text = diff_render.render_json(d)
    assert json.loads(text) == json.loads(json.dumps(diff_render.to_dict(d)))
    assert d.sockets.new and "\u202e" not in text and "\x1b" not in text  # a hostile process name is in there
    assert "\\u202e" in text
