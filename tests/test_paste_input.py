"""What `kit render` does with input that is not a capture: stdin, text without socket data, half-read pastes."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from support import FIXTURES

from kit import capture
from kit import report as report_mod
from kit.cli import main
from kit.render.finding_text import worded

README = Path(__file__).resolve().parent.parent / "README.md"
SS = FIXTURES / "debian-12" / "ss-napm.out"


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.mark.parametrize(
    "what, data",
    [
        ("a binary (the python executable)", Path(sys.executable).resolve().read_bytes()[:200_000]),
        ("a text about something else (the README)", README.read_bytes()),
        ("an empty file", b""),
        ("blank lines", b"\n\r\n  \n"),
    ],
)
def test_no_socket_data_is_exit_2_with_one_line(what, data, tmp_path, monkeypatch, capsys):
    path = tmp_path / "input"
    path.write_bytes(data)
    for argv, stdin in (([str(path)], None), (["-"], data)):
        if stdin is not None:
            _stdin(monkeypatch, stdin)
        capsys.readouterr()
        assert main(["render", *argv, "--format", "json"]) == 2, what
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1 and "no socket data" in err and "ss, netstat" in err, err


@pytest.mark.parametrize("fmt", ["html", "json", "text"])
def test_render_dash_reads_a_paste_from_stdin(fmt, tmp_path, monkeypatch):
    _stdin(monkeypatch, SS.read_bytes())
    out = tmp_path / f"r.{fmt}"
    assert main(["render", "-", "--format", fmt, "-o", str(out)]) == 0
    if fmt == "json":
        d = json.loads(out.read_text())
        whole = report_mod.build(capture.load(SS))
        assert d["totals"]["sockets"] == whole.totals.sockets > 0
        assert d["capture"]["raw_paste"] and d["capture"]["detected"] == "ss"


def test_render_dash_html_without_o_goes_under_reports(tmp_path, monkeypatch, capsys):
    _stdin(monkeypatch, SS.read_bytes())
    assert main(["render", "-", "--reports", str(tmp_path)]) == 0
    assert Path(capsys.readouterr().out.strip()).parent == tmp_path


def test_half_read_paste_renders_with_a_warning_and_its_first_unread_lines(tmp_path, capsys):
    ss = SS.read_text()
    path = tmp_path / "half.txt"
    path.write_text(ss + "\n" + README.read_text())
    rep = report_mod.build(capture.load(path))
    whole = report_mod.build(capture.load(SS))
    assert rep.totals == whole.totals  # what could be read is read
    finding = worded(next(f for f in rep.findings if f.code == "parse-problems"))
    assert finding.severity == "warning"
    unread = len({p.problem.line for p in rep.parse_problems})
    assert f"{unread} of " in finding.title
    assert "kit — why are this router" in finding.evidence[0]
    assert main(["render", str(path), "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert f"Lines kit could not read: {len(rep.parse_problems)}" in out
    assert "# kit — why are this router's sockets eating its memory?" in out


def test_a_few_unread_lines_are_information_not_a_warning(tmp_path):
    path = tmp_path / "prompt.txt"
    path.write_text("root@OpenWrt:~# ss -napm\n" + SS.read_text() + "root@OpenWrt:~# \n")
    rep = report_mod.build(capture.load(path))
    finding = next(f for f in rep.findings if f.code == "parse-problems")
    assert finding.severity == "info" and len(rep.parse_problems) == 2
