"""Forged sections, statuses and numbers, and damaged capture headers: every parser and the
capture reader turn them into records and problems, never an exception (exit 70).

The forged device output is a real capture (captures/debian12-local.cap, `kit collect
--local` on Debian 12) with values swapped for the forms a device could print: `RC ²`
(str.isdigit() is True, int() refuses it), `1²3` in meminfo, tcp_mem, sockstat and the
page size. It is sent by the crafted SSH server with the run's own token, so kit reads it
exactly as it reads a device."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from evil_server import Behaviour, EvilServer, token_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit import capture
from kit import report as report_mod
from kit.render import html, text
from kit.render import json as json_render

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
REAL = (CAPTURES / "debian12-local.cap").read_bytes()
_END = REAL.index(b"\n", len(capture.MAGIC))
REAL_HEADER = json.loads(REAL[len(capture.MAGIC) : _END])
REAL_TOKEN = REAL_HEADER["token"].encode()
REAL_STDOUT = REAL[_END + 1 :][: REAL_HEADER["stdout_bytes"]]

# (section, pattern in its stdout, forged replacement)
FORGERIES = [
    ("meminfo", rb"MemTotal:\s+\d+", "MemTotal:       1²3".encode()),
    ("meminfo", rb"MemAvailable:\s+\d+", "MemAvailable:   ①".encode()),
    ("tcp_mem", rb"^\d+", "1²3".encode()),
    ("udp_mem", rb"^\d+", "٣".encode()),
    ("sockstat", rb"inuse \d+", "inuse 1²3".encode()),
    ("pagesize", rb"^\d+", "4²96".encode()),
    ("snmp", rb" \d+", " ²".encode()),
]


def section_span(stdout: bytes, token: bytes, name: str) -> tuple[int, int]:
    start = stdout.index(b"\n" + token + b" BEGIN " + name.encode() + b"\n") + len(token) + len(name) + 9
    return start, stdout.index(b"\n" + token + b" STDERR " + name.encode() + b"\n", start)


def forged_stdout(token: bytes) -> bytes:
    out = REAL_STDOUT.replace(REAL_TOKEN, token)
    for name, pattern, replacement in FORGERIES:
        a, b = section_span(out, token, name)
        new, n = re.subn(pattern, replacement, out[a:b], count=1, flags=re.M)
        assert n == 1, name
        out = out[:a] + new + out[b:]
    # Forged exit statuses: a digit int() refuses, a negative one, one past any int size.
    for name, rc in (("uname", "²"), ("hostname", "-1"), ("id", "9" * 40)):
        rc_at = out.index(token + b" RC ", out.index(token + b" BEGIN " + name.encode() + b"\n"))
        line_end = out.index(b"\n", rc_at)
        out = out[:rc_at] + token + f" RC {rc}".encode() + out[line_end:]
    return out


def render_all(cap: capture.Capture) -> None:
    rep = report_mod.build(cap, source="forged")
    json_render.write(rep, io.StringIO())
    text.render(rep)
    html.render(rep)
    html.render(rep, redact=True)


def test_forged_numbers_and_statuses_in_a_capture_file():
    token = REAL_TOKEN
    out = forged_stdout(token)
    data = capture.capture_bytes(dict(REAL_HEADER), out, b"")
    cap = capture.from_bytes(data)
    assert cap.sections["uname"].rc is None and cap.sections["hostname"].rc == -1
    render_all(cap)


def test_forged_device_over_ssh(tmp_path, kit_run):
    b = Behaviour(answer=lambda script: [forged_stdout(token_of(script).encode())])
    with EvilServer(b, tmp_path) as srv:
        ran = kit_run("collect", *srv.args(), "-F", "none", "--captures", tmp_path / "c", "--reports", tmp_path / "r")
    assert ran.code in (0, 1), ran
    assert ran.err == b""
    paths = [tmp_path / p for p in ran.out.decode().splitlines()]
    assert len(paths) == 3 and all(p.exists() for p in paths)
    again = kit_run("render", paths[0], "--format", "json")
    assert again.code == 0 and json.loads(again.out)["sockets"]


# ---------------------------------------------------------------- damaged headers


@pytest.mark.parametrize(
    "header_line, needle",
    [
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"{", "not valid JSON"),
        (b'{"stdout_bytes": Infinity}', "not valid JSON"),
        (b'{"stdout_bytes": NaN}', "not valid JSON"),
        (b'{"stdout_bytes": 1e999}', "not a byte count"),
        (b'{"stdout_bytes": "12"}', "not a byte count"),
        (b'{"stdout_bytes": -3}', "negative"),
        (b'{"stderr_bytes": true}', "not a byte count"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[" * 100000, "not valid JSON"),
    ],
)
def test_damaged_header_is_one_line_exit_2(header_line, needle, tmp_path, kit_run):
    path = tmp_path / "damaged.cap"
    path.write_bytes(capture.MAGIC + header_line + b"\n" + REAL_STDOUT)
    ran = kit_run("render", path, "--format", "json")
    assert ran.code == 2 and "damaged capture" in ran.line and needle in ran.line, ran


def test_header_fields_of_the_wrong_type_still_render(tmp_path, kit_run):
    header = dict(
        REAL_HEADER,
        target=["\x1b]0;x\x07"],
        started=12,
        exit_status="0",
        partial="no",
        host_key={"a": 1},
        error=3.5,
        lines_before="x",
        detected=7,
    )
    path = tmp_path / "typed.cap"
    path.write_bytes(capture.capture_bytes(header, REAL_STDOUT, b""))
    ran = kit_run("render", path, "--format", "json")
    assert ran.code in (0, 4), ran
    report = json.loads(ran.out)
    assert report["sockets"] and report["capture"]["target"] is None and report["capture"]["exit_status"] is None


# ---------------------------------------------------------------- fuzzing the reader and the header

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HEADER_KEYS = sorted(set(REAL_HEADER) | {"hand_run", "lines_before", "lines_after", "detected", "raw_paste"})


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(HEADER_KEYS), JSON_VALUES, max_size=5))
def test_fuzzed_header_fields(changes):
    header = dict(REAL_HEADER, **changes)
    line = json.dumps(header).encode()
    try:
        cap = capture.from_bytes(capture.MAGIC + line + b"\n" + REAL_STDOUT)
    except capture.CaptureFormatError:
        return
    render_all(cap)


@FUZZ
@given(line=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_fuzzed_header_line(line):
    try:
        cap = capture.from_bytes(capture.MAGIC + line.replace(b"\n", b" ") + b"\n" + REAL_STDOUT[:4000])
    except capture.CaptureFormatError:
        return
    render_all(cap)


NOISE = st.sampled_from(["²", "①", "٣", "1²3", "-1", "9" * 30, "\x00", "\ufffd", " ", "\n", "\t", ":", "(", "x"])
SECTIONS = [
    "meminfo", "tcp_mem", "udp_mem", "sockstat", "sockstat6", "pagesize", "snmp", "netstat_counters",
    "modules_before", "kconfig", "id", "uname", "os_release", "ss", "tcp_rmem", "kdiag_module_files", "kdiag_kallsyms",
]  # fmt: skip


@FUZZ
@given(
    name=st.sampled_from(SECTIONS),
    edits=st.lists(st.tuples(st.integers(min_value=0), NOISE), min_size=1, max_size=8),
)
def test_fuzzed_section_bodies(name, edits):
    out = REAL_STDOUT
    a, b = section_span(out, REAL_TOKEN, name)
    body = out[a:b].decode("utf-8", "replace")
    for pos, piece in edits:
        at = pos % (len(body) + 1)
        body = body[:at] + piece + body[at:]
    out = out[:a] + body.encode() + out[b:]
    render_all(capture.from_bytes(capture.capture_bytes(dict(REAL_HEADER), out, b"")))


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(REAL_STDOUT)), junk=st.binary(max_size=64))
def test_fuzzed_cuts_and_junk(cut, junk):
    out = REAL_STDOUT[:cut] + junk
    render_all(capture.from_bytes(capture.capture_bytes(dict(REAL_HEADER), out, b"")))
