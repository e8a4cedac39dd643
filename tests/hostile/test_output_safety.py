"""A careless user (or a planted link): nothing kit writes replaces an input or follows a
symlink; reports and logs are 0600; bad output places are one line and exit 2, never 70."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_support import control_bytes

CAPTURE = Path(__file__).resolve().parents[2] / "captures" / "testdev-busybox-dropbear.cap"


@pytest.fixture
def cap(tmp_path) -> Path:
    path = tmp_path / "victim.cap"
    path.write_bytes(CAPTURE.read_bytes())
    return path


def unchanged(path: Path) -> bool:
    return path.read_bytes() == CAPTURE.read_bytes()


@pytest.mark.parametrize("fmt", ["html", "json", "text"])
def test_output_onto_the_input_is_refused(fmt, cap, kit_run):
    ran = kit_run("render", cap, "--format", fmt, "-o", cap)
    assert ran.code == 2 and "is the input" in ran.line
    assert unchanged(cap)


def test_output_onto_a_hard_link_or_another_spelling_of_the_input(cap, tmp_path, kit_run):
    os.link(cap, tmp_path / "alias.cap")
    for dest in (tmp_path / "alias.cap", f"{tmp_path}/./victim.cap"):
        ran = kit_run("render", cap, "-o", dest)
        assert ran.code == 2 and "is the input" in ran.line
    assert unchanged(cap)


def test_output_onto_stdin_file_is_refused(cap, kit_run, tmp_path):
    with open(cap, "rb") as fh:
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("kit")), "render", "-", "-o", str(cap)],
            stdin=fh,
            capture_output=True,
            cwd=tmp_path,
        )
    assert proc.returncode == 2 and b"is the input stdin" in proc.stderr
    assert unchanged(cap)


@pytest.mark.parametrize("dangling", [False, True])
def test_output_never_follows_a_symlink(dangling, cap, tmp_path, kit_run):
    target = tmp_path / "target.txt"
    if not dangling:
        target.write_text("precious\n")
    (tmp_path / "out.html").symlink_to(target)
    ran = kit_run("render", cap, "-o", tmp_path / "out.html")
    assert ran.code == 2 and "symbolic link" in ran.line
    assert (target.read_text() == "precious\n") if not dangling else not target.exists()
    assert (tmp_path / "out.html").is_symlink()


def test_output_onto_devices_fifos_and_directories_is_refused(cap, tmp_path, kit_run):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for dest in ("/dev/null", fifo, tmp_path):
        ran = kit_run("render", cap, "--format", "json", "-o", dest)
        assert ran.code == 2 and ("not a regular file" in ran.line or "a directory" in ran.line), ran


def test_output_replaces_a_regular_file_0600_even_under_umask_022(cap, tmp_path, kit_run):
    out = tmp_path / "report.json"
    out.write_text("old\n")
    out.chmod(0o644)
    ran = kit_run("render", cap, "--format", "json", "-o", out)
    assert ran.code == 0 and ran.err == b"", ran
    assert out.read_text().startswith("{") and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "report.json", "victim.cap"] or not any(
        p.name.startswith(".kit-") for p in tmp_path.iterdir()
    )


def test_reports_are_0600(cap, tmp_path, kit_run):
    ran = kit_run("render", cap, "--reports", tmp_path / "r")
    assert ran.code == 0, ran
    (html,) = (tmp_path / "r").iterdir()
    assert stat.S_IMODE(html.stat().st_mode) == 0o600


@pytest.mark.parametrize("flag", ["--reports", "--captures"])
def test_a_directory_flag_naming_a_file_is_one_line_exit_2(flag, cap, tmp_path, kit_run):
    args = ("render", cap) if flag == "--reports" else ("collect", "--local")
    ran = kit_run(*args, flag, "/etc/passwd")
    assert ran.code == 2 and f"{flag} /etc/passwd: not a directory" in ran.line
    assert not (tmp_path / "captures").exists()  # collect stopped before running anything


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_stdout_on_dev_full(fmt, cap, tmp_path):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("kit")), "render", str(cap), "--format", fmt],
            stdout=full,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
    assert proc.returncode == 2 and proc.stderr.count(b"\n") == 1, proc.stderr
    assert b"cannot write to stdout: No space left on device" in proc.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "1e400", "soon", "１"])
@pytest.mark.parametrize("flag", ["--timeout", "--probe-timeout"])
def test_timeouts_must_be_finite_seconds(flag, value, kit_run):
    ran = kit_run("collect", "root@127.0.0.1", flag, value)
    assert ran.code == 2 and control_bytes(ran.err) == []
    assert flag in ran.line


CRASHING_KIT = """
import sys
import kit.report
def boom(*a, **k):
    raise RuntimeError("parser exploded")
kit.report.build = boom
from kit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_crash_log_never_follows_a_planted_link_and_is_0600(cap, tmp_path):
    home = tmp_path / "home"
    state = home / ".local" / "state" / "kit"
    state.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (state / "kit.log").symlink_to(victim)
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp_path))
    env.pop("XDG_STATE_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_KIT, "render", str(cap), "--format", "json"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 70 and proc.stderr.count(b"\n") == 1, proc.stderr
    assert victim.read_text() == "precious\n"
    log = Path(proc.stderr.decode().rsplit("traceback in ", 1)[1].rstrip(")\n"))
    assert log.exists() and not log.is_symlink() and log != state / "kit.log"
    assert "parser exploded" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_crash_log_is_0600_in_a_0700_directory(cap, tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home))
    env.pop("XDG_STATE_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_KIT, "render", str(cap), "--format", "json"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 70
    log = home / ".local" / "state" / "kit" / "kit.log"
    assert str(log) in proc.stderr.decode()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700
