"""The probe's own output, run by hand and saved however it came back, renders as a full capture.

The output is real: `kit probe | ssh ... sh -s` against the busybox/dropbear
test device with OpenSSH's ssh client, and the probe run with this machine's
sh. It is then mangled the way it reaches kit in the field: a serial console's
CR LF with the echoed command line and the next prompt, a timestamp on every
line from a real filter (awk's strftime, as a logger would add it), mail
quoting, a ticket with text around it, a mail body in quoted-printable
(Python's email package). Every form must read as the clean output reads.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import devicelib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import unavailable

from kit import capture
from kit import report as report_mod
from kit.cli import main
from kit.probe import PROBE_START, new_token, render_probe
from kit.render import json as json_render


def _summary(data: bytes) -> dict:
    """What must not change with how the output was saved: everything but where it came from."""
    rep = report_mod.build(capture.from_bytes(data, source="out.txt"), source="out.txt")
    d = json_render.to_dict(rep)
    return {
        "device": d["device"],
        "kernel_diag": d["kernel_diag"],
        "totals": d["totals"],
        "sockets": d["sockets"],
        "sockstat": d["sockstat"],
        "kernel_memory": d["kernel_memory"],
        "sections": [(s["name"], s["rc"], s["complete"], s["bytes"] > 0) for s in d["sections"]],
        "parse_problems": len(d["parse_problems"]),
        "hand_run": d["capture"]["hand_run"],
        "partial": d["capture"]["partial"],
    }


@pytest.fixture(scope="module")
def local_output(tmp_path_factory) -> bytes:
    """The probe run by hand on this machine: `sh probe.sh > out.txt`."""
    work = tmp_path_factory.mktemp("hand")
    (work / "probe.sh").write_text(render_probe())
    done = subprocess.run(["sh", "probe.sh"], cwd=work, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _awk_stamp(data: bytes, fmt: str) -> bytes:
    """A timestamp on every line, from a real filter (what syslog/logger or a console logger adds)."""
    awk = shutil.which("awk")
    if awk is None:
        unavailable("awk")
    prog = '{ print strftime("' + fmt + '") $0 }'
    return subprocess.run([awk, prog], input=data, capture_output=True, check=True).stdout


def _ts(data: bytes, *args: str) -> bytes:
    """moreutils' ts: what a console logger puts before every line."""
    if shutil.which("ts") is None:
        unavailable("ts (moreutils)")
    return subprocess.run(["ts", *args], input=data, capture_output=True, check=True).stdout


def _quoted_printable(data: bytes) -> bytes:
    msg = EmailMessage()
    msg["Subject"] = "router output"
    msg.set_content(data.decode(), cte="quoted-printable")
    raw = msg.as_bytes(policy=email.policy.SMTP)
    return raw.split(b"\r\n\r\n", 1)[1]


MANGLED = {
    "console-crlf-echo-prompt": lambda d: (
        b"\r\nroot@OpenWrt:~# sh /tmp/probe.sh\r\n" + d.replace(b"\n", b"\r\n") + b"root@OpenWrt:~# "
    ),
    "syslog-timestamp": lambda d: _awk_stamp(d, "%b %e %H:%M:%S OpenWrt user.notice probe: "),
    "iso-timestamp": lambda d: _awk_stamp(d, "%Y-%m-%dT%H:%M:%S+0000 "),
    "ts-elapsed-crlf": lambda d: _ts(d, "-s", "%.s").replace(b"\n", b"\r\n"),
    "console-timestamp-crlf": lambda d: _awk_stamp(d, "[%H:%M:%S] ").replace(b"\n", b"\r\n"),
    "mail-quote": lambda d: b"".join(b"> " + line for line in d.splitlines(keepends=True)),
    "mail-quote-2-deep": lambda d: b"".join(
        (b"> >" + (b" " + line if line.strip() else line)) for line in d.splitlines(keepends=True)
    ),
    "ticket": lambda d: b"Hi, the probe on the lab router gave:\n\n" + d + b"\nThanks,\nBob\n",
    "quoted-printable": _quoted_printable,
    "comment": lambda d: b"".join(b"#  " + line for line in d.splitlines(keepends=True)),
}


def test_clean_output_is_a_full_capture(local_output):
    s = _summary(local_output)
    assert s["hand_run"] and not s["partial"]
    assert s["device"]["hostname"] and s["device"]["kernel_release"]
    assert s["kernel_diag"]["verdict"] != "unknown"
    assert s["totals"]["sockets"] > 0
    assert s["parse_problems"] == 0
    assert all(complete for _, _, complete, _ in s["sections"])


@pytest.mark.parametrize("form", sorted(MANGLED))
def test_mangled_output_reads_as_the_clean_one(local_output, form):
    mangled = MANGLED[form](local_output)
    assert mangled != local_output
    assert _summary(mangled) == _summary(local_output)


def test_the_report_says_what_was_undone(local_output):
    data = MANGLED["mail-quote-2-deep"](MANGLED["console-crlf-echo-prompt"](local_output))
    rep = report_mod.build(capture.from_bytes(data, source="t.txt"), source="t.txt")
    kinds = {u.kind: u for u in rep.capture.unmangled}
    assert set(kinds) == {"line_ends", "prefix"}
    assert kinds["prefix"].detail == "> > "
    assert rep.capture.lines_before == 1 and rep.capture.lines_after == 1
    from kit.render import html, text

    summary = text.render(rep)
    assert "hand-run probe" in summary and "removed '> > ' quoting from" in summary
    assert "removed &#39;&gt; &gt; &#39; quoting" in html.render(rep)


def test_two_runs_in_one_log_read_the_last(local_output):
    token = PROBE_START.search(local_output.decode()).group("token")
    second = local_output.replace(token.encode(), new_token().encode())
    data = b"first try:\n" + local_output[: len(local_output) // 3] + b"\n^C\n# again\n" + second
    s = _summary(data)
    assert not s["partial"] and s == _summary(local_output)


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.7, 0.98])
def test_cut_off_run_is_partial_and_exit_4(local_output, tmp_path, fraction, capsys):
    cut = local_output[: int(len(local_output) * fraction)]
    path = tmp_path / "cut.txt"
    path.write_bytes(b"root@OpenWrt:~# sh probe.sh\n" + cut)
    s = _summary(path.read_bytes())
    assert s["hand_run"] and s["partial"]
    out = tmp_path / "r.json"
    assert main(["render", str(path), "--format", "json", "-o", str(out)]) == 4
    assert json.loads(out.read_text())["capture"]["partial"] is True
    assert "partial" in capsys.readouterr().err


def test_render_dash_reads_stdin(local_output, tmp_path, monkeypatch, capsys):
    import io

    data = MANGLED["console-crlf-echo-prompt"](local_output)
    for fmt in ("json", "text", "html"):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        out = tmp_path / f"r.{fmt}"
        assert main(["render", "-", "--format", fmt, "-o", str(out)]) == 0
        assert out.stat().st_size > 0
    assert json.loads((tmp_path / "r.json").read_text())["capture"]["hand_run"] is True


def test_probe_run_by_hand_over_openssh_on_the_test_device(device, tmp_path, kit_collect):
    """`kit probe | ssh root@device sh -s > out.txt` with OpenSSH's client and the real dropbear device."""
    ssh = shutil.which("ssh")
    if ssh is None:
        unavailable("OpenSSH's ssh client (openssh-client)")
    out = tmp_path / "out.txt"
    with open(out, "wb") as fh:
        done = subprocess.run(
            [
                ssh,
                "-F",
                "none",
                "-p",
                str(device.port),
                "-i",
                str(device.root_key),
                "-o",
                f"UserKnownHostsFile={device.known_hosts}",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                f"root@{device.host}",
                "sh -s",
            ],
            input=render_probe().encode(),
            stdout=fh,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    hand = _summary(out.read_bytes())
    assert hand["hand_run"] and not hand["partial"] and hand["parse_problems"] == 0
    assert hand["device"]["hostname"] == device.hostname
    # The same device through kit collect: the same device facts, verdict and sections.
    run = kit_collect(*devicelib.kit_args(device))
    assert run.code in (0, 1), run
    collected = _summary(run.capture.read_bytes())
    assert hand["device"] == collected["device"]
    assert hand["kernel_diag"]["verdict"] == collected["kernel_diag"]["verdict"]
    assert hand["sections"] == collected["sections"]
    # And through a serial console's habits.
    assert _summary(MANGLED["console-timestamp-crlf"](out.read_bytes())) == hand


def test_hand_run_through_the_installed_console_script(local_output, tmp_path):
    """`kit probe | sh > out.txt`, then `kit render - < out.txt`, as separate processes."""
    kit = Path(sys.executable).with_name("kit")
    probe = subprocess.run([kit, "probe"], capture_output=True, check=True, timeout=60).stdout
    out = subprocess.run(["sh", "-s"], input=probe, capture_output=True, timeout=120).stdout
    crlf = out.replace(b"\n", b"\r\n")
    done = subprocess.run(
        [kit, "render", "-", "--format", "json"], input=crlf, capture_output=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout)
    assert d["capture"]["hand_run"] and not d["capture"]["partial"] and d["totals"]["sockets"] > 0
    cut = subprocess.run(
        [kit, "render", "-", "--format", "text"], input=crlf[: len(crlf) // 2], capture_output=True, timeout=120
    )
    assert cut.returncode == 4 and b"PARTIAL" in cut.stdout and cut.stderr.count(b"\n") == 1


# --- fuzz: no hand-run text makes kit raise ------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.floats(0, 1), min_size=0, max_size=3),
    noise=st.lists(st.sampled_from(["\r", "\n", "> ", "KIT", " END ", "\x00", "é", "\t", "="]), max_size=6),
    prefix=st.sampled_from(["", "> ", "[12:00:01] ", "#"]),
)
def test_no_hand_run_text_makes_kit_raise(local_output, cuts, noise, prefix):
    text = local_output.decode("utf-8", "replace")
    for i, (at, bit) in enumerate(zip(sorted(cuts), noise, strict=False)):
        pos = int(at * len(text))
        text = text[:pos] + bit + text[pos + (i % 3) * 100 :]  # insert, or replace a stretch
    text = "".join(prefix + line for line in text.splitlines(keepends=True))
    try:
        cap = capture.from_bytes(text.encode("utf-8", "surrogatepass"), source="fuzz")
    except capture.NoSocketData:
        return
    rep = report_mod.build(cap)
    json_render.render(rep)
