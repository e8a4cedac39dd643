"""A crafted, malicious SSH server for the hostile-device tests (paramiko's server side).

The test device (dropbear, tests/devicelib.py) cannot send escapes in its
banner, offer algorithm names that hold them, list made-up auth methods,
word its keyboard-interactive prompts, or answer the probe with forged
sections: this server does each on request. It speaks real SSH over a real
TCP socket on 127.0.0.1; kit runs against it unchanged, as a subprocess.

    with EvilServer(Behaviour(banner="SSH-2.0-x\\x1b]0;pwned\\x07")) as srv:
        srv.port, srv.known_hosts   # a known_hosts file that vouches for its key

`Behaviour.answer(script)` gets the probe kit sent (its token is inside) and
returns the chunks to send back on stdout; `endless` streams without end.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

PASSWORD = "evil-pw"
# ESC ] 52 writes the reader's clipboard, ESC ] 0 sets the window title, CSI 2 J clears
# the screen; U+202E reverses what follows, U+009B is the one-byte C1 CSI.
ESCAPES = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b[2J\u202e\x9b31m\r"


def token_of(script: bytes) -> str:
    """The per-run token in the probe kit sent (probes/probe.sh: K='...')."""
    m = re.search(rb"^K='([A-Za-z0-9]+)'", script, re.M)
    assert m, "no token in the probe"
    return m.group(1).decode()


@dataclass
class Behaviour:
    banner: str = "SSH-2.0-OpenSSH_9.2"
    kex: tuple[str, ...] | None = None  # names offered in KEXINIT instead of paramiko's
    auths: str = "password"  # what the server lists as allowed methods
    accept_password: bool = True
    interactive_prompts: tuple[tuple[str, bool], ...] = ()  # keyboard-interactive: (prompt, echo)
    # answer(script) -> stdout chunks; None: a short valid-looking run
    answer: Callable[[bytes], Iterable[bytes]] | None = None
    stderr: Callable[[bytes], Iterable[bytes]] | None = None
    exit_status: int = 0
    interactive_answers: list[list[str]] = field(default_factory=list)  # what kit answered


class _Server(paramiko.ServerInterface):
    def __init__(self, b: Behaviour) -> None:
        self.b = b
        self.exec_event = threading.Event()

    def get_allowed_auths(self, username):
        return self.b.auths

    def check_auth_password(self, username, password):
        ok = self.b.accept_password and password == PASSWORD
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_interactive(self, username, submethods):
        if not self.b.interactive_prompts:
            return paramiko.AUTH_FAILED
        query = paramiko.InteractiveQuery("evil\x1b]0;t\x07", "instructions\x1b[2J")
        for prompt, echo in self.b.interactive_prompts:
            query.add_prompt(prompt, echo)
        return query

    def check_auth_interactive_response(self, responses):
        self.b.interactive_answers.append(list(responses))
        return paramiko.AUTH_SUCCESSFUL if responses and responses[0] == PASSWORD else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        self.exec_event.set()
        return command == b"sh -s"


class EvilServer:
    def __init__(self, behaviour: Behaviour, workdir: Path) -> None:
        self.b = behaviour
        self.key = paramiko.ECDSAKey.generate()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {self.key.get_name()} {self.key.get_base64()}\n")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._transports: list[paramiko.Transport] = []

    def __enter__(self) -> EvilServer:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        for tr in self._transports:
            tr.close()
        for t in self._threads:
            t.join(timeout=10)

    def args(self) -> list[str]:
        """kit collect flags that reach this server (password from KIT_EVIL_PW)."""
        return [
            "root@127.0.0.1",
            "-p",
            str(self.port),
            "--known-hosts",
            str(self.known_hosts),
            "--password-env",
            "KIT_EVIL_PW",
        ]

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        tr = paramiko.Transport(conn)
        self._transports.append(tr)
        tr.local_version = self.b.banner
        tr.add_server_key(self.key)
        if self.b.kex is not None:
            tr._preferred_kex = self.b.kex  # names paramiko's own checks would refuse
        server = _Server(self.b)
        try:
            tr.start_server(server=server)
        except (paramiko.SSHException, EOFError, OSError):
            return
        chan = tr.accept(20)
        if chan is None or not server.exec_event.wait(10):
            return
        try:
            script = b""
            while True:  # the probe arrives on stdin, then EOF (shutdown_write)
                data = chan.recv(65536)
                if not data:
                    break
                script += data
            for chunk in (self.b.stderr or (lambda _s: ()))(script):
                chan.sendall_stderr(chunk)
            for chunk in (self.b.answer or _short_run)(script):
                if self._stop.is_set():
                    break
                chan.sendall(chunk)
            chan.send_exit_status(self.b.exit_status)
            chan.close()
        except (paramiko.SSHException, EOFError, OSError):
            pass  # kit closed the link (the point of the endless cases)


def section(token: str, name: str, stdout: bytes, rc: bytes = b"0", stderr: bytes = b"") -> bytes:
    """One section framed as probes/probe.sh frames it; `rc` is sent as is (it may be forged)."""
    k = token.encode()
    return (
        b"\n" + k + b" BEGIN " + name.encode() + b"\n" + stdout
        + b"\n" + k + b" STDERR " + name.encode() + b"\n"
        + b"\n" + k + b" RC " + rc + b"\n" + stderr
        + b"\n" + k + b" END " + name.encode() + b"\n"
    )  # fmt: skip


def _short_run(script: bytes) -> Iterable[bytes]:
    token = token_of(script)
    yield section(token, "hostname", b"evil\n")
    yield b"\n" + token.encode() + b" DONE\n"
