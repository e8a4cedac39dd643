"""A device that sends without end: the output streams to disk, stops at --max-capture
(exit 4, one line), the partial capture is kept (0600) and renders; nothing is held whole
in memory. One connection carries several runs (what `--every` builds on)."""

from __future__ import annotations

import json
from pathlib import Path

import devicelib
import pytest

import kit.probe
from kit import capture
from kit.capture_writer import CaptureWriter
from kit.errors import ProbeIncomplete
from kit.sections import SECTIONS, Section
from kit.transport.local import LocalTransport

MIB = 1024 * 1024
# busybox `yes` writes as fast as the link takes it; the section's own bound is out of reach.
FLOOD = Section("flood", "yes KIT-FLOOD-LINE", timeout=600, max_bytes=4096 * MIB)


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def flooding_probe(monkeypatch):
    original = kit.probe.render_probe
    monkeypatch.setattr(
        kit.probe, "render_probe", lambda token=None, sections=SECTIONS: original(token, sections[:3] + (FLOOD,))
    )


@pytest.mark.device
def test_endless_stream_over_ssh_stops_at_the_limit(device, kit_collect, flooding_probe, tmp_path):
    run = kit_collect(*devicelib.kit_args(device), "--max-capture", "3", "--probe-timeout", "120")
    assert run.code == 4, run
    line = one_line(run.err)
    assert "the device sent more than 3 MiB" in line and "partial capture saved in" in line
    assert len(run.out) == 3
    cap_path = run.capture
    assert oct(cap_path.stat().st_mode & 0o777) == "0o600"
    cap = capture.load(cap_path)
    assert cap.partial and cap.header["exit_status"] is None
    assert cap.header["stdout_bytes"] + cap.header["stderr_bytes"] == 3 * MIB
    assert len(cap.stdout) + len(cap.stderr) == 3 * MIB  # the file holds exactly what the header says
    assert cap.sections["id"].complete and not cap.sections["flood"].complete
    assert cap.sections["flood"].stdout.startswith(b"KIT-FLOOD-LINE\n")
    assert json.loads(Path(run.out[2]).read_text())["capture"]["partial"] is True
    # No temporary file is left beside the capture.
    assert sorted(p.name for p in cap_path.parent.iterdir()) == [cap_path.name]


def test_endless_stream_from_local_shell_stops_at_the_limit(tmp_path):
    with CaptureWriter(tmp_path, 1 * MIB) as writer:
        with pytest.raises(ProbeIncomplete) as info:
            LocalTransport().run(b"echo start >&2; exec yes\n", timeout=60, sink=writer)
        assert "more than 1 MiB" in info.value.message
        path = writer.save("local", {"partial": True, "error": info.value.message})
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    cap = capture.load(path)
    assert cap.stderr == b"start\n" and cap.stdout == b"y\n" * ((MIB - 6) // 2) + b"y"[: (MIB - 6) % 2]


def test_memory_sink_is_bounded_too():
    from kit.transport.base import MemorySink

    sink = MemorySink(limit=1000)
    with pytest.raises(ProbeIncomplete) as info:
        LocalTransport().run(b"exec yes\n", timeout=60, sink=sink)
    assert len(sink.stdout) == 1000 and info.value.result.stdout == bytes(sink.stdout)


@pytest.mark.device
def test_several_runs_over_one_connection(device, tmp_path):
    from kit.transport.ssh import SshTransport, Target

    target = Target(
        host=device.host, port=device.port, user="root", key_files=(device.root_key,), known_hosts=device.known_hosts
    )
    transport = SshTransport(target)
    with transport.connect() as conn:
        first = conn.run(b"echo one\n", timeout=30)
        with CaptureWriter(tmp_path, 1 * MIB) as writer:
            second = conn.run(b"echo two; echo err >&2; exit 3\n", timeout=30, sink=writer)
            path = writer.save("two", {})
    assert (first.stdout, first.exit_status) == (b"one\n", 0)
    assert (second.stdout, second.exit_status) == (b"", 3)  # went to the writer
    assert path.read_bytes().endswith(b"two\nerr\n")
    assert (transport.connections, transport.channels) == (1, 2)
