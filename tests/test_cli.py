"""The command line: dispatch, --help that teaches, one-line errors with exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kit import __version__
from kit.cli import main

KIT = str(Path(sys.executable).with_name("kit"))


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"kit {__version__}"


@pytest.mark.parametrize("command", ["collect", "render", "probe", "kconfig"])
def test_help_teaches_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "examples:" in out and f"kit {command}" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nosuch"],
        ["render"],
        ["render", "x", "--format", "pdf"],
        ["collect", "--password-env", "A", "--ask-password", "h"],
    ],
)
def test_usage_error_is_one_line_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["collect"], "destination"),
        (["collect", "--local", "host"], "not both"),
        (["collect", "h", "--password-env", "KIT_SURELY_UNSET"], "not set"),
        (["render", "/nonexistent/cap"], "no such file"),
        (["render", "/"], "is a directory"),  # read_file opens it; only the capture reader names it
    ],
)
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_connection_refused_is_exit_3(tmp_path, capsys):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    code = main(["collect", "root@127.0.0.1", "-p", str(port), "--captures", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "refused" in err


def test_probe_prints_the_script(capsys):
    assert main(["probe"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#!/bin/sh") and "kit_section 'ss'" in out


def test_collect_local_with_the_installed_console_script(tmp_path):
    proc = subprocess.run(
        [KIT, "collect", "--local"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=""),
    )
    assert proc.returncode in (0, 1), proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and proc.stderr == ""  # stderr is not a terminal: no progress
    cap, html, js = (tmp_path / p for p in lines)
    assert cap.parent.name == "captures" and html.parent.name == "reports" == js.parent.name
    assert cap.exists() and html.stat().st_size > 1000 and js.exists()
    # every run writes new files
    again = subprocess.run([KIT, "collect", "--local"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert set(again.stdout.splitlines()).isdisjoint(lines)


def test_python_dash_m_kit(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "kit", "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"kit {__version__}"


def test_wheel_carries_probe_and_templates(tmp_path):
    """A non-editable install must find the probe and templates as package data."""
    import zipfile

    repo = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(repo)],
        check=True,
        timeout=300,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("kit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"kit/probes/probe.sh", "kit/templates/report.html.j2", "kit/cli.py"} <= names
    assert not any(n.startswith(("tests/", "captures/")) for n in names)


CAPTURE = Path(__file__).resolve().parent.parent / "captures" / "testdev-busybox-dropbear.cap"


@pytest.mark.parametrize("fmt", ["json", "text", "html"])
def test_console_script_render_writes_everything_before_its_fast_exit(fmt, tmp_path):
    """`kit render` ends with os._exit once its output is flushed (the report is left to the OS to free):
    stdout and -o files hold the whole output, byte for byte what main() writes in-process, and the
    exit status and stderr of a partial capture still arrive."""
    cut = tmp_path / "cut.cap"
    cut.write_bytes(CAPTURE.read_bytes()[: CAPTURE.stat().st_size * 2 // 3])
    for capture, status in ((CAPTURE, 0), (cut, 4)):
        expected = tmp_path / f"expected-{capture.stem}.{fmt}"
        assert main(["render", str(capture), "--format", fmt, "-o", str(expected)]) == status
        piped = subprocess.run(
            [KIT, "render", str(capture), "--format", fmt, "-o", "-"], capture_output=True, timeout=60
        )
        written = tmp_path / f"written-{capture.stem}.{fmt}"
        to_file = subprocess.run(
            [KIT, "render", str(capture), "--format", fmt, "-o", str(written)], capture_output=True, timeout=60
        )
        for proc in (piped, to_file):
            assert proc.returncode == status, proc.stderr
            assert (b"is cut short" in proc.stderr) == (status == 4)
        drop = (lambda b: b) if fmt != "html" else (lambda b: re.sub(rb"rendered [^<]*UTC", b"", b))
        assert drop(piped.stdout) == drop(written.read_bytes()) == drop(expected.read_bytes())
        assert len(piped.stdout) > 1000


def test_render_registers_no_exit_handler():
    """The fast exit skips atexit handlers: nothing `kit render` runs may have registered one."""
    script = (
        "import atexit, contextlib, io\n"
        "from kit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    for fmt in ('json', 'text', 'html'):\n"
        f"        main(['render', {str(CAPTURE)!r}, '--format', fmt, '-o', '-'])\n"
        "print(atexit._ncallbacks())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
