"""The HTML report opened in real headless Chromium.

- `--dump-dom`: the DOM Chromium built from a real capture whose process
  names, unix paths and hostname are markup: no element and no script came
  from them, and they read back as text.
- DevTools (over a pipe): the first screen shows the verdict and the totals,
  no console errors, no request but the file itself, and neither a desktop
  nor a phone-width window scrolls sideways, even with 10 kB names.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import cdp
import pytest
from situations import HOSTILE_ABSTRACT, HOSTILE_NAMES, HOSTILE_PATHS
from support import HOSTILE_HOSTNAME
from support import build_report as build

from kit import capture as capture_mod
from kit import report as report_mod
from kit.render import html
from kit.render.summary_text import answer_text

pytestmark = pytest.mark.chromium
FIXTURES_CAPTURES = Path(__file__).resolve().parents[2] / "captures"

ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "h3",
    "p",
    "b",
    "em",
    "code",
    "pre",
    "nav",
    "a",
    "main",
    "section",
    "div",
    "span",
    "ul",
    "li",
    "table",
    "tbody",
    "thead",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    "dl",
    "dt",
    "dd",
    "footer",
    "svg",
    "text",
    "rect",
    "line",
}


class DomCensus(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, int] = {}
        self.event_attrs: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name.startswith("on"):
                self.event_attrs.append((tag, name))
            if (
                name in ("href", "src", "srcset", "action", "xlink:href", "poster", "data")
                and value
                and not value.startswith("#")
            ):
                self.urls.append(value)

    def handle_data(self, data):
        self.text.append(data)


def census(dom: str) -> DomCensus:
    c = DomCensus()
    c.feed(dom)
    return c


def assert_hostile_names_are_inert_text(found: DomCensus) -> None:
    """The situations capture's hostile process names and host name, rendered: no element, handler or
    URL of their own, shown as text, with U+202E and ESC never passed through."""
    assert found.tags.get("script", 0) == 0 and found.tags.get("img", 0) == 0
    assert not found.event_attrs and not found.urls
    text = "".join(found.text)
    for name in HOSTILE_NAMES[:3]:
        assert name in text, name
    assert HOSTILE_HOSTNAME in text and "\u202e" not in text and "\x1b" not in text


def write_report(tmp_path: Path, report, name: str = "report.html", **kw) -> Path:
    path = tmp_path / name
    path.write_text(html.render(report, **kw), encoding="utf-8")
    return path


def test_hostile_strings_stay_text_in_chromium(chromium, situations_cap, tmp_path):
    report = build(situations_cap)
    owners = {p.name for s in report.sockets for p in s.processes}
    # The capture really carries the hostile strings (as ss printed them).
    assert {"<b>x</b>\"'&", "<img src=x>", "<script>x"} <= owners, owners
    assert report.device.hostname == HOSTILE_HOSTNAME
    page = write_report(tmp_path, report)
    dom = cdp.dump_dom(chromium, cdp.file_url(page))
    found = census(dom)
    assert found.tags.get("script", 0) == 0
    assert found.tags.get("img", 0) == 0
    assert not found.event_attrs, found.event_attrs
    assert not found.urls, found.urls
    unexpected = set(found.tags) - ALLOWED_TAGS
    assert not unexpected, f"elements the template never writes: {unexpected}"
    assert found.tags["svg"] == page.read_text().count('<svg role="img"')
    text = "".join(found.text)
    for name in HOSTILE_NAMES[:3]:
        assert name in text, name
    for path in HOSTILE_PATHS[:1]:
        assert path in text
    assert "@" + HOSTILE_ABSTRACT in text
    assert HOSTILE_HOSTNAME in text
    # U+202E and ESC are shown as visible escapes, never passed through
    assert "\u202e" not in text and "\x1b" not in text
    assert "\\u202eevil\\x1b[2J" in text


@pytest.fixture(scope="module")
def browser(chromium):
    with cdp.Browser(chromium, width=1280, height=800) as b:
        yield b


def _first_screen(browser, page: Path) -> dict:
    browser.open(cdp.file_url(page))
    return browser.evaluate("""(() => {
        const vis = el => { if (!el) return false; const r = el.getBoundingClientRect();
                            return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; };
        const verdict = document.querySelector('#diag-summary .verdict');
        return {
          verdict: verdict && verdict.innerText, verdictVisible: vis(verdict),
          rmem: document.querySelector('#total-rmem_alloc').innerText,
          totalsVisible: vis(document.querySelector('#total-rmem_alloc')) && vis(document.querySelector('#total-sock_drop')),
          findingsVisible: vis(document.querySelector('#findings h2')),
          chartVisible: vis(document.querySelector('#charts svg')) ,
          scripts: document.scripts.length,
          overflow: document.documentElement.scrollWidth - innerWidth,
          innerWidth: innerWidth,
        };
    })()""")


def test_first_screen_verdict_totals_no_errors(browser, situations_cap, tmp_path):
    report = build(situations_cap)
    page = write_report(tmp_path, report)
    got = _first_screen(browser, page)
    assert got["verdict"] == report.kernel_diag.verdict.upper()
    assert got["verdictVisible"] and got["totalsVisible"] and got["findingsVisible"], got
    assert got["chartVisible"], got
    assert got["rmem"].replace("\u202f", "") == str(report.totals.rmem_alloc)
    assert got["scripts"] == 0
    assert got["overflow"] <= 0, got
    assert browser.console_errors() == []
    assert browser.requests() == [cdp.file_url(page)]


def test_local_capture_with_tcp_mem_chart(browser, local_cap, tmp_path):
    report = build(local_cap)
    page = write_report(tmp_path, report)
    got = _first_screen(browser, page)
    assert got["verdictVisible"] and got["totalsVisible"], got
    if report.kernel_memory.tcp.limits is not None:
        assert browser.evaluate("document.querySelectorAll('#charts svg').length") >= 1
        assert "TCP memory against tcp_mem" in browser.evaluate("document.querySelector('#charts').innerText")
    assert browser.console_errors() == []


@pytest.mark.parametrize("name", ["situations_cap", "local_cap", "testdev"])
def test_the_answer_is_on_the_first_screen(request, browser, tmp_path, name):
    """The summary sentence lies inside the first 800 px of a 1280 px wide window, above everything else."""
    path = FIXTURES_CAPTURES / "testdev-busybox-dropbear.cap" if name == "testdev" else request.getfixturevalue(name)
    report = build(path)
    page = write_report(tmp_path, report, name=f"answer-{name}.html")
    browser.open(cdp.file_url(page))
    got = browser.evaluate("""(() => {
        const el = document.querySelector('#summary-text');
        const r = el.getBoundingClientRect();
        const diag = document.querySelector('#diag-summary').getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, height: r.height, text: el.innerText,
                before: diag.top >= r.bottom, width: innerWidth, height_vp: innerHeight};
    })()""")
    assert (got["width"], got["height_vp"]) == (1280, 800)
    assert got["height"] > 0 and got["top"] >= 0 and got["bottom"] <= 800, got
    assert got["before"], got  # above the kernel diag card: the answer comes first
    assert answer_text(report.summary) in got["text"]


HUGE = "<b>\u202e\x1b[31m" + "A" * 5000 + "\u202e" + "\u05d0" * 3000 + "\x1b[31m" + "'\"" * 1000 + "</b>"


def huge_paste() -> bytes:
    """An ss paste (as tickets carry them) whose names and paths are 10 kB of markup, bidi and escapes."""
    rows = [
        "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process",
        f'u_str LISTEN 0 5 /tmp/{HUGE} 4242 * 0 users:(("{HUGE}",pid=7,fd=3)) '
        "skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)",
        f'tcp LISTEN 9 5 0.0.0.0:22 0.0.0.0:* users:(("{HUGE}",pid=8,fd=3))',
        "\t skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d4)",
        "a line kit cannot read " + HUGE,
    ]
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 740)])
def test_long_hostile_strings_do_not_break_layout(chromium, tmp_path, width, height):
    report = report_mod.build(capture_mod.from_bytes(huge_paste(), source="ticket.txt"))
    assert any(len(p.name) > 10000 for s in report.sockets for p in s.processes)
    page = write_report(tmp_path, report, name=f"huge-{width}.html")
    with cdp.Browser(chromium, width=width, height=height) as b:
        b.open(cdp.file_url(page))
        overflow = b.evaluate("document.documentElement.scrollWidth - innerWidth")
        widest = b.evaluate("""Math.max(...[...document.querySelectorAll('main section, .card')]
                               .map(e => e.getBoundingClientRect().right))""")
        assert overflow <= 0, f"page scrolls sideways by {overflow}px at {width}px"
        assert widest <= width + 1
        assert b.evaluate("document.querySelectorAll('.ctl').length") > 0
        assert b.console_errors() == []


def test_print_media_hides_navigation_and_raw_sections(browser, situations_cap, tmp_path):
    page = write_report(tmp_path, build(situations_cap), name="print.html")
    browser.open(cdp.file_url(page))
    browser.send("Emulation.setEmulatedMedia", {"media": "print"})
    shown = browser.evaluate("""(() => ({
        nav: getComputedStyle(document.querySelector('nav')).display,
        raw: getComputedStyle(document.querySelector('details.raw')).display,
        findings: getComputedStyle(document.querySelector('#findings-detail')).display,
        overflow: document.documentElement.scrollWidth - innerWidth,
    }))()""")
    assert shown["nav"] == "none" and shown["raw"] == "none" and shown["findings"] != "none", shown
    pdf = browser.send("Page.printToPDF", {"printBackground": False})["data"]
    assert len(pdf) > 1000
    browser.send("Emulation.setEmulatedMedia", {"media": ""})
