"""kit collect --every/--count over one SSH connection to the real test device, and with --local.

The growing sockets are real: tests/render/situations.py --hold starts a
receiver that never reads while its sender keeps writing ("leak") and a server
under which CLOSE-WAIT sockets with unread data pile up ("cwpile"). For the
device they run inside its PID namespace (nsenter), so the device's own
`ss -p` names them, with the pids the device sees. The trend and the diff of
the series must name that socket and its process.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import servers
from support import unavailable

from kit.cli import main

SITUATIONS = Path(__file__).resolve().parent / "render" / "situations.py"
DOCS = Path(__file__).resolve().parents[1] / "docs"


def check_trend_schema(doc: dict) -> None:
    import jsonschema
    import referencing

    schemas = [json.loads((DOCS / n).read_text()) for n in ("report.schema.json", "trend.schema.json")]
    registry = referencing.Registry().with_resources(
        [(s["$id"], referencing.Resource.from_contents(s)) for s in schemas]
    )
    errors = list(jsonschema.Draft202012Validator(schemas[1], registry=registry).iter_errors(doc))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


EVERY, COUNT = "1", "4"


@contextlib.contextmanager
def growing(prefix: list[str] = ()) -> Iterator[dict[str, int]]:
    """Start leak and cwpile (under `prefix`, e.g. nsenter); yield {name: pid as the target sees it}."""
    proc = subprocess.Popen(
        [*prefix, sys.executable, str(SITUATIONS), "--hold", "leak", "cwpile"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError(f"situations.py --hold failed: {line}{proc.stderr.read()[-2000:]}")
        pids = [int(p) for p in line.split()[1:]]
        yield dict(zip(("leak", "cwpile"), pids, strict=True))
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def device_pid_namespace(dev) -> list[str]:
    """nsenter into the device's PID namespace (its init is the unshare process's child)."""
    kids = servers._children(dev.pid)
    if not kids:
        unavailable("the test device's init process is not visible")
    return ["nsenter", "--target", str(kids[0]), "--pid", "--"]


def collect_series(capsys, *argv) -> tuple[int, list[str], str]:
    capsys.readouterr()
    code = main(["collect", *map(str, argv), "--every", EVERY, "--count", COUNT])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def check_names_the_leak(lines: list[str], pids: dict[str, int], capsys) -> dict:
    """The series' stdout, its trend and the diff of its first and last capture name leak's socket and cwpile."""
    captures, trend_html, trend_json = [Path(p) for p in lines[:-2]], Path(lines[-2]), Path(lines[-1])
    assert len(captures) == int(COUNT) and all(p.suffix == ".cap" and p.exists() for p in captures)
    assert trend_html.suffix == ".html" and trend_json.suffix == ".json" and trend_html.exists()
    trend = json.loads(trend_json.read_text())
    check_trend_schema(trend)
    assert [s["capture"] for s in trend["samples"]] == [str(p) for p in captures]
    procs = {(p["name"], p["pid"]): p for p in trend["processes"]}
    for name in ("leak", "cwpile"):
        assert procs[(name, pids[name])]["growing"], (name, procs.get((name, pids[name])))
        assert any(
            f["title"].startswith(f"Socket memory of {name} [{pids[name]}] is growing") for f in trend["findings"]
        )
    leak_sockets = [s for s in trend["sockets"] if [p["name"] for p in s["processes"]] == ["leak"]]
    assert leak_sockets and leak_sockets[0]["state"] == "ESTAB"

    capsys.readouterr()
    assert main(["diff", str(captures[0]), str(captures[-1]), "--format", "json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    leak = next(c for c in diff["sockets"]["changed"] if c["processes"] and c["processes"][0]["name"] == "leak")
    assert leak["change"]["rmem_alloc"] > 0
    assert (leak["local"], leak["peer"]) == (leak_sockets[0]["local"], leak_sockets[0]["peer"])
    cw = next(p for p in diff["processes"] if p["name"] == "cwpile")
    assert cw["pid"] == pids["cwpile"] and cw["change"]["sockets"] > 0 and cw["change"]["r"] > 0
    assert any(s["state"] == "CLOSE-WAIT" and s["processes"][0]["name"] == "cwpile" for s in diff["sockets"]["new"])
    return trend


@pytest.mark.device
def test_series_over_one_ssh_connection_names_the_growing_socket(device, tmp_path, capsys):
    log_before = Path(device.log).read_text(errors="replace") if device.log else ""
    with growing(device_pid_namespace(device)) as pids:
        code, lines, err = collect_series(
            capsys,
            f"root@{device.host}",
            "-p",
            device.port,
            "-i",
            device.root_key,
            "--known-hosts",
            device.known_hosts,
            "-F",
            "none",
            "--captures",
            tmp_path / "c",
            "--reports",
            tmp_path / "r",
        )
    assert code in (0, 1), err
    check_names_the_leak(lines, pids, capsys)
    # One connection: every capture sees the same single SSH session (dropbear's side of it) ...
    from support import build_report

    sessions = []
    for cap in lines[:-2]:
        report = build_report(Path(cap))
        sessions.append(
            {
                (s.local, s.peer)
                for s in report.sockets
                if s.netid == "tcp"
                and s.state == "ESTAB"
                and s.local.endswith(f":{device.port}")
                and any(p.name == "dropbear" for p in s.processes)
            }
        )
    assert len(sessions[0]) == 1 and all(s == sessions[0] for s in sessions), sessions
    # ... and dropbear logged one login for the whole series.
    if device.log:
        logins = re.findall(r"(?:Pubkey auth succeeded|auth succeeded)", Path(device.log).read_text(errors="replace"))
        before = re.findall(r"(?:Pubkey auth succeeded|auth succeeded)", log_before)
        assert len(logins) - len(before) == 1, (len(before), len(logins))


def test_series_with_local_names_the_growing_socket(tmp_path, capsys):
    with growing() as pids:
        code, lines, err = collect_series(capsys, "--local", "--captures", tmp_path / "c", "--reports", tmp_path / "r")
    assert code in (0, 1), err
    check_names_the_leak(lines, pids, capsys)


def test_ctrl_c_keeps_the_captures_and_writes_their_trend(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kit",
            "collect",
            "--local",
            "--every",
            "1",
            "--count",
            "50",
            "--captures",
            str(tmp_path / "c"),
            "--reports",
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written = [proc.stdout.readline(), proc.stdout.readline()]
    assert all(line.endswith(".cap\n") for line in written), written
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    lines = [line.strip() for line in written] + out.splitlines()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and err.count("\n") == 1
    captures = [Path(p) for p in lines if p.endswith(".cap")]
    assert len(captures) >= 2 and all(p.exists() for p in captures)
    assert lines[-2].endswith(".html") and lines[-1].endswith(".json")
    trend = json.loads(Path(lines[-1]).read_text())
    assert [s["capture"] for s in trend["samples"]] == [str(p) for p in captures]
    assert sorted(p.name for p in (tmp_path / "c").iterdir() if p.suffix == ".cap") == sorted(p.name for p in captures)


def test_every_and_count_go_together(capsys):
    for argv in (["--every", "5"], ["--count", "3"]):
        capsys.readouterr()
        assert main(["collect", "--local", *argv]) == 2
        assert "--every and --count go together" in capsys.readouterr().err
    for argv in (["--every", "1", "--count", "0"], ["--every", "nan", "--count", "2"]):
        with pytest.raises(SystemExit) as exc:
            main(["collect", "--local", *argv])
        assert exc.value.code == 2


@pytest.mark.device
def test_series_with_a_fleet_file_one_trend_per_device_and_the_index(device, tmp_path, capsys):
    """-f with --every: every device runs its series over its own connection; each capture line as it is
    written (whole lines, whichever device), then the index, whose entries link each device's trend."""
    config = tmp_path / "ssh_config"
    config.write_text(f"Host lab-ap\n  HostName {device.host}\n  Port {device.port}\n  User root\n")
    (tmp_path / "devices.txt").write_text(f"ssh://root@{device.host}:{device.port}\nlab-ap\n")
    with growing(device_pid_namespace(device)) as pids:
        capsys.readouterr()
        code = main(
            ["collect", "-f", str(tmp_path / "devices.txt"), "-F", str(config), "-i", str(device.root_key),
             "--known-hosts", str(device.known_hosts), "--captures", str(tmp_path / "c"),
             "--reports", str(tmp_path / "r"), "--every", EVERY, "--count", COUNT]
        )  # fmt: skip
        out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code in (0, 1), err
    captures = [Path(p) for p in lines[:-2]]
    assert len(captures) == 2 * int(COUNT) and all(p.suffix == ".cap" and p.exists() for p in captures)
    assert len(set(captures)) == len(captures)
    index = json.loads(Path(lines[-1]).read_text())
    assert [d["target"] for d in index["devices"]] == [f"ssh://root@{device.host}:{device.port}", "lab-ap"]
    seen: list[str] = []
    for entry in index["devices"]:
        assert entry["error"] is None and entry["html"].endswith(".html") and entry["json"].endswith(".json")
        trend = json.loads((Path(lines[-1]).parent / entry["json"]).read_text())
        assert trend["schema"] == "kit.trend/1" and len(trend["samples"]) == int(COUNT)
        seen += [s["capture"] for s in trend["samples"]]
        procs = {(p["name"], p["pid"]): p for p in trend["processes"]}
        assert procs[("leak", pids["leak"])]["growing"]
    assert sorted(seen) == sorted(str(p) for p in captures)
