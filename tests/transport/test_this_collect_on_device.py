"""This collect's own SSH session, found on the real test device (dropbear serving busybox) from the
probe's own process ancestry, marked in JSON, named in the report, and never a top holder or finding."""

from __future__ import annotations

import json
from pathlib import Path

import devicelib
import pytest

pytestmark = pytest.mark.device


def _collect(kit_collect, dev, who="root"):
    run = kit_collect(*devicelib.kit_args(dev, who))
    assert run.code in (0, 1), run
    html_path, json_path = Path(run.out[1]), Path(run.out[2])
    return json.loads(json_path.read_text()), html_path.read_text()


def test_dropbear_session_is_this_collect_and_the_listener_is_not(device, kit_collect):
    doc, page = _collect(kit_collect, device)
    ours = doc["this_collect"]
    sessions = [p for p in ours["processes"] if p["role"] == "ssh session"]
    assert [p["name"] for p in sessions] == ["dropbear"], ours
    session_pid = sessions[0]["pid"]
    # The listener is the session's parent on the device: the LISTEN socket's owner.
    listener = [s for s in doc["sockets"] if s["state"] == "LISTEN" and f":{device.port}" in s["local"]]
    assert listener and all(not s["this_collect"] for s in listener)
    listener_pids = {p["pid"] for s in listener for p in s["processes"]}
    assert session_pid not in listener_pids
    # The session's connection to kit, and kit's own end of it (same host), are marked.
    session = [s for s in doc["sockets"] if any(p["pid"] == session_pid for p in s["processes"])]
    assert session and all(s["this_collect"] for s in session)
    assert any(s["netid"] == "tcp" and s["local"].endswith(f":{device.port}") for s in session)
    ends = {(s["peer"], s["local"]) for s in session if s["netid"] == "tcp"}
    client = [s for s in doc["sockets"] if s["netid"] == "tcp" and (s["local"], s["peer"]) in ends]
    assert client and all(s["this_collect"] for s in client)
    # Never the top holder, never in a finding.
    holder = doc["summary"]["top_holder"]
    assert holder is None or holder["pid"] != session_pid
    assert all(f"dropbear[{session_pid}]" not in e for f in doc["findings"] for e in f["evidence"])
    # Named in the report, on the first screen.
    assert 'id="this-collect"' in page and f"SSH session: dropbear [{session_pid}]" in page
    # The host's sockets, whose processes the device's PID namespace cannot see, say so.
    assert any(s["owner_missing"] == "other_pid_namespace" for s in doc["sockets"])
    assert doc["memory_elsewhere"]["slabinfo"] == "read" and doc["memory_elsewhere"]["sunreclaim"]


def test_a_non_root_session_is_found_too(device, kit_collect):
    doc, _ = _collect(kit_collect, device, "support")
    ours = doc["this_collect"]
    assert [p["name"] for p in ours["processes"] if p["role"] == "ssh session"] == ["dropbear"], ours
    # As root only: /proc/slabinfo is mode 0400.
    assert doc["memory_elsewhere"]["slabinfo"] == "denied"
    assert all(s["owner_missing"] in ("kernel", "not_root") for s in doc["sockets"] if not s["processes"])


def test_openssh_session_and_its_monitor_are_this_collect(sshd_legacy, kit_collect):
    """OpenSSH: the probe's shell under `sshd: support@notty`, under the privilege-separation
    monitor `sshd: support [priv]`, under the listening daemon; the first two are ours."""
    args = devicelib.kit_args(sshd_legacy, "support", key=False) + ["-i", sshd_legacy.user_key, "--legacy"]
    run = kit_collect(*args)
    assert run.code in (0, 1), run
    doc = json.loads(Path(run.out[2]).read_text())
    sessions = [p for p in doc["this_collect"]["processes"] if p["role"] == "ssh session"]
    assert [p["name"] for p in sessions] == ["sshd", "sshd"], doc["this_collect"]
    from kit import capture
    from kit.parsers import ancestry

    chain = [
        r for r in ancestry.parse(capture.load(run.capture).sections["ancestry"].text).records if hasattr(r, "ppid")
    ]
    names = [a.name for a in chain]
    top = max(i for i, n in enumerate(names) if n == "sshd")
    assert chain[top].pid not in {p["pid"] for p in sessions}  # the daemon stays the device's
