"""Run the probe over SSH: one paramiko connection, one exec channel running `sh -s`.

Nothing is written on the device: the probe is streamed on the channel's stdin
and the channel is half-closed when it has all been sent. No SFTP, no scp, no
second command. Host keys are checked against known_hosts before any
authentication is attempted.
"""
from __future__ import annotations

import getpass
import os
import select
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from kit.errors import AuthError, ConnectError, ProbeIncomplete
from kit.transport.base import Progress, RunResult, no_progress
from kit.transport.hostkeys import KnownHosts, fingerprint

DEFAULT_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Target:
    """Everything needed to reach one device, resolved once before any socket opens."""

    host: str
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    key_files: tuple[Path, ...] = ()
    password: str | None = field(default=None, repr=False)
    known_hosts: Path = field(default_factory=lambda: Path.home() / ".ssh" / "known_hosts")
    accept_new: bool = False
    connect_timeout: float = DEFAULT_TIMEOUT
    use_agent: bool = True

    @property
    def label(self) -> str:
        port = "" if self.port == 22 else f":{self.port}"
        return f"{self.user}@{self.host}{port}"


def parse_destination(dest: str) -> tuple[str | None, str]:
    """'[user@]host' -> (user or None, host). IPv6 literals may come in brackets."""
    user, _, host = dest.rpartition("@")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (user or None), host


class SshTransport:
    def __init__(self, target: Target) -> None:
        self.t = target
        self.target = target.label

    # -- connection ---------------------------------------------------------

    def _connect(self, progress: Progress) -> tuple[paramiko.Transport, str]:
        t = self.t
        progress(f"connecting to {t.host}:{t.port}")
        try:
            sock = socket.create_connection((t.host, t.port), timeout=t.connect_timeout)
        except socket.timeout:
            raise ConnectError(f"{t.host}:{t.port}: connection timed out after {t.connect_timeout:.0f} s",
                               hint="check the address and that the device is up; --timeout waits longer") from None
        except ConnectionRefusedError:
            raise ConnectError(f"{t.host}:{t.port}: connection refused",
                               hint="is SSH (dropbear) running on that port? try -p PORT") from None
        except socket.gaierror as exc:
            raise ConnectError(f"{t.host}: cannot resolve host name ({exc.strerror})") from None
        except OSError as exc:
            raise ConnectError(f"{t.host}:{t.port}: {exc.strerror or exc}") from None

        transport = paramiko.Transport(sock)
        transport.banner_timeout = t.connect_timeout
        transport.handshake_timeout = t.connect_timeout
        transport.auth_timeout = t.connect_timeout
        known = KnownHosts(t.known_hosts)
        # Prefer the host key type we already know, as OpenSSH does, so a known
        # RSA key is not reported as "unknown ed25519 key".
        known_types = known.known_types(t.host, t.port)
        if known_types:
            opts = transport.get_security_options()
            preferred = [k for k in opts.key_types if k in known_types or
                         (k.startswith("rsa-sha2") and "ssh-rsa" in known_types)]
            opts.key_types = preferred + [k for k in opts.key_types if k not in preferred]
        try:
            transport.start_client(timeout=t.connect_timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            transport.close()
            raise ConnectError(f"{t.host}:{t.port}: SSH handshake failed: {_one_line(exc)}",
                               hint="the device accepted TCP but did not speak SSH in time") from None
        key = transport.get_remote_server_key()
        try:
            known.verify(t.host, t.port, key, t.accept_new)
        except Exception:
            transport.close()
            raise
        host_key = f"{key.get_name()} {fingerprint(key)}"
        progress(f"host key {host_key}")
        return transport, host_key

    def _authenticate(self, transport: paramiko.Transport, progress: Progress) -> None:
        t = self.t
        tried: list[str] = []
        for path in t.key_files:
            try:
                pkey = paramiko.PKey.from_path(str(path))
            except FileNotFoundError:
                raise AuthError(f"key file {path} does not exist") from None
            except paramiko.PasswordRequiredException:
                raise AuthError(f"key file {path} is encrypted",
                                hint="load it into ssh-agent (ssh-add) first") from None
            except (paramiko.SSHException, ValueError, OSError) as exc:
                raise AuthError(f"cannot read key file {path}: {_one_line(exc)}") from None
            if self._try(lambda: transport.auth_publickey(t.user, pkey), tried, f"key {path.name}"):
                return
        if t.use_agent and os.environ.get("SSH_AUTH_SOCK"):
            try:
                agent_keys = paramiko.Agent().get_keys()
            except paramiko.SSHException:
                agent_keys = ()
            for akey in agent_keys:
                if self._try(lambda: transport.auth_publickey(t.user, akey), tried, "agent key"):
                    return
        if t.password is not None:
            progress("trying password")
            if self._try(lambda: transport.auth_password(t.user, t.password), tried, "password"):
                return
        if not tried:
            raise AuthError(f"no way to log in as {t.user}@{t.host}",
                            hint="give a key with -i KEYFILE or a password with --password-env VAR / --ask-password")
        raise AuthError(f"authentication failed for {t.user}@{t.host} (tried {', '.join(tried)})",
                        hint="check the user (-l), key (-i) or password")

    @staticmethod
    def _try(attempt, tried: list[str], what: str) -> bool:
        tried.append(what)
        try:
            attempt()
            return True
        except paramiko.BadAuthenticationType as exc:
            tried[-1] += f" (server allows only {', '.join(exc.allowed_types)})"
            return False
        except paramiko.AuthenticationException:
            return False
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise AuthError(f"connection lost during authentication: {_one_line(exc)}") from None

    # -- the run ------------------------------------------------------------

    def run(self, script: bytes, timeout: float, progress: Progress = no_progress) -> RunResult:
        transport, host_key = self._connect(progress)
        try:
            self._authenticate(transport, progress)
            return self._exec(transport, script, timeout, host_key, progress)
        finally:
            transport.close()

    def _exec(self, transport: paramiko.Transport, script: bytes, timeout: float,
              host_key: str, progress: Progress) -> RunResult:
        started = time.time()
        out = bytearray()
        err = bytearray()

        def partial(error: str, timed_out: bool = False) -> ProbeIncomplete:
            result = RunResult(bytes(out), bytes(err), None, started, time.time(),
                               timed_out=timed_out, error=error, host_key=host_key)
            return ProbeIncomplete(error, result)

        try:
            chan = transport.open_session(timeout=self.t.connect_timeout)
            chan.exec_command("sh -s")
            progress("streaming the probe")
            chan.sendall(script)
            chan.shutdown_write()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise partial(f"could not start the probe: {_one_line(exc)}") from None

        deadline = started + timeout
        last_report = 0.0
        try:
            while True:
                if chan.recv_ready():
                    out += chan.recv(65536)
                elif chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                elif chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    # All data and the exit status are in; drain what raced in last.
                    while chan.recv_ready():
                        out += chan.recv(65536)
                    while chan.recv_stderr_ready():
                        err += chan.recv_stderr(65536)
                    break
                elif chan.closed or not transport.is_active():
                    raise partial("the connection dropped before the probe finished")
                else:
                    if time.time() > deadline:
                        raise partial(f"the probe did not finish in {timeout:.0f} s", timed_out=True)
                    select.select([chan], [], [], 0.2)
                now = time.time()
                if now - last_report > 1.0:
                    progress(f"received {len(out) // 1024} KiB")
                    last_report = now
        except KeyboardInterrupt:
            raise partial("interrupted (Ctrl-C)") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise partial(f"the connection failed during the probe: {_one_line(exc)}") from None
        status = chan.recv_exit_status()
        return RunResult(bytes(out), bytes(err), status, started, time.time(), host_key=host_key)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
