"""Run the probe over SSH: one paramiko connection, one exec channel running `sh -s`.

Nothing is written on the device: the probe is streamed on the channel's stdin
and the channel is half-closed when it has all been sent. No SFTP, no scp, no
second command. Host keys are checked against known_hosts before any
authentication is attempted. Through a jump host (-J / ProxyJump) the device
is reached over a direct-tcpip channel of the jump host's connection, as
OpenSSH's ProxyJump does; each hop's host key is checked the same way.

Authentication follows OpenSSH's order: publickey (ssh-agent keys, then key
files), keyboard-interactive, password. Only methods the server lists are
tried. Prompts (key passphrases, passwords) go through the `ask` callback the
CLI supplies; without one (or without a terminal) kit never waits for input.

Why ~600 lines in one module: connecting (jump hosts, host keys, handshake
errors), logging in and running the probe share one paramiko Transport and
its state; the algorithm lists, ssh_config and known_hosts are modules apart.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import select
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

import paramiko
from paramiko.pkey import UnknownKeyType

from kit.errors import AuthError, CaptureLimitReached, ConnectError, LegacyAlgorithmsError, ProbeIncomplete
from kit.transport.algorithms import ServerOffer, disabled_algorithms
from kit.transport.base import MemorySink, Progress, RunResult, Sink, kept, limit_message, no_progress
from kit.transport.hostkeys import KnownHosts, fingerprint
from kit.transport.sshconfig import DEFAULT_TIMEOUT, Target, parse_destination

# paramiko logs handshake failures with tracebacks; kit says them itself, in one
# line (ConnectError). Without a handler of its own, logging's last-resort handler
# would print them on the terminal. Here, not in kit.cli: only a command that
# opens an SSH link imports paramiko (and logging, 3-4 ms).
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.propagate = False
_PARAMIKO_LOG.addHandler(logging.NullHandler())

__all__ = ["Ask", "DEFAULT_TIMEOUT", "SshConnection", "SshTransport", "Target", "parse_destination"]

# ask(prompt, echo) -> the answer, or None when nobody can be asked (no terminal).
Ask = Callable[[str, bool], "str | None"]

PASSPHRASE_TRIES = 3
INTERACTIVE_AUTH_TIMEOUT = 300.0  # a person is typing
CHUNK = 65536


# paramiko's private KEXINIT hooks (3.5.x; not in its type stubs): the parser
# that returns the offer as a dict, and the handler we wrap.
_really_parse_kex_init: Callable[[paramiko.Transport, paramiko.Message], dict[str, list[str]]] = vars(
    paramiko.Transport
)["_really_parse_kex_init"]
_parse_kex_init: Callable[[paramiko.Transport, paramiko.Message], None] = vars(paramiko.Transport)["_parse_kex_init"]


class _Transport(paramiko.Transport):
    """paramiko's Transport, also keeping what the server offered in its KEXINIT.

    When no algorithm is shared, paramiko says only which category failed; the
    offer lets kit name what the server has and whether --legacy would help.
    (_parse_kex_init is private; paramiko is pinned to 3.5.x, see the decision.)
    """

    server_offer: ServerOffer | None = None

    def _parse_kex_init(self, m: paramiko.Message) -> None:  # paramiko's hook
        if self.server_offer is None:
            try:
                parsed = _really_parse_kex_init(self, paramiko.Message(m.get_remainder()))
                self.server_offer = ServerOffer.from_parsed(parsed)
            except Exception:  # noqa: BLE001 - best effort; paramiko reports the real error
                pass
        _parse_kex_init(self, m)

    def our_offer(self) -> dict[str, tuple[str, ...]]:
        return {
            "kex": tuple(self.preferred_kex),
            "keys": tuple(self.preferred_keys),
            "ciphers": tuple(self.preferred_ciphers),
            "macs": tuple(self.preferred_macs),
        }


class SshTransport:
    def __init__(self, target: Target, ask: Ask | None = None) -> None:
        self.t = target
        self.target = target.label
        self._ask = ask
        self.connections = 0  # TCP connections and tunnels opened (bench/ reads these)
        self.channels = 0

    # -- connection ---------------------------------------------------------

    def _socket(
        self, t: Target, via: paramiko.Transport | None, progress: Progress
    ) -> socket.socket | paramiko.Channel:
        if via is not None and t.jump is not None:
            progress(f"opening a tunnel to {t.host}:{t.port}")
            try:
                self.channels += 1
                return via.open_channel("direct-tcpip", (t.host, t.port), ("127.0.0.1", 0), timeout=t.connect_timeout)
            except paramiko.ChannelException as exc:
                raise ConnectError(
                    f"{t.host}:{t.port}: the jump host {t.jump.label} could not connect to it ({exc.text or exc.code})",
                    hint="check the address as the jump host sees it, and that the jump host allows TCP forwarding",
                ) from None
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectError(
                    f"{t.host}:{t.port}: tunnel through {t.jump.label} failed: {_one_line(exc)}"
                ) from None
        progress(f"connecting to {t.host}:{t.port}")
        try:
            sock = socket.create_connection((t.host, t.port), timeout=t.connect_timeout)
            _keepalive(sock)
            _no_delay(sock)
            return sock
        except TimeoutError:
            raise ConnectError(
                f"{t.host}:{t.port}: connection timed out after {t.connect_timeout:g} s",
                hint="check the address and that the device is up; --timeout waits longer",
            ) from None
        except ConnectionRefusedError:
            raise ConnectError(
                f"{t.host}:{t.port}: connection refused", hint="is SSH (dropbear) running on that port? try -p PORT"
            ) from None
        except socket.gaierror as exc:
            raise ConnectError(f"{t.host}: cannot resolve host name ({exc.strerror})") from None
        except OSError as exc:
            raise ConnectError(f"{t.host}:{t.port}: {exc.strerror or exc}") from None

    def _open(self, t: Target, progress: Progress, opened: list[paramiko.Transport]) -> tuple[_Transport, str]:
        """Connect (through t.jump, if any), check the host key and log in; `opened` collects what to close."""
        via = None
        if t.jump is not None:
            via, _ = self._open(t.jump, progress, opened)
        sock = self._socket(t, via, progress)
        self.connections += 1
        transport = _Transport(sock, disabled_algorithms=disabled_algorithms(t.legacy))
        opened.append(transport)
        transport.banner_timeout = t.connect_timeout
        transport.handshake_timeout = t.connect_timeout
        transport.auth_timeout = t.connect_timeout
        known = KnownHosts(t.known_hosts, t.global_known_hosts)
        # Prefer the host key type we already know, as OpenSSH does, so a known
        # RSA key is not reported as "unknown ed25519 key".
        known_types = known.known_types(t.known_hosts_name)
        if known_types:
            opts = transport.get_security_options()
            preferred = [
                k for k in opts.key_types if k in known_types or (k.startswith("rsa-sha2") and "ssh-rsa" in known_types)
            ]
            opts.key_types = preferred + [k for k in opts.key_types if k not in preferred]
        try:
            transport.start_client(timeout=t.connect_timeout)
            key = transport.get_remote_server_key()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._handshake_error(t, transport, exc) from None
        known.verify(t.known_hosts_name, key, t.accept_new, t.hash_known_hosts)
        host_key = f"{key.get_name()} {fingerprint(key)}"
        progress(f"{t.host}: host key {host_key}")
        _Auth(transport, t, self._ask, progress).run()
        return transport, host_key

    @staticmethod
    def _handshake_error(t: Target, transport: _Transport, exc: BaseException) -> ConnectError:
        where = f"{t.host}:{t.port}"
        text = _one_line(exc)
        if not transport.remote_version or "protocol banner" in text:
            return ConnectError(
                f"{where}: no SSH banner within {t.connect_timeout:g} s ({text})",
                hint="the port accepts TCP but does not speak SSH; check -p, or --timeout",
            )
        offer = transport.server_offer
        ours = transport.our_offer()
        if offer is not None and offer.unmet(ours):
            unmet = offer.unmet(ours)
            if not t.legacy and offer.legacy_would_help(ours):
                return LegacyAlgorithmsError(
                    f"{where} ({transport.remote_version}) offers only legacy algorithms: {offer.describe(unmet)}",
                    hint="rerun with --legacy to allow SHA-1 key exchange, ssh-rsa/ssh-dss host keys "
                    "and CBC ciphers for this device; see docs/decisions/paramiko-legacy.md",
                )
            return LegacyAlgorithmsError(
                f"{where} ({transport.remote_version}): no algorithm in common"
                f"{' even with --legacy' if t.legacy else ''}; the server offers {offer.describe(unmet)}",
                hint="kit (paramiko 3.5) cannot talk to this server",
            )
        return ConnectError(
            f"{where}: SSH handshake failed: {text}",
            hint="the server closed the connection during key exchange; an old device may need --legacy",
        )

    # -- the run ------------------------------------------------------------

    def connect(self, progress: Progress = no_progress) -> SshConnection:
        """Connect (through the jump hosts), check host keys, log in: one link for any number of runs."""
        opened: list[paramiko.Transport] = []
        try:
            transport, host_key = self._open(self.t, progress, opened)
        except BaseException:
            for tr in reversed(opened):
                tr.close()
            raise
        return SshConnection(self, transport, host_key, opened)

    def run(
        self, script: bytes, timeout: float, progress: Progress = no_progress, sink: Sink | None = None
    ) -> RunResult:
        with self.connect(progress) as conn:
            return conn.run(script, timeout, progress, sink)


class SshConnection:
    """One logged-in link; each run() is one exec channel running `sh -s`."""

    def __init__(
        self, owner: SshTransport, transport: paramiko.Transport, host_key: str, opened: list[paramiko.Transport]
    ) -> None:
        self._owner = owner
        self.target = owner.target
        self._transport = transport
        self.host_key = host_key
        self._opened = opened  # the jump hosts' transports too, closed with this one

    def close(self) -> None:
        for transport in reversed(self._opened):
            transport.close()
        self._opened = []

    def __enter__(self) -> SshConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(
        self, script: bytes, timeout: float, progress: Progress = no_progress, sink: Sink | None = None
    ) -> RunResult:
        sink = sink if sink is not None else MemorySink()
        transport, host_key = self._transport, self.host_key
        started = time.time()
        received = 0

        def partial(error: str, timed_out: bool = False) -> ProbeIncomplete:
            out, err = kept(sink)
            result = RunResult(
                out, err, None, started, time.time(), timed_out=timed_out, error=error, host_key=host_key
            )
            return ProbeIncomplete(error, result)

        try:
            self._owner.channels += 1
            chan = transport.open_session(timeout=self._owner.t.connect_timeout)
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
                # Checked on every turn: a device that never stops sending must still time out.
                if time.time() > deadline:
                    raise partial(f"the probe did not finish in {timeout:g} s", timed_out=True)
                if chan.recv_ready():
                    data = chan.recv(CHUNK)
                    received += len(data)
                    sink.out(data)
                elif chan.recv_stderr_ready():
                    data = chan.recv_stderr(CHUNK)
                    received += len(data)
                    sink.err(data)
                elif chan.status_event.is_set() or chan.closed:
                    # The exit status is in, or the channel closed: drain what raced in last.
                    while chan.recv_ready():
                        sink.out(chan.recv(CHUNK))
                    while chan.recv_stderr_ready():
                        sink.err(chan.recv_stderr(CHUNK))
                    if chan.exit_status != -1:
                        break
                    # paramiko closes the channel with status -1 when no exit-status came:
                    # the shell was killed (exit-signal) or the link went down.
                    time.sleep(0.1)  # let the transport notice a dead socket
                    if transport.is_active():
                        raise partial("the device's shell ended without an exit status (killed?)")
                    raise partial("the connection dropped before the probe finished")
                else:
                    select.select([chan], [], [], 0.2)
                now = time.time()
                if now - last_report > 1.0:
                    progress(f"received {received // 1024} KiB")
                    last_report = now
        except CaptureLimitReached as exc:
            chan.close()
            raise partial(limit_message(exc)) from None
        except KeyboardInterrupt:
            raise partial("interrupted (Ctrl-C)") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise partial(f"the connection failed during the probe: {_one_line(exc)}") from None
        except BaseException:
            chan.close()
            raise
        chan.close()
        out, err = kept(sink)
        return RunResult(out, err, chan.exit_status, started, time.time(), host_key=host_key)


class _Auth:
    """One login attempt on an open transport, in OpenSSH's order; raises AuthError when all fail."""

    def __init__(self, transport: _Transport, target: Target, ask: Ask | None, progress: Progress) -> None:
        self.tr = transport
        self.t = target
        self.ask = ask
        self.progress = progress
        self.tried: list[str] = []
        self.notes: list[str] = []
        self.allowed: list[str] = []
        self.password = target.password
        self.rsa_refused = False  # an RSA key was refused with a SHA-2 signature (no --legacy)

    def run(self) -> None:
        t = self.t
        try:
            self.tr.auth_none(t.user)
            return  # the server let us in with no authentication at all
        except paramiko.BadAuthenticationType as exc:
            self.allowed = list(exc.allowed_types)
        except paramiko.AuthenticationException:
            self.allowed = ["publickey", "keyboard-interactive", "password"]
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise AuthError(f"{t.label}: connection lost before authentication: {_one_line(exc)}") from None
        if t.legacy and "server-sig-algs" not in self.tr.server_extensions:
            # Old servers (dropbear < 2020.79) verify RSA signatures only as
            # ssh-rsa and do not say so; paramiko would guess rsa-sha2-512.
            self.tr.disabled_algorithms = dict(
                self.tr.disabled_algorithms or {}, pubkeys=["rsa-sha2-512", "rsa-sha2-256"]
            )
        for method, attempt in (
            ("publickey", self._publickey),
            ("keyboard-interactive", self._interactive),
            ("password", self._password),
        ):
            if method in self.allowed and attempt():
                return
        self._fail()

    # each returns True when fully authenticated

    def _try(self, what: str, call: Callable[[], list[str] | None]) -> bool:
        self.tried.append(what)
        try:
            remaining = call()
        except paramiko.BadAuthenticationType as exc:
            self.allowed = list(exc.allowed_types)
            return False
        except paramiko.AuthenticationException as exc:
            if "Authentication timeout" in str(exc):
                raise AuthError(f"{self.t.label}: the server did not answer the login in time") from None
            return False
        except paramiko.SSHException as exc:
            if not self.tr.is_active():
                self._lost(exc)
            self.tried[-1] += f" ({_one_line(exc)})"
            return False
        except (EOFError, OSError) as exc:
            self._lost(exc)
        if self.tr.is_authenticated():
            return True
        if remaining:  # partial success: the server wants a further method
            self.allowed = list(remaining)
        return False

    def _lost(self, exc: BaseException) -> NoReturn:
        raise AuthError(
            f"{self.t.label}: the server closed the connection during login "
            f"after {len(self.tried)} attempt(s) ({_one_line(exc)})",
            hint="too many keys offered? name one with -i KEYFILE and IdentitiesOnly",
        ) from None

    def _agent_keys(self) -> list[paramiko.AgentKey]:
        if not self.t.use_agent or not os.environ.get("SSH_AUTH_SOCK"):
            return []
        try:
            agent = paramiko.Agent()
            keys = list(agent.get_keys())
        except (paramiko.SSHException, OSError) as exc:
            self.notes.append(f"ssh-agent unusable: {_one_line(exc)}")
            return []
        self._agent = agent  # keep the connection open while signing
        return keys

    def _publickey(self) -> bool:
        t = self.t
        offered: set[bytes] = set()
        file_blobs = {b for b in (_public_blob(p) for p in t.key_files) if b}
        try:
            for akey in self._agent_keys():
                if t.identities_only and akey.asbytes() not in file_blobs:
                    continue
                offered.add(akey.asbytes())
                if self._try_key(f"agent key {akey.get_name()} {fingerprint(akey)}", akey):
                    return True
                if not self.tr.is_active() or "publickey" not in self.allowed:
                    return False
            for path in t.key_files:
                if _public_blob(path) in offered:
                    continue  # the agent already offered this key
                pkey = self._load_key(path, required=path in t.key_files_required)
                if pkey is None or pkey.asbytes() in offered:
                    continue
                offered.add(pkey.asbytes())
                if self._try_key(f"key {_short(path)}", pkey):
                    return True
                if "publickey" not in self.allowed:
                    return False
        finally:
            agent = getattr(self, "_agent", None)
            if agent is not None:
                agent.close()
        return False

    def _try_key(self, what: str, key: paramiko.PKey) -> bool:
        if self._try(what, lambda: self.tr.auth_publickey(self.t.user, key)):
            return True
        if key.get_name() == "ssh-rsa" and not self.t.legacy:
            self.rsa_refused = True
        sha2_off = "rsa-sha2-512" in (self.tr.disabled_algorithms or {}).get("pubkeys", ())
        if (
            self.t.legacy
            and key.get_name() == "ssh-rsa"
            and not sha2_off
            and "publickey" in self.allowed
            and self.tr.is_active()
        ):
            # Some servers list rsa-sha2-* in server-sig-algs but accept only
            # ssh-rsa (OpenSSH with PubkeyAcceptedAlgorithms ssh-rsa): sign again.
            saved = self.tr.disabled_algorithms
            self.tr.disabled_algorithms = dict(saved or {}, pubkeys=["rsa-sha2-512", "rsa-sha2-256"])
            try:
                return self._try(f"{what} (ssh-rsa signature)", lambda: self.tr.auth_publickey(self.t.user, key))
            finally:
                self.tr.disabled_algorithms = saved
        return False

    def _load_key(self, path: Path, required: bool) -> paramiko.PKey | None:
        try:
            return paramiko.PKey.from_path(path)
        except FileNotFoundError:
            if required:
                raise AuthError(f"key file {path} does not exist") from None
            return None
        except IsADirectoryError:
            raise AuthError(f"key file {path} is a directory") from None
        except PermissionError:
            raise AuthError(f"key file {path}: permission denied") from None
        except (TypeError, paramiko.PasswordRequiredException):
            pass  # encrypted: needs its passphrase (cryptography raises TypeError)
        except (paramiko.SSHException, ValueError, OSError) as exc:
            if required:
                raise AuthError(
                    f"cannot read key file {path}: {_one_line(exc)}",
                    hint="kit reads ed25519, ecdsa and RSA keys in OpenSSH or PEM format",
                ) from None
            self.notes.append(f"skipped {_short(path)} ({_one_line(exc)})")
            return None
        for _ in range(PASSPHRASE_TRIES):
            answer = self.ask(f"Enter passphrase for key '{path}': ", False) if self.ask else None
            if answer is None:
                self.notes.append(
                    f"key {_short(path)} is encrypted and there is no terminal to ask its "
                    f"passphrase (ssh-add {path} puts it in the agent)"
                )
                return None
            try:
                return paramiko.PKey.from_path(path, passphrase=answer.encode())
            except (ValueError, TypeError, paramiko.SSHException):
                continue  # wrong passphrase: ask again, as ssh does
        self.notes.append(f"wrong passphrase for {_short(path)} ({PASSPHRASE_TRIES} tries)")
        return None

    def _get_password(self, prompt_for: str) -> str | None:
        if self.password is None and self.t.ask_password and self.ask is not None:
            self.password = self.ask(f"{prompt_for}'s password: ", False)
            if self.password is None:
                self.notes.append("--ask-password needs a terminal")
        return self.password

    def _interactive(self) -> bool:
        t = self.t
        password = self._get_password(t.label)
        if password is None and not (self.ask and t.ask_password):
            return False
        used = [False]

        def handler(title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
            answers = []
            for text, echo in prompts:
                if not echo and password is not None and not used[0]:
                    used[0] = True
                    answers.append(password)
                elif self.ask is not None:
                    answers.append(self.ask(text, echo) or "")
                else:
                    answers.append("")
            return answers

        self.tr.auth_timeout = INTERACTIVE_AUTH_TIMEOUT if self.ask else t.connect_timeout
        try:
            return self._try("keyboard-interactive", lambda: self.tr.auth_interactive(t.user, handler))
        finally:
            self.tr.auth_timeout = t.connect_timeout

    def _password(self) -> bool:
        password = self._get_password(self.t.label)
        if password is None:
            return False
        return self._try("password", lambda: self.tr.auth_password(self.t.user, password, fallback=False))

    def _fail(self) -> NoReturn:
        t = self.t
        allowed = ",".join(self.allowed) or "nothing"
        notes = f"; {'; '.join(self.notes)}" if self.notes else ""
        if not self.tried:
            raise AuthError(
                f"no way to log in as {t.label}: the server accepts {allowed}, and kit "
                f"has no key (ssh-agent, -i, ~/.ssh) and no password{notes}",
                hint="give a key with -i KEYFILE or a password with --password-env VAR / --ask-password",
            )
        hint = "check the user (-l), key (-i) or password"
        if self.rsa_refused and may_verify_rsa_only_with_sha1(self.tr.remote_version, self.tr.server_extensions):
            hint = (
                "if the RSA key is right, the server may verify RSA signatures only with SHA-1 "
                "(dropbear before 2020.79 does, and says nothing): retry with --legacy"
            )
        raise AuthError(
            f"authentication failed for {t.label} (server accepts {allowed}; tried {', '.join(self.tried)}){notes}",
            hint=hint,
        )


def may_verify_rsa_only_with_sha1(remote_version: str, extensions: Mapping[str, bytes]) -> bool:
    """Whether a server that refused an RSA key signed with SHA-2 may accept it signed with SHA-1 (ssh-rsa).

    paramiko signs RSA keys with rsa-sha2-512/256 unless --legacy. A server
    that cannot verify those refuses a right key: dropbear before 2020.79
    (SHA-1 only, no server-sig-algs extension; from 2020.79 on it verifies
    rsa-sha2-256, so a refusal there means the key is wrong), or another
    server whose server-sig-algs list is missing or includes ssh-rsa (OpenSSH
    9.2 lists every algorithm it can verify, not what its
    PubkeyAcceptedAlgorithms allows, so one restricted to ssh-rsa looks like
    any other). Without sending a SHA-1 signature, which only --legacy allows,
    kit cannot tell more: the hint says "if the key is right".
    """
    m = re.match(r"SSH-2\.0-dropbear_(\d{4})\.(\d+)", remote_version or "")
    if m:  # dropbear verifies rsa-sha2-256 from 2020.79 on
        return (int(m.group(1)), int(m.group(2))) < (2020, 79)
    listed = extensions.get("server-sig-algs")
    if listed is None:
        return True
    return "ssh-rsa" in listed.decode("ascii", "replace").split(",")


def _keepalive(sock: socket.socket) -> None:
    """TCP keepalive: a link that dies without a reset (a router rebooting, a
    cable pulled) is noticed in about 35 s instead of waiting for --probe-timeout."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 4)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def _no_delay(sock: socket.socket) -> None:
    """Send each SSH packet at once (TCP_NODELAY), as OpenSSH's ssh does.

    paramiko writes a packet per send(); with Nagle's algorithm a small
    packet sent while the previous one is unacknowledged waits for the ACK,
    which the server delays by ~40 ms when it has nothing to say (the key
    exchange's second message, the first request after NEWKEYS): two such
    stalls cost ~85 ms of every connection, on loopback as on a router.
    """
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _public_blob(path: Path) -> bytes | None:
    """The public key blob from `path`.pub, without needing the private key's passphrase."""
    pub = Path(f"{path}.pub")
    try:
        fields = pub.read_text(encoding="ascii", errors="replace").split()
        return paramiko.PKey.from_type_string(fields[0], base64.b64decode(fields[1])).asbytes()
    except (OSError, IndexError, ValueError, paramiko.SSHException, UnknownKeyType):
        return None


def _short(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if text.startswith(home + os.sep) else text


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
