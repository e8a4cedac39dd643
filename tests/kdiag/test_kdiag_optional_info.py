"""Extra diag options (RAW, UNIX, NETLINK, PACKET, IKCONFIG) that are absent are information, not failures:
no remedy and no red, unless the user asks for them with `kit kconfig --require`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kit import capture, report
from kit.analyse import kdiag
from kit.cli import main
from kit.render import html
from kit.render import json as json_render

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONFIG = FIXTURES / "kconfig-quirks" / "networking.config"  # NETLINK_DIAG, RAW_DIAG, IKCONFIG not set


def test_live_report_gives_remedies_for_required_options_only():
    # A real capture whose kernel lacks some extra options (ss 6.1 asked for them: RTNETLINK errors).
    rep = report.build(capture.load(CAPTURES / "debian12-local.cap"))
    doc = json.loads(json_render.render(rep))
    options = doc["kernel_diag"]["options"]
    extra_not_ok = [n for n, o in options.items() if not o["required"] and o["state"] not in kdiag.OK_STATES]
    assert extra_not_ok, options  # the capture has some: otherwise this test proves nothing
    for name in extra_not_ok:
        assert "remedy" not in options[name], name
    assert {n for n, o in options.items() if o["required"]} == set(kdiag.REQUIRED)
    page = html.render(rep)
    for name in extra_not_ok:
        row = re.search(
            rf'<tr><td class="mono">{name} <span class="muted">\(extra\)</span></td><td class="([^"]+)"', page
        )
        assert row and "st-info" in row.group(1) and "st-absent" not in row.group(1), name
        assert f"kit kconfig --require {name}" in page


def test_a_required_option_that_is_not_ok_keeps_its_remedy():
    options = {"CONFIG_INET": None}  # an empty config: nothing set
    diag = kdiag.diagnose_config(options, "empty.config")
    for name in kdiag.REQUIRED:
        assert diag.options[name].state == "absent" and diag.options[name].remedy
    for name in set(kdiag.OPTIONS) - set(kdiag.REQUIRED):
        assert diag.options[name].remedy is None, name


def test_kconfig_require_asks_for_the_remedy(capsys):
    assert main(["kconfig", str(CONFIG), "--format", "json"]) == 0
    plain = json.loads(capsys.readouterr().out)["files"][0]["kernel_diag"]["options"]
    assert plain["CONFIG_NETLINK_DIAG"]["state"] == "absent" and "remedy" not in plain["CONFIG_NETLINK_DIAG"]
    assert not plain["CONFIG_NETLINK_DIAG"]["required"]

    assert main(["kconfig", str(CONFIG), "--format", "json", "--require", "CONFIG_NETLINK_DIAG"]) == 1
    doc = json.loads(capsys.readouterr().out)["files"][0]
    asked = doc["kernel_diag"]["options"]["CONFIG_NETLINK_DIAG"]
    assert asked["required"] and "CONFIG_NETLINK_DIAG=y" in asked["remedy"]
    assert "CONFIG_NETLINK_DIAG=y" in doc["required"]["CONFIG_NETLINK_DIAG"]["remedy"]
    assert main(["kconfig", str(CONFIG), "--require", "CONFIG_NETLINK_DIAG"]) == 1
    text = capsys.readouterr().out
    assert re.search(r"\[FAIL\] CONFIG_NETLINK_DIAG.*\n\s+-> .*CONFIG_NETLINK_DIAG=y", text), text
