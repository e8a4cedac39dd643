"""kit trend on real series: the real probe, a second apart, in a namespace whose sockets grow.

Every expected figure is read from the captures' own reports (a process's
r + t + w per sample, the receiver's addresses), never typed in.
"""

from __future__ import annotations

import json
from pathlib import Path

import cdp
import jsonschema
import pytest
import referencing
from support import build_report as build
from test_html_chromium import assert_hostile_names_are_inert_text, census

from kit.analyse import trend as trend_mod
from kit.analyse.finding_facts import MemTotalShareWithinHour, TcpPressureWithinHour
from kit.cli import main
from kit.render import trend as trend_render
from kit.render.finding_text import worded

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMAS = [json.loads((DOCS / name).read_text()) for name in ("report.schema.json", "trend.schema.json")]
REGISTRY = referencing.Registry().with_resources([(s["$id"], referencing.Resource.from_contents(s)) for s in SCHEMAS])
VALIDATOR = jsonschema.Draft202012Validator(SCHEMAS[1], registry=REGISTRY)


def check(doc: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["trend", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def rtw(report, name: str) -> int:
    t = next(g for g in report.processes if g.name == name).totals
    return t.rmem_alloc + t.wmem_alloc + t.wmem_queued


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMAS[1])


def test_growing_receiver_and_close_wait_pile_are_found(growing_series, capsys):
    reports = [build(p) for p in growing_series]
    # Given newest first: the trend orders by capture time.
    code, out, _ = run(capsys, *reversed(growing_series), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    check(doc)
    assert doc["device"]["hostname"] == "grow-router"
    assert [s["capture"] for s in doc["samples"]] == [str(p) for p in growing_series]
    # Each sample counts the device's sockets: this collect's own (ss's netlink socket) left out.
    assert [s["totals"]["sockets"] for s in doc["samples"]] == [
        sum(not s.this_collect for s in r.sockets) for r in reports
    ]
    assert all(any(s.this_collect for s in r.sockets) for r in reports)
    procs = {p["name"]: p for p in doc["processes"]}
    for name in ("leak", "cwpile", "idle"):
        assert procs[name]["series"] == [rtw(r, name) for r in reports], name
    assert procs["leak"]["growing"] and procs["cwpile"]["growing"] and not procs["idle"]["growing"]
    assert {p["name"] for p in doc["processes"][:2]} == {"leak", "cwpile"}  # growing first

    growing = [f for f in doc["findings"] if f["code"] == "growing"]
    titles = [f["title"] for f in growing]
    assert any(t.startswith("Socket memory of leak [") for t in titles), titles
    assert any(t.startswith("Socket memory of cwpile [") for t in titles), titles
    cw = next(f for f in growing if "cwpile" in f["title"])
    sockets_first = next(g for g in reports[0].processes if g.name == "cwpile").totals.sockets
    sockets_last = next(g for g in reports[-1].processes if g.name == "cwpile").totals.sockets
    assert f"its sockets: {sockets_first} -> {sockets_last}" in cw["evidence"]

    # The one growing socket is the receiver that never reads, and it is named with its process.
    receiver = max(
        (s for s in reports[-1].sockets if any(p.name == "leak" for p in s.processes)),
        key=lambda s: s.skmem.rmem_alloc,
    )
    assert [(s["local"], s["peer"]) for s in doc["sockets"]] == [(receiver.local, receiver.peer)]
    assert doc["sockets"][0]["processes"][0]["name"] == "leak"
    leak = next(f for f in growing if "leak" in f["title"] and f["title"].startswith("Socket memory"))
    assert any(e.startswith("its growing socket: tcp ESTAB " + receiver.local) for e in leak["evidence"])
    assert any(f["title"].startswith("A socket is growing") and "owner leak[" in f["title"] for f in growing)
    # Critical only when an hour at its rate reaches tcp_mem pressure or a tenth of MemTotal (this machine's).
    last = doc["samples"][-1]
    g = procs["leak"]["growing"]
    reach = g["rate"] * trend_mod.HORIZON
    tcp = last["tcp_mem"]
    critical = (tcp["pressure"] is not None and (tcp["pages"] + reach / last["page_size"]) >= tcp["pressure"]) or (
        last["mem_total"] is not None and g["last"] + reach >= last["mem_total"] / 10
    )
    assert leak["severity"] == ("critical" if critical else "warning"), (leak, last)

    code, out, _ = run(capsys, *growing_series, "--format", "text")
    assert "leak [" in out and "GROWING" in out and "[warning] Socket memory of cwpile" in out


def test_nothing_grows_in_a_still_series(situations_cap, capsys):
    code, out, _ = run(capsys, situations_cap, situations_cap, situations_cap, "--format", "json")
    doc = json.loads(out)
    check(doc)
    assert code == 0 and doc["findings"] == [] and doc["sockets"] == []
    assert all(len(set(p["series"])) == 1 for p in doc["processes"])


def test_a_capture_of_another_device_is_refused(growing_series, idle_cap, capsys):
    code, out, err = run(capsys, growing_series[0], idle_cap, growing_series[1])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(idle_cap) in err and "one device" in err


def test_the_growing_rule():
    times = [0.0, 60.0, 120.0, 180.0]
    k = 1024
    assert trend_mod.growth([0, 20 * k, 40 * k, 60 * k], times).rate == pytest.approx(20 * k / 60)
    assert trend_mod.growth([0, 20 * k, 10 * k, 60 * k], times) is not None  # 2 of 3 steps up
    assert trend_mod.growth([0, 60 * k, 50 * k, 40 * k], times) is None  # 1 of 3 steps up
    assert trend_mod.growth([0, 1 * k, 2 * k, 3 * k], times) is None  # below the threshold
    assert trend_mod.growth([0, 60 * k], times[:2]) is None  # too few samples
    assert trend_mod.growth([None, 0, 30 * k, 60 * k], times) is not None  # from where it exists
    assert trend_mod.growth([0, 20 * k, 40 * k, 60 * k], [None] * 4).rate is None


def test_critical_when_an_hour_at_this_rate_reaches_tcp_pressure_or_a_tenth_of_memtotal(growing_series):
    samples = [trend_mod.sample(build(p)) for p in growing_series]
    last = samples[-1]
    if last.tcp_pages is None:
        pytest.skip("no sockstat TCP mem in this capture")
    leak = trend_mod.build(samples)
    proc = next(p for p in leak.processes if p.name == "leak")
    rate = proc.growth.rate
    # tcp_mem as the device would have it just above where an hour of this growth takes sockstat.
    hour_pages = int(rate * trend_mod.HORIZON / last.page_size)
    near = trend_mod.Limits(1, last.tcp_pages + hour_pages // 2, last.tcp_pages + 2 * hour_pages)
    far = trend_mod.Limits(1, last.tcp_pages + 2 * hour_pages, last.tcp_pages + 4 * hour_pages)
    reach = proc.growth.last + rate * trend_mod.HORIZON
    # Each threshold alone: MemTotal large (or tcp_mem far) so only the other one can tip it.
    cases = (
        (near, 100 * int(reach), "critical", "tcp_mem pressure"),
        (far, 100 * int(reach), "warning", None),
        (far, 5 * int(reach), "critical", "a tenth of MemTotal"),
        (far, 20 * int(reach), "warning", None),
    )
    for limits, mem_total, severity, why in cases:
        last.tcp_limits, last.mem_total = limits, mem_total
        found = trend_mod.build(samples).findings
        leak = next(f for f in found if f.code == "growing" and f.facts.name == "leak")
        expected = {"tcp_mem pressure": TcpPressureWithinHour, "a tenth of MemTotal": MemTotalShareWithinHour}
        assert [type(p) for p in leak.facts.critical] == ([expected[why]] if why else [])  # data, not words
        f = next(f for f in map(worded, found) if f.title.startswith("Socket memory of leak ["))
        assert f.severity == severity, (f, limits, mem_total)
        assert any(why in e for e in f.evidence) if why else not any("within an hour" in e for e in f.evidence)


@pytest.mark.chromium
@pytest.mark.parametrize("width", [1280, 375])
def test_trend_html_in_chromium(chromium, growing_series, tmp_path, width):
    samples = [trend_mod.sample(build(p)) for p in growing_series]
    trend = trend_mod.build(samples)
    page = tmp_path / f"trend-{width}.html"
    page.write_text(trend_render.render_html(trend), encoding="utf-8")
    found = census(cdp.dump_dom(chromium, cdp.file_url(page)))
    assert found.tags.get("script", 0) == 0 and not found.event_attrs and not found.urls
    assert found.tags["svg"] >= 3 and found.tags["polyline"] >= 5
    with cdp.Browser(chromium, width=width, height=800) as b:
        b.open(cdp.file_url(page))
        got = b.evaluate("""(() => ({
            overflow: document.documentElement.scrollWidth - innerWidth,
            findings: document.querySelector('#findings').innerText,
            glossary: document.querySelector('#glossary').innerText,
            legend: [...document.querySelectorAll('#charts text.legend')].map(t => t.textContent),
        }))()""")
        assert got["overflow"] <= 0, got
        assert "Socket memory of leak [" in got["findings"]
        assert "rose in more than half of the steps" in got["glossary"]
        assert any(t.startswith("leak [") for t in got["legend"]), got["legend"]
        assert b.console_errors() == []
        assert b.requests() == [cdp.file_url(page)]


@pytest.mark.chromium
def test_hostile_names_stay_text_in_the_trend(chromium, situations_cap, tmp_path):
    from situations import HOSTILE_NAMES

    trend = trend_mod.build([trend_mod.sample(build(situations_cap)) for _ in range(3)])
    assert {p.name for p in trend.processes} >= set(HOSTILE_NAMES[:3])
    page = tmp_path / "trend-hostile.html"
    page.write_text(trend_render.render_html(trend), encoding="utf-8")
    assert_hostile_names_are_inert_text(census(cdp.dump_dom(chromium, cdp.file_url(page))))
    out = trend_render.render_text(trend)
    assert "\x1b" not in out and "\u202e" not in out
