"""A capture file cut anywhere (a copy interrupted, a ticket attachment truncated) still renders,
is marked partial, and never turns missing evidence into a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit import capture as capture_mod
from kit import report as report_mod
from kit.render import html, kdiag_text
from kit.render import json as json_render

REAL = Path(__file__).resolve().parent.parent / "captures" / "testdev-busybox-dropbear.cap"


def _cut_inside(data: bytes, section: str) -> int:
    """An offset halfway through a section's stdout, found in the real bytes."""
    cap = capture_mod.from_bytes(data)
    token = cap.header["token"].encode()
    start = data.index(token + b" BEGIN " + section.encode())
    end = data.index(token + b" STDERR " + section.encode())
    return (start + end) // 2


def test_cut_inside_the_kernel_config_leaves_the_options_unknown():
    data = REAL.read_bytes()
    whole = report_mod.build(capture_mod.from_bytes(data))
    assert whole.kernel_diag.options["CONFIG_INET_DIAG"].state != "unknown"
    cut = capture_mod.from_bytes(data[: _cut_inside(data, "kconfig")])
    rep = report_mod.build(cut)
    assert cut.partial and rep.capture.partial
    assert any(f.code == "partial-capture" for f in rep.findings)
    # The options the cut config no longer mentions are not declared absent.
    for name in ("CONFIG_INET_DIAG", "CONFIG_INET_TCP_DIAG", "CONFIG_INET_UDP_DIAG"):
        assert rep.kernel_diag.options[name].state != "absent", name
    assert "fell back to /proc" not in kdiag_text.summary_text(rep.kernel_diag)


def test_cut_inside_ss_keeps_the_sockets_that_arrived():
    data = REAL.read_bytes()
    whole = report_mod.build(capture_mod.from_bytes(data))
    rep = report_mod.build(capture_mod.from_bytes(data[: _cut_inside(data, "ss")]))
    assert rep.capture.partial
    assert 0 < len(rep.sockets) < len(whole.sockets)
    assert [s.local for s in rep.sockets] == [s.local for s in whole.sockets[: len(rep.sockets) - 1]] + [
        rep.sockets[-1].local
    ]


@pytest.mark.parametrize("step", [997])
def test_every_cut_renders(step):
    data = REAL.read_bytes()
    for end in range(0, len(data), step):
        try:
            cap = capture_mod.from_bytes(data[:end])
        except (capture_mod.CaptureFormatError, capture_mod.NoSocketData):
            assert end < data.index(b"\n", len(capture_mod.MAGIC)) + 1  # only a cut header is refused
            continue
        rep = report_mod.build(cap)
        html.render(rep)
        json_render.render(rep)
        assert cap.raw_paste or rep.capture.partial or end == len(data)
