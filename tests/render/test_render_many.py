"""`kit render A B C ...`: each input rendered as `kit render A` does, then their index (kit.fleet/1), paths last."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from support import build_report

from kit.cli import main
from kit.render.finding_text import worded

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "fleet.schema.json").read_text())


def test_each_rendered_then_the_index(situations_cap, idle_cap, tmp_path, capsys):
    cut = tmp_path / "cut.cap"
    data = idle_cap.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # a capture cut short: partial, exit 4
    damaged = tmp_path / "damaged.cap"
    damaged.write_bytes(b"KIT-CAPTURE 1\n{not json\n")
    inputs = [idle_cap, situations_cap, damaged, cut]
    reports = tmp_path / "reports"

    code = main(["render", *map(str, inputs), "--reports", str(reports)])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 + 2  # one HTML per readable input, then the index HTML and JSON
    assert all(Path(p).parent == reports for p in lines)
    assert Path(lines[-2]).name.startswith("index-") and lines[-2].endswith(".html") and lines[-1].endswith(".json")
    assert err.count("\n") == 1 and "damaged.cap" in err

    index = json.loads(Path(lines[-1]).read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(index)
    devices = index["devices"]
    assert [d["target"] for d in devices] == [str(p) for p in inputs]
    for d, html in zip([devices[0], devices[1], devices[3]], lines[:3], strict=True):
        assert reports / d["html"] == Path(html)
        assert (reports / d["capture"]).resolve() == Path(d["target"]).resolve()
        assert d["json"] is None  # `kit render A` writes HTML only
    for d in (devices[0], devices[1]):
        assert d["exit"] == (0 if d["verdict"] == "ok" else 1)
    assert devices[2]["exit"] == 2 and "damaged capture" in devices[2]["error"] and devices[2]["html"] is None
    assert devices[3]["exit"] == 4 and devices[3]["verdict"] is not None
    assert code == max(d["exit"] for d in devices) == 4
    findings = build_report(situations_cap).findings  # the capture with every trouble
    worst = min(findings, key=lambda f: ("critical", "warning", "info").index(f.severity))
    assert devices[1]["worst_finding"] == {"severity": worst.severity, "title": worded(worst).title}


def test_several_inputs_are_html_only(idle_cap, capsys):
    for extra in (["--format", "json"], ["-o", "x.html"], ["--redact"]):
        assert main(["render", str(idle_cap), str(idle_cap), *extra]) == 2
        assert "one input at a time" in capsys.readouterr().err


def test_failure_note_is_a_failed_row_and_alone_exits_with_its_code(idle_cap, tmp_path, capsys):
    from kit import failure_note

    note = tmp_path / "ap9.failed"
    note.write_bytes(failure_note.encode(failure_note.FailureNote("ap9", 3, "ssh: connect to host ap9: No route")))
    reports = tmp_path / "reports"
    assert main(["render", str(note), str(idle_cap), "--reports", str(reports)]) == 3
    index = json.loads(Path(capsys.readouterr().out.splitlines()[-1]).read_text())
    failed = index["devices"][0]
    assert (failed["exit"], failed["error"], failed["html"]) == (3, "ap9: ssh: connect to host ap9: No route", None)

    assert main(["render", str(note)]) == 3
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "No route" in err

    assert main(["render", "--index", str(idle_cap), "--reports", str(reports)]) in (0, 1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and Path(lines[1]).name.startswith("index-")
