"""The streamed JSON report holds the same values as the plain-data form, written in bounded pieces.

`to_dict` (with `socket_dict` for every socket) is the reference: what the
JSON was before it was streamed, fed to the standard library's json.dumps.
`write` must give the same JSON value on every real capture the suite has.
"""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from support import FIXTURES
from support import build_report as build

from kit import capture as capture_mod
from kit import report as report_mod
from kit.records import ProcRef, Skmem, Socket
from kit.render import json as json_render
from kit.terminal_text import json_safe

CAPTURES = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".out", ".err", ".cap", ".txt"))


def reference(report) -> str:
    return json.dumps(json_render.to_dict(report), indent=1, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_json_same_value_as_reference(path):
    try:
        report = build(path)
    except capture_mod.NoSocketData:
        # ss's stderr, /proc/modules, kit's own ancestry and slab/conntrack sections: no socket
        # data, refused with exit 2 (tests/test_paste_input.py)
        assert path.suffix == ".err" or path.name in ("proc-modules.out", "ancestry.out", "slab-conntrack.out"), path
        return
    streamed = json_render.render(report)
    assert json.loads(streamed) == json.loads(reference(report))


@pytest.mark.parametrize("name", ["situations_cap", "idle_cap", "nonroot_cap", "noss_cap", "local_cap"])
def test_device_captures_same_value_as_reference(request, name):
    report = build(request.getfixturevalue(name))
    assert report.sockets or name == "noss_cap"
    assert json.loads(json_render.render(report)) == json.loads(reference(report))


def test_everything_but_sockets_laid_out_as_json_dumps(situations_cap):
    """The small parts come out byte for byte as json.dumps(indent=1) wrote them."""
    head = json_render.to_dict(build(situations_cap), sockets=False)
    out = io.StringIO()
    json_render.write_data(head, out)
    # ...with DEL, C1 and bidi characters escaped (kit.terminal_text.json_safe), which json.dumps leaves raw.
    assert out.getvalue() == json_safe(json.dumps(head, indent=1, ensure_ascii=False)) + "\n"


def test_awkward_strings_and_missing_numbers_round_trip():
    """Quotes, backslashes, controls, C1, bidi, non-BMP text and None where numbers go."""
    names = ['a"b\\c', "tab\tnl\ncr\r", "\x1b[2J\x00", "\u009b31m\u202eevil", "ünïcode \U0001f600", ""]
    sockets = [
        Socket(
            netid=None if n % 2 else "u_str",
            state=None if n % 3 else "ESTAB",
            recv_q=None if n % 2 else n,
            send_q=None,
            local=name,
            peer=name[::-1],
            processes=(ProcRef(name, None, 3), ProcRef(name + "2", 7, None)),
            skmem=Skmem(rmem_alloc=n) if n % 2 else None,
            line=n,
            inode=None if n % 2 else 1234,
            drops=n,
        )
        for n, name in enumerate(names)
    ]
    report = dataclasses.replace(
        report_mod.build(capture_mod.from_bytes(b"State Recv-Q Send-Q Local Address:Port Peer Address:Port\n")),
        sockets=sockets,
    )
    assert json.loads(json_render.render(report))["sockets"] == [
        json_render.socket_dict(s, report.owner_context) for s in report.sockets
    ]


class Sink(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.biggest = 0

    def write(self, s: str) -> int:
        self.biggest = max(self.biggest, len(s))
        return super().write(s)


def test_sockets_written_a_chunk_at_a_time():
    """10k sockets: no single write holds more than one chunk of socket lines."""
    rows = "".join(
        f'u_str ESTAB 0 0 /run/s{n}.sock {n} * {n + 1} users:(("p",pid={n},fd=3))\n'
        f"\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)\n"
        for n in range(10_000)
    )
    text = ("Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n" + rows).encode()
    report = report_mod.build(capture_mod.from_bytes(text, source="paste"))
    assert len(report.sockets) == 10_000
    sink = Sink()
    json_render.write(report, sink)
    line = len(json_render.socket_line(report.sockets[0], {}))
    assert sink.biggest < 2 * line * json_render.SOCKETS_PER_WRITE
    assert sink.biggest < len(sink.getvalue()) / 2
    assert len(json.loads(sink.getvalue())["sockets"]) == 10_000


def test_parse_problems_streamed_laid_out_as_json_dumps():
    """The unread lines come out one at a time, byte for byte as json.dumps(indent=1) lays the list out."""
    junk = "".join(f"junk line {n} \\x00 ü\n" for n in range(500))
    text = b"State Recv-Q Send-Q Local Address:Port Peer Address:Port\nESTAB 0 0 10.0.0.1:22 10.0.0.2:5555\n"
    report = report_mod.build(capture_mod.from_bytes(text + junk.encode(), source="paste"))
    assert len(report.parse_problems) == 500
    report = dataclasses.replace(report, sockets=[])  # the socket list is laid out one a line: not json.dumps'
    reference = json.dumps(json_render.to_dict(report), indent=1, ensure_ascii=False)
    assert json_render.render(report) == json_safe(reference) + "\n"
    assert json_render.to_dict(report, sockets=False)["parse_problems"] == []
