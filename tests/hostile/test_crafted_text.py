"""Escapes planted in real-shaped inputs (an `ss -napm` paste, a kernel config) never reach
the terminal raw: text and kconfig output show them as escapes, JSON as \\u escapes."""

from __future__ import annotations

import json
from pathlib import Path

from hostile_support import control_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EVIL = "kit\x1b]52;c;cm0=\x07\x1b]0;t\x07\x9b2J\u202ecraft\u2066"


def planted_paste(tmp_path) -> Path:
    text = (FIXTURES / "debian-12" / "ss-napm.out").read_text()
    assert "kit-craft" in text
    path = tmp_path / "paste.txt"
    path.write_text(text.replace('"kit-craft"', f'"{EVIL}"'))
    return path


def test_text_format_shows_escapes(tmp_path, kit_run):
    ran = kit_run("render", planted_paste(tmp_path), "--format", "text")
    assert ran.code == 0 and ran.err == b"", ran
    assert control_bytes(ran.out) == []
    assert "kit\\x1b]52;c;cm0=\\x07" in ran.out.decode()


def test_json_escapes_c1_and_bidi(tmp_path, kit_run):
    ran = kit_run("render", planted_paste(tmp_path), "--format", "json")
    assert ran.code == 0, ran
    assert control_bytes(ran.out) == []
    assert b"\\u009b" in ran.out and b"\\u202e" in ran.out
    names = {p["name"] for s in json.loads(ran.out)["processes"] for p in [s]}
    assert EVIL in names  # the value is kept exactly; only its spelling is escaped


def test_json_redacted_escapes_too(tmp_path, kit_run):
    ran = kit_run("render", planted_paste(tmp_path), "--format", "json", "--redact")
    assert ran.code == 0, ran
    assert control_bytes(ran.out) == []


def test_kconfig_value_with_escapes(tmp_path, kit_run):
    config = tmp_path / "evil.config"
    config.write_bytes(b'CONFIG_INET_DIAG=y\nCONFIG_INET_TCP_DIAG="\x1b]0;pwned\x07\xc2\x9b"\nCONFIG_INET_UDP_DIAG=m\n')
    ran = kit_run("kconfig", config)
    assert ran.code == 1, ran
    assert control_bytes(ran.out) == [] and control_bytes(ran.err) == []
    assert '="\\x1b]0;pwned\\x07\\x9b"' in ran.out.decode()
    ran = kit_run("kconfig", config, "--format", "json")
    assert control_bytes(ran.out) == []


def test_usage_error_with_escapes_in_argv(tmp_path, kit_run):
    ran = kit_run("render", "x", "--format", "\x1b]0;t\x07")
    assert ran.code == 2
    assert "\\x1b]0;t\\x07" in ran.line
