"""`kit collect` over SSH against a MIPS router: Debian's mipsel Malta kernel under qemu, diag modules loaded.

The whole path a support engineer takes, on the architecture routers run:
paramiko to dropbear (Debian's mipsel build) through qemu's user-mode
network, the probe in busybox ash, ss reading socket memory through the
kernel's inet_diag modules.
"""

from __future__ import annotations

import json
from pathlib import Path

import devicelib

from kit import capture
from kit.probe import new_token, render_probe
from kit.transport.ssh import SshTransport


def test_collect_on_the_mips_router(malta_router, kit_collect):
    run = kit_collect(*devicelib.kit_args(malta_router))
    assert run.code == 0, run  # verdict ok: the diag modules are loaded
    cap_path, html_path, json_path = (Path(p) for p in run.out)
    cap = capture.load(cap_path)
    assert not cap.partial and cap.problems == []
    assert "mips" in cap.sections["uname"].text
    report = json.loads(json_path.read_text())
    assert report["kernel_diag"]["verdict"] == "ok"
    assert report["device"]["hostname"] == "kit-malta"
    tcp = [s for s in report["sockets"] if s["netid"] == "tcp"]
    assert tcp and all(s["skmem"] is not None for s in tcp if s["state"] != "TIME-WAIT")
    assert any(p["name"] == "nc" for s in tcp for p in s["processes"])
    assert html_path.stat().st_size > 10_000


def test_one_connection_one_channel(malta_router):
    transport = SshTransport(devicelib.root_target(malta_router))
    token = new_token()
    result = transport.run(render_probe(token).encode(), timeout=300)
    assert result.exit_status == 0
    assert (transport.connections, transport.channels) == (1, 1)
    sections, problems = capture.split_sections(result.stdout, token)
    assert problems == [] and all(s.complete for s in sections.values())
