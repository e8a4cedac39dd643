"""A malicious SSH server: escapes in its banner, algorithm names, auth methods and prompts,
output without end. kit runs as a subprocess; every case ends with one line on stderr,
the documented exit code, the capture kept where one was started, and no control byte
on the terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest
from evil_server import ESCAPES, PASSWORD, Behaviour, EvilServer, token_of
from hostile_support import KIT, control_bytes

from kit import capture

MIB = 1024 * 1024


def collect_args(srv: EvilServer, tmp_path, *extra) -> list[str]:
    return [
        "collect",
        *srv.args(),
        "-F",
        "none",
        "--timeout",
        "5",
        "--captures",
        str(tmp_path / "c"),
        "--reports",
        str(tmp_path / "r"),
        *extra,
    ]


def nothing_saved(tmp_path) -> bool:
    return not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_escapes_in_banner_and_algorithm_names(tmp_path, kit_run):
    b = Behaviour(banner="SSH-2.0-Evil" + ESCAPES.replace("\r", ""), kex=("kex" + ESCAPES + "@evil",))
    with EvilServer(b, tmp_path) as srv:
        ran = kit_run(*collect_args(srv, tmp_path))
    assert ran.code == 3, ran
    line = ran.line
    assert "SSH-2.0-Evil\\x1b]52;c;" in line  # the banner is quoted, inert
    assert "kex\\x1b]52;c;" in line and "\\u202e\\x9b31m" in line  # so is the offered kex name
    assert nothing_saved(tmp_path)


def test_escapes_in_auth_methods(tmp_path, kit_run):
    b = Behaviour(auths="password,evil" + ESCAPES, accept_password=False)
    with EvilServer(b, tmp_path) as srv:
        ran = kit_run(*collect_args(srv, tmp_path))
    assert ran.code == 3, ran
    assert "authentication failed" in ran.line and "evil\\x1b]52;c;" in ran.line
    assert nothing_saved(tmp_path)


def test_escapes_in_keyboard_interactive_prompts_on_a_terminal(tmp_path):
    """Under a real pseudo-terminal: kit asks the password, then shows the server's prompt inert."""
    b = Behaviour(
        auths="keyboard-interactive",
        interactive_prompts=(("Password: ", False), ("Code" + ESCAPES + ": ", True)),
    )
    with EvilServer(b, tmp_path) as srv:
        argv = [KIT, *collect_args(srv, tmp_path)]
        argv[argv.index("--password-env") : argv.index("--password-env") + 2] = ["--ask-password"]
        env = dict(os.environ, HOME=str(tmp_path / "home"))
        env.pop("SSH_AUTH_SOCK", None)
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        seen = b""

        def read_until(needle: bytes, timeout: float = 20) -> None:
            nonlocal seen
            deadline = time.monotonic() + timeout
            while needle not in seen:
                left = deadline - time.monotonic()
                assert left > 0, seen
                if select.select([master], [], [], left)[0]:
                    try:
                        seen += os.read(master, 4096)
                    except OSError:  # the child closed the terminal
                        break
            assert needle in seen, seen

        read_until(b"password: ")
        os.write(master, PASSWORD.encode() + b"\n")
        read_until(b"Code")
        read_until(b": ")
        os.write(master, b"123456\n")
        proc.wait(timeout=60)
        try:
            while select.select([master], [], [], 0.5)[0]:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                seen += chunk
        except OSError:
            pass
        os.close(master)
    assert b.interactive_answers == [[PASSWORD, "123456"]]
    prompt = seen[seen.index(b"Code") :]
    prompt = prompt[: prompt.index(b": ") + 2]
    assert prompt.startswith(b"Code\\x1b]52;c;") and control_bytes(prompt) == [], prompt
    # kit's own progress line uses CSI 2 K on a terminal; nothing the server sent is raw.
    assert b"\x1b]" not in seen and b"\x07" not in seen and "\u202e".encode() not in seen


def endless(chunk: bytes):
    def gen(_script: bytes):
        while True:
            yield chunk

    return gen


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_endless_output_is_cut_at_the_limit(stream, tmp_path, kit_run):
    flood = endless(b"\x1b]0;flood\x07" * 4096)
    b = Behaviour(answer=flood if stream == "stdout" else None, stderr=flood if stream == "stderr" else None)
    with EvilServer(b, tmp_path) as srv:
        ran = kit_run(*collect_args(srv, tmp_path, "--max-capture", "2"))
    assert ran.code == 4, ran
    assert "the device sent more than 2 MiB" in ran.line
    cap_path = tmp_path / ran.out.decode().splitlines()[0]
    cap = capture.load(cap_path)
    assert cap.partial and len(cap.stdout) + len(cap.stderr) == 2 * MIB
    assert len(cap.stdout if stream == "stdout" else cap.stderr) == 2 * MIB
    assert oct(cap_path.stat().st_mode & 0o777) == "0o600"
    assert len(ran.out.splitlines()) == 3


def test_token_is_in_the_probe():
    from kit.probe import new_token, render_probe

    t = new_token()
    assert token_of(render_probe(t).encode()) == t
