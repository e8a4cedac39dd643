"""`kit collect -f FILE`: several real test devices at once, with real faults among them.

The fleet: three dropbear/busybox devices of their own (one per port, sharing
one root and so one host key), reached by ssh:// URL, by an ssh_config alias
and through a TCP proxy that drops the link mid-probe; a closed port; and the
session's device listed with the wrong host key (as if re-keyed). Each device
must come out as a single collect would, and the index must say so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import netproxy
import pytest

from kit import capture as capture_mod

pytestmark = pytest.mark.device

KIT = str(Path(sys.executable).with_name("kit"))
DOCS = Path(__file__).resolve().parents[1] / "docs"
FLEET_SCHEMA = json.loads((DOCS / "fleet.schema.json").read_text())
REPORT_SCHEMA = json.loads((DOCS / "report.schema.json").read_text())
CUT_AFTER = 30_000  # bytes from the device before the proxy drops the link: mid-probe


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def devices(device_trio):
    return device_trio


def host_key(dev) -> str:
    return dev.known_hosts.read_text().split(None, 1)[1].strip()


def kit(*argv, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([KIT, *map(str, argv)], cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def fleet_run(devices, device, tmp_path_factory):
    """One `kit collect -f` over the whole mixed fleet; what it printed and wrote."""
    work = tmp_path_factory.mktemp("fleet-run")
    key = host_key(devices[0])
    with netproxy.Proxy(devices[2].port, cut_after=CUT_AFTER) as cut:
        closed = closed_port()
        known = work / "known_hosts"
        known.write_text(
            "".join(f"[127.0.0.1]:{port} {key}\n" for port in (devices[0].port, devices[1].port, cut.port))
            + f"[127.0.0.1]:{device.port} {key}\n"  # not this device's key: a changed host key
        )
        config = work / "ssh_config"
        config.write_text(f"Host ap-two\n  HostName 127.0.0.1\n  Port {devices[1].port}\n  User root\n")
        lines = [
            f"ssh://root@127.0.0.1:{devices[0].port}",
            "ap-two",
            f"ssh://root@127.0.0.1:{cut.port}",
            f"ssh://root@127.0.0.1:{closed}",
            f"ssh://root@127.0.0.1:{device.port}",
        ]
        (work / "devices.txt").write_text(
            "# building B\n\n"
            + f"{lines[0]}   # by URL\n{lines[1]}\n\t\n{lines[2]}\n# the next one is down\n{lines[3]}\n{lines[4]}\n"
        )
        run = kit(
            "collect", "-f", "devices.txt", "-j", "8", "-F", config, "-i", devices[0].root_key, "--known-hosts", known,
            cwd=work,
        )  # fmt: skip
    out = run.stdout.splitlines()
    index = json.loads(Path(work, out[1]).read_text()) if len(out) == 2 else None
    return {"run": run, "out": out, "work": work, "lines": lines, "index": index}


def test_stdout_is_the_index_and_exit_is_the_worst_device(fleet_run):
    run, out, work = fleet_run["run"], fleet_run["out"], fleet_run["work"]
    assert len(out) == 2, run
    html, jsn = (work / p for p in out)
    assert html.parent == jsn.parent == work / "reports"
    assert html.name.startswith("index-") and html.suffix == ".html" and jsn.stem == html.stem
    assert run.stderr == ""  # not a terminal: no progress
    codes = [d["exit"] for d in fleet_run["index"]["devices"]]
    assert run.returncode == max(codes) == 4


def test_index_json_follows_the_schema_and_the_file_order(fleet_run):
    index = fleet_run["index"]
    jsonschema.Draft202012Validator.check_schema(FLEET_SCHEMA)
    jsonschema.Draft202012Validator(FLEET_SCHEMA).validate(index)
    assert [d["target"] for d in index["devices"]] == fleet_run["lines"]
    assert index["started"] <= index["finished"]


def test_each_reached_device_is_exactly_a_single_collect(fleet_run, devices):
    work, index = fleet_run["work"], fleet_run["index"]
    reports = work / "reports"
    for d in index["devices"][:2]:
        cap_path, html_path, json_path = (reports / d[k] for k in ("capture", "html", "json"))
        cap = capture_mod.load(cap_path)
        assert not cap.partial and cap.sections["ss"].complete
        assert oct(cap_path.stat().st_mode & 0o777) == "0o600"
        report = json.loads(json_path.read_text())
        jsonschema.validate(report, REPORT_SCHEMA)
        assert report["capture"]["file"] == str(Path("captures") / cap_path.name)
        assert d["exit"] == (0 if report["kernel_diag"]["verdict"] == "ok" else 1) and d["error"] is None
        assert d["hostname"] == report["device"]["hostname"] == devices[0].hostname
        assert d["verdict"] == report["kernel_diag"]["verdict"]
        assert d["totals"] == report["totals"]
        assert d["share_of_memtotal"] == report["summary"]["share_of_memtotal"]
        holder = report["summary"]["top_holder"]
        assert d["top_process"] == (holder and {k: holder[k] for k in ("name", "pid", "bytes", "sockets")})
        worst = report["findings"] and min(
            report["findings"], key=lambda f: ("critical", "warning", "info").index(f["severity"])
        )
        assert d["worst_finding"] == ({"severity": worst["severity"], "title": worst["title"]} if worst else None)
        assert "CONFIG_INET_DIAG" in html_path.read_text()
        # the same bytes rendered again by `kit render` give the same report
        again = kit("render", cap_path, "--format", "json", cwd=work)
        assert json.loads(again.stdout)["totals"] == report["totals"]


def test_failures_stay_with_their_device(fleet_run, device):
    work, (_, _, cut, closed, rekeyed) = fleet_run["work"], fleet_run["index"]["devices"]
    assert cut["exit"] == 4 and "connection dropped" in cut["error"]
    cap = capture_mod.load(work / "reports" / cut["capture"])
    assert cap.partial and 0 < len(cap.stdout) < CUT_AFTER
    assert (work / "reports" / cut["html"]).exists() and (work / "reports" / cut["json"]).exists()

    assert closed["exit"] == 3 and "connection refused" in closed["error"]
    assert (
        rekeyed["exit"] == 3 and "HOST KEY CHANGED" in rekeyed["error"] and device.host_key_sha256 in rekeyed["error"]
    )
    for d in (closed, rekeyed):
        assert d["capture"] is d["html"] is d["json"] is d["verdict"] is d["totals"] is None
        assert "\n" not in d["error"]
    # exactly three captures: the two devices and the cut one; nothing for the others
    assert len(list((work / "captures").glob("*.cap"))) == 3


def test_index_html_lists_worst_first_with_relative_links(fleet_run):
    work, out, devices = fleet_run["work"], fleet_run["out"], fleet_run["index"]["devices"]
    html = (work / out[0]).read_text()
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split('<tr class="dev ')[1:]
    order = [int(row.split('<td class="n">', 1)[1].split("<", 1)[0]) for row in rows]
    # not reached (lines 4, 5), then cut short (3), then the reached ones
    assert order[:3] == [4, 5, 3] and sorted(order[3:]) == [1, 2]
    for d in devices:
        for key in ("html", "json", "capture"):
            if d[key]:
                assert f'href="{d[key]}"' in html
    assert "://" not in html.replace("ssh://", "")  # no URL of any kind, only the targets as written


@pytest.mark.chromium
def test_index_in_chromium_links_resolve_nothing_external(fleet_run, chromium):
    from render import cdp

    work, out = fleet_run["work"], fleet_run["out"]
    page = (work / out[0]).resolve()
    with cdp.Browser(chromium) as browser:
        browser.open(cdp.file_url(page))
        links = browser.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
        rows = browser.evaluate("document.querySelectorAll('#devices tbody tr.dev').length")
        scripts = browser.evaluate("document.scripts.length")
        requests = browser.requests()
        errors = browser.console_errors()
    assert rows == 5 and scripts == 0 and errors == []
    assert requests == [cdp.file_url(page)]
    assert links and all(link.startswith("file://") for link in links)
    from urllib.parse import unquote, urlparse

    targets = [Path(unquote(urlparse(link).path)) for link in links]
    assert all(t.is_file() for t in targets), targets
    assert {t.parent for t in targets} == {work / "reports", work / "captures"}


def test_at_most_j_connections_at_once(devices, tmp_path, capsys, monkeypatch):
    """Counted in kit itself, where connections open and close: at the far end of loopback a
    loaded machine can deliver one connection's FIN after the next one's SYN (per-CPU queues)."""
    from kit.cli import main
    from kit.transport import ssh

    lock, state = threading.Lock(), {"open": 0, "peak": 0, "total": 0}
    connect, close = ssh.SshTransport.connect, ssh.SshConnection.close

    def counted_connect(self, *args, **kw):
        conn = connect(self, *args, **kw)
        with lock:
            state["open"] += 1
            state["total"] += 1
            state["peak"] = max(state["peak"], state["open"])
        return conn

    def counted_close(self):
        if self._opened:
            with lock:
                state["open"] -= 1
        close(self)

    monkeypatch.setattr(ssh.SshTransport, "connect", counted_connect)
    monkeypatch.setattr(ssh.SshConnection, "close", counted_close)
    key = host_key(devices[0])
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"[127.0.0.1]:{d.port} {key}\n" for d in devices))
    (tmp_path / "devices.txt").write_text("".join(f"ssh://root@127.0.0.1:{d.port}\n" for d in devices * 2))
    argv = ["collect", "-f", str(tmp_path / "devices.txt"), "-j", "2", "-F", "none", "-i", str(devices[0].root_key)]
    argv += ["--known-hosts", str(known), "--captures", str(tmp_path / "c"), "--reports", str(tmp_path / "r")]
    code = main(argv)
    assert code in (0, 1), capsys.readouterr()
    assert state == {"open": 0, "peak": 2, "total": 6}


def test_malformed_line_is_exit_2_naming_it_before_anything_starts(devices, tmp_path):
    gauge = netproxy.Gauge()
    with netproxy.Proxy(devices[0].port, gauge=gauge) as proxy:
        (tmp_path / "devices.txt").write_text(f"ssh://root@127.0.0.1:{proxy.port}\n# fine\n10.0.0.1:2222\n")
        run = kit("collect", "-f", "devices.txt", "-F", "none", cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "devices.txt:3:" in run.stderr and "ssh://" in run.stderr
    assert gauge.total == 0 and not (tmp_path / "captures").exists() and not (tmp_path / "reports").exists()


def test_never_prompts(tmp_path):
    (tmp_path / "devices.txt").write_text("root@127.0.0.1\n")
    run = kit("collect", "-f", "devices.txt", "--ask-password", cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert run.returncode == 2 and "--password-env" in run.stderr


def test_password_from_env_for_every_device(devices, tmp_path):
    key = host_key(devices[0])
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"[127.0.0.1]:{d.port} {key}\n" for d in devices))
    (tmp_path / "devices.txt").write_text("".join(f"ssh://root@127.0.0.1:{d.port}\n" for d in devices))
    env = {**os.environ, "KIT_PW": devices[0].root_password}
    run = kit(
        "collect", "-f", "devices.txt", "-F", "none", "--password-env", "KIT_PW", "--known-hosts", known,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode in (0, 1), run
    index = json.loads((tmp_path / run.stdout.splitlines()[1]).read_text())
    assert max(d["exit"] for d in index["devices"]) == run.returncode
    assert all(d["error"] is None and d["html"] for d in index["devices"])


def test_unknown_host_keys_refused_per_device_unless_accept_new(devices, tmp_path):
    (tmp_path / "devices.txt").write_text("".join(f"ssh://root@127.0.0.1:{d.port}\n" for d in devices[:2]))
    base = ("collect", "-f", "devices.txt", "-F", "none", "-i", devices[0].root_key, "--known-hosts", tmp_path / "kh")
    run = kit(*base, cwd=tmp_path)
    index = json.loads((tmp_path / run.stdout.splitlines()[1]).read_text())
    assert run.returncode == 3 and [d["exit"] for d in index["devices"]] == [3, 3]
    assert all("unknown host key" in d["error"] and "--accept-new" in d["error"] for d in index["devices"])

    run = kit(*base, "--accept-new", cwd=tmp_path)
    assert run.returncode in (0, 1), run
    recorded = (tmp_path / "kh").read_text().splitlines()
    assert sorted(line.split()[0] for line in recorded) == sorted(f"[127.0.0.1]:{d.port}" for d in devices[:2])


def test_ctrl_c_ends_running_devices_keeps_partials_and_writes_the_index(devices, tmp_path):
    gauge = netproxy.Gauge()
    key = host_key(devices[0])
    proxies = [netproxy.Proxy(d.port, stall_after=CUT_AFTER, gauge=gauge).__enter__() for d in devices]
    try:
        known = tmp_path / "known_hosts"
        known.write_text("".join(f"[127.0.0.1]:{p.port} {key}\n" for p in proxies))
        (tmp_path / "devices.txt").write_text("".join(f"ssh://root@127.0.0.1:{p.port}\n" for p in proxies))
        proc = subprocess.Popen(
            [KIT, "collect", "-f", "devices.txt", "-j", "2", "-F", "none", "-i", str(devices[0].root_key),
             "--known-hosts", str(known)],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while gauge.total < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)  # both running probes are now stalled mid-stream
        assert proc.poll() is None, proc.communicate()
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        for p in proxies:
            p.close()
    assert proc.returncode == 130, (out, err)
    assert took < 10
    lines = out.splitlines()
    assert len(lines) == 2
    index = json.loads((tmp_path / lines[1]).read_text())
    first, second, third = index["devices"]
    for d in (first, second):
        assert d["exit"] == 4 and "interrupted" in d["error"]
        cap = capture_mod.load(tmp_path / "reports" / d["capture"])
        assert cap.partial and len(cap.stdout) > 0
    assert third["exit"] == 130 and third["error"].startswith("not started") and third["capture"] is None
    assert gauge.total == 2


def test_progress_on_a_terminal_one_line_per_device(devices, tmp_path):
    import pty

    key = host_key(devices[0])
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"[127.0.0.1]:{d.port} {key}\n" for d in devices))
    lines = [f"ssh://root@127.0.0.1:{d.port}" for d in devices] + [f"ssh://root@127.0.0.1:{closed_port()}"]
    (tmp_path / "devices.txt").write_text("\n".join(lines) + "\n")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [KIT, "collect", "-f", "devices.txt", "-F", "none", "-i", str(devices[0].root_key), "--known-hosts", str(known)],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(slave)
        out = proc.communicate(timeout=120)[0].decode()
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the writer closed the terminal
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(master)
    assert len(out.splitlines()) == 2  # stdout stays the index's two paths
    shown = [line for line in err.decode().splitlines() if line.strip()]
    assert len(shown) == 4, shown
    assert sorted(line.split("]", 1)[0] for line in shown) == [f"kit: [{n}/4" for n in range(1, 5)]
    assert sum("connection refused" in line for line in shown) == 1
    assert sum(line.split(": ", 2)[-1].startswith(("ok", "partial", "missing", "unknown")) for line in shown) == 3
