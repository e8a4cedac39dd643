"""Authentication against the real servers: ssh-agent, key files of every common format,
encrypted keys (passphrase asked only on a terminal), passwords, keyboard-interactive."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import devicelib
import pytest

pytestmark = pytest.mark.device

KIT = str(Path(sys.executable).with_name("kit"))
PASSPHRASE = "correct horse"

# name -> ssh-keygen arguments
KEY_KINDS = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa-openssh": ["-t", "ecdsa", "-b", "256"],
    "ecdsa-pem": ["-t", "ecdsa", "-b", "384", "-m", "PEM"],
    "rsa-openssh": ["-t", "rsa", "-b", "2048"],
    "rsa-pem": ["-t", "rsa", "-b", "2048", "-m", "PEM"],
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory, device):
    """Key files of each kind (plus encrypted ones), all authorized for root on the device."""
    d = tmp_path_factory.mktemp("keys")
    made = {}
    for name, args in KEY_KINDS.items():
        made[name] = _keygen(d / name, args, "")
    made["ed25519-encrypted"] = _keygen(d / "ed25519-encrypted", ["-t", "ed25519"], PASSPHRASE)
    made["rsa-pem-encrypted"] = _keygen(d / "rsa-pem-encrypted", KEY_KINDS["rsa-pem"], PASSPHRASE)
    for path in made.values():
        devicelib.authorize(device, Path(f"{path}.pub").read_text())
    return made


def _keygen(path: Path, args: list[str], passphrase: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", *args, "-N", passphrase, "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path


def test_key_formats_are_what_they_claim(keys):
    assert keys["rsa-pem"].read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert keys["ecdsa-pem"].read_text().startswith("-----BEGIN EC PRIVATE KEY-----")
    for name in ("ed25519", "ecdsa-openssh", "rsa-openssh"):
        assert keys[name].read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert "ENCRYPTED" in keys["rsa-pem-encrypted"].read_text()


@pytest.mark.parametrize("kind", list(KEY_KINDS))
def test_key_file(device, keys, kit_collect, kind):
    run = kit_collect(*devicelib.kit_args(device, key=False), "-i", keys[kind])
    assert run.code in (0, 1), run
    assert len(run.out) == 3


def test_wrong_key_then_right_key_in_order(device, keys, kit_collect, tmp_path):
    stranger = _keygen(tmp_path / "stranger", ["-t", "ed25519"], "")
    run = kit_collect(*devicelib.kit_args(device, key=False), "-i", stranger, "-i", keys["ed25519"])
    assert run.code in (0, 1), run


def test_encrypted_key_without_terminal_is_one_line(device, keys, kit_collect):
    run = kit_collect(*devicelib.kit_args(device, key=False), "-i", keys["ed25519-encrypted"])
    assert run.code == 3
    assert run.out == []
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert "is encrypted and there is no terminal to ask its passphrase" in lines[0]
    assert f"ssh-add {keys['ed25519-encrypted']}" in lines[0]


def test_missing_key_file_is_one_line(device, kit_collect, tmp_path):
    run = kit_collect(*devicelib.kit_args(device, key=False), "-i", tmp_path / "nope")
    assert run.code == 3 and run.err.count("\n") == 1 and "does not exist" in run.err


# ---------------------------------------------------------------- terminal prompts


def run_in_pty(argv: list[str], answers: list[tuple[str, str]], timeout: float = 60.0) -> tuple[int, str]:
    """Run argv on a new pseudo-terminal; answer each prompt (in order) when it appears."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal and stdin/stdout/stderr
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    output = b""
    answered_upto = 0
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
            if pending and pending[0][0].encode() in output[answered_upto:]:
                answered_upto = len(output)
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def _kit_cmd(tmp_path, *args) -> list[str]:
    return [
        KIT,
        "collect",
        *map(str, args),
        "-F",
        "none",
        "--captures",
        str(tmp_path / "c"),
        "--reports",
        str(tmp_path / "r"),
    ]


@pytest.mark.parametrize("kind", ["ed25519-encrypted", "rsa-pem-encrypted"])
def test_encrypted_key_asks_its_passphrase_on_a_terminal(device, keys, tmp_path, kind):
    argv = _kit_cmd(tmp_path, *devicelib.kit_args(device, key=False), "-i", keys[kind])
    code, output = run_in_pty(argv, [("Enter passphrase for key", "wrong"), ("Enter passphrase for key", PASSPHRASE)])
    assert code in (0, 1), output
    assert output.count("Enter passphrase for key") == 2  # asked again after a wrong one
    assert PASSPHRASE not in output  # never echoed
    assert len(list((tmp_path / "c").glob("*.cap"))) == 1


def test_ask_password_on_a_terminal(device, tmp_path):
    argv = _kit_cmd(tmp_path, *devicelib.kit_args(device, key=False), "--ask-password")
    code, output = run_in_pty(argv, [(f"root@127.0.0.1:{device.port}'s password:", device.root_password)])
    assert code in (0, 1), output
    assert device.root_password not in output


def test_ask_password_without_terminal_is_a_usage_error(device, kit_collect):
    run = kit_collect(*devicelib.kit_args(device, key=False), "--ask-password")
    assert run.code == 2 and "--password-env" in run.err


# ---------------------------------------------------------------- passwords


def test_password_from_environment(device, kit_collect, monkeypatch):
    monkeypatch.setenv("KIT_TEST_PW", device.root_password)
    run = kit_collect(*devicelib.kit_args(device, key=False), "--password-env", "KIT_TEST_PW")
    assert run.code in (0, 1), run


def test_wrong_password_is_exit_3_one_line(device, kit_collect, monkeypatch):
    monkeypatch.setenv("KIT_TEST_PW", "not-" + device.root_password)
    run = kit_collect(*devicelib.kit_args(device, key=False), "--password-env", "KIT_TEST_PW")
    assert run.code == 3 and run.out == []
    assert run.err.count("\n") == 1
    assert f"authentication failed for root@127.0.0.1:{device.port}" in run.err
    assert "server accepts publickey,password" in run.err and "tried password" in run.err
    assert device.root_password not in run.err


def test_no_credentials_at_all(device, kit_collect):
    run = kit_collect(*devicelib.kit_args(device, key=False))
    assert run.code == 3 and "no way to log in" in run.err and "--password-env" in run.err


# ---------------------------------------------------------------- ssh-agent


@pytest.fixture
def agent(tmp_path, monkeypatch):
    """A real ssh-agent on a socket of its own; SSH_AUTH_SOCK points at it."""
    if not shutil.which("ssh-agent"):
        pytest.skip("ssh-agent not installed")
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))

    def add(key: Path, passphrase: str = "") -> None:
        askpass = tmp_path / "askpass"
        askpass.write_text(f"#!/bin/sh\necho '{passphrase}'\n")
        askpass.chmod(0o700)
        env = dict(
            os.environ, SSH_AUTH_SOCK=str(sock), SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY="none"
        )
        subprocess.run(
            ["ssh-add", "-q", str(key)],
            env=env,
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            start_new_session=True,
        )

    yield add
    proc.terminate()
    proc.wait(5)


def test_agent_key(device, keys, agent, kit_collect):
    agent(keys["ecdsa-openssh"])
    run = kit_collect(*devicelib.kit_args(device, key=False))
    assert run.code in (0, 1), run


def test_agent_holds_the_encrypted_key_no_prompt_needed(device, keys, agent, kit_collect):
    agent(keys["ed25519-encrypted"], PASSPHRASE)
    run = kit_collect(*devicelib.kit_args(device, key=False), "-i", keys["ed25519-encrypted"])
    assert run.code in (0, 1), run  # no terminal, but the agent already has it


def test_agent_with_the_wrong_key_then_key_file(device, keys, agent, kit_collect, tmp_path):
    agent(_keygen(tmp_path / "stranger", ["-t", "ed25519"], ""))
    run = kit_collect(*devicelib.kit_args(device, key=False), "-i", keys["rsa-openssh"])
    assert run.code in (0, 1), run


# ---------------------------------------------------------------- keyboard-interactive only (OpenSSH + PAM)


def test_keyboard_interactive_with_password_env(sshd_kbdint, kit_collect, monkeypatch):
    monkeypatch.setenv("KIT_TEST_PW", sshd_kbdint.user_password)
    run = kit_collect(*devicelib.kit_args(sshd_kbdint, "support", key=False), "--password-env", "KIT_TEST_PW")
    assert run.code in (0, 1), run
    assert "Accepted keyboard-interactive/pam for support" in sshd_kbdint.log.read_text()


def test_keyboard_interactive_on_a_terminal(sshd_kbdint, tmp_path):
    argv = _kit_cmd(tmp_path, *devicelib.kit_args(sshd_kbdint, "support", key=False), "--ask-password")
    code, output = run_in_pty(argv, [("password:", sshd_kbdint.user_password)])
    assert code in (0, 1), output


def test_keyboard_interactive_wrong_password(sshd_kbdint, kit_collect, monkeypatch):
    monkeypatch.setenv("KIT_TEST_PW", "wrong")
    run = kit_collect(*devicelib.kit_args(sshd_kbdint, "support", key=False), "--password-env", "KIT_TEST_PW")
    assert run.code == 3 and run.err.count("\n") == 1
    assert "server accepts keyboard-interactive; tried keyboard-interactive" in run.err


def test_keyboard_interactive_server_refuses_keys(sshd_kbdint, kit_collect):
    run = kit_collect(*devicelib.kit_args(sshd_kbdint, "support"))
    assert run.code == 3 and "the server accepts keyboard-interactive" in run.err
