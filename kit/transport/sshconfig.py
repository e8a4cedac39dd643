"""Resolve a destination into a frozen Target: command-line flags over ssh_config over defaults.

This is the only module that reads ssh_config or looks in ~/.ssh. It runs
once, before any socket opens; the transport then only reads the Target.

Honoured ssh_config keywords (paramiko.SSHConfig does Host/Match and tokens):
Host aliases and patterns, HostName, User, Port, IdentityFile, IdentitiesOnly,
ProxyJump, UserKnownHostsFile (the first file), GlobalKnownHostsFile, HostKeyAlias,
StrictHostKeyChecking, HashKnownHosts, ConnectTimeout.

Files: `-F FILE` alone when given (`-F none`: no file), else ~/.ssh/config
then /etc/ssh/ssh_config, first value wins, as OpenSSH reads them.
`Include` (which paramiko does not know) is expanded in place, as OpenSSH
does: globs, relative paths from ~/.ssh (user files) or /etc/ssh (system
file), nested up to 16 deep.

StrictHostKeyChecking: `yes` and `ask` (OpenSSH's default; kit never
prompts) refuse unknown keys; `accept-new` records them; `no` is treated as
`accept-new`: kit records the unknown key but still refuses a changed one
(OpenSSH with `no` would connect to a changed key with password logins
disabled; kit refuses, per docs/design.md).
"""

from __future__ import annotations

import getpass
import glob
import re
from dataclasses import field, replace
from pathlib import Path
from typing import Any

import paramiko

from kit.errors import UsageError
from kit.frozen import frozen
from kit.numbers import is_digits

DEFAULT_TIMEOUT = 15.0
DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa", "id_dsa")
MAX_JUMPS = 8
MAX_INCLUDE_DEPTH = 16  # OpenSSH's READCONF_MAX_DEPTH
_INCLUDE = re.compile(r"^\s*include(?:\s*=\s*|\s+)(.+?)\s*$", re.I)
SYSTEM_CONFIG = Path("/etc/ssh/ssh_config")
GLOBAL_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")


@frozen
class Target:
    """Everything needed to reach one device, resolved once before any socket opens."""

    host: str  # the address to connect to (ssh_config HostName)
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    alias: str = ""  # what the user typed, when it differs from host
    key_files: tuple[Path, ...] = ()  # tried in this order, after agent keys
    key_files_required: tuple[Path, ...] = ()  # from -i: must exist
    identities_only: bool = False  # only agent keys that match key_files
    password: str | None = field(default=None, repr=False)
    ask_password: bool = False  # may prompt (via the transport's `ask`) for a password
    known_hosts: Path = field(default_factory=lambda: Path.home() / ".ssh" / "known_hosts")
    global_known_hosts: tuple[Path, ...] = (GLOBAL_KNOWN_HOSTS,)  # read, never written
    host_key_alias: str | None = None
    hash_known_hosts: bool = False  # record new keys hashed (HashKnownHosts yes)
    accept_new: bool = False
    connect_timeout: float = DEFAULT_TIMEOUT
    use_agent: bool = True
    legacy: bool = False
    jump: Target | None = None  # reached through this host (direct-tcpip channel)

    @property
    def label(self) -> str:
        port = "" if self.port == 22 else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}{port}"

    @property
    def known_hosts_name(self) -> str:
        """The name this host's key is filed under in known_hosts (OpenSSH's rule)."""
        if self.host_key_alias:
            return self.host_key_alias
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


@frozen
class Flags:
    """What the command line said; None (or empty) means "not given"."""

    port: int | None = None
    user: str | None = None
    identity: tuple[Path, ...] = ()
    config: str | None = None  # -F: a path, or "none"
    jump: str | None = None  # -J: "[user@]host[:port][,...]" or "none"
    known_hosts: Path | None = None
    accept_new: bool = False
    timeout: float | None = None
    legacy: bool = False
    password: str | None = field(default=None, repr=False)
    ask_password: bool = False


def parse_destination(dest: str) -> tuple[str | None, str]:
    """'[user@]host' -> (user or None, host). IPv6 literals may come in brackets."""
    user, _, host = dest.rpartition("@")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (user or None), host


def parse_hop(spec: str) -> tuple[str | None, str, int | None]:
    """One ProxyJump hop: '[user@]host[:port]', '[user@][v6addr]:port' or 'ssh://user@host:port'."""
    spec = spec.strip()
    if spec.startswith("ssh://"):
        spec = spec[len("ssh://") :].rstrip("/")
    user, _, rest = spec.rpartition("@")
    port: int | None = None
    m = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", rest)
    if m:
        host, port_text = m.group(1), m.group(2)
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        host, port_text = rest, None
    if port_text is not None:
        if not is_digits(port_text) or not 0 < int(port_text) < 65536:
            raise UsageError(f"bad port in jump host {spec!r}")
        port = int(port_text)
    if not host:
        raise UsageError(f"no host in jump host {spec!r}")
    return (user or None), host, port


class SshConfig:
    """The ssh_config files, parsed once; lookup() per host name."""

    def __init__(self, explicit: str | None, home: Path | None = None) -> None:
        home = home or Path.home()
        self.files: list[Path] = []
        if explicit is not None:
            if explicit != "none":
                path = Path(explicit).expanduser()
                if not path.is_file():
                    raise UsageError(f"-F {explicit}: no such ssh_config file")
                self.files.append(path)
        else:
            self.files = [p for p in (home / ".ssh" / "config", SYSTEM_CONFIG) if p.is_file()]
        self._configs: list[paramiko.SSHConfig] = []
        for path in self.files:
            base = SYSTEM_CONFIG.parent if path == SYSTEM_CONFIG else home / ".ssh"
            try:
                text = _read_with_includes(path, base, home, 0)
                self._configs.append(paramiko.SSHConfig.from_text(text))
            except (OSError, paramiko.ConfigParseError, ValueError) as exc:
                raise UsageError(f"cannot read ssh_config {path}: {exc}") from None

    def lookup(self, name: str) -> dict[str, Any]:
        """Merged options for `name`: first file first, first value wins (IdentityFile adds up)."""
        merged: dict[str, Any] = {}
        for cfg in self._configs:
            try:
                found = cfg.lookup(name)
            except ImportError:
                raise UsageError("ssh_config uses `Match exec`, which kit does not run") from None
            except paramiko.SSHException as exc:
                raise UsageError(f"ssh_config lookup for {name!r} failed: {exc}") from None
            for key, value in found.items():
                if key == "identityfile":
                    merged.setdefault(key, []).extend(v for v in value if v not in merged.get(key, []))
                elif key == "hostname" and value == name and "hostname" in merged:
                    continue  # paramiko fills HostName with the name itself: not a real value
                else:
                    merged.setdefault(key, value)
        merged.setdefault("hostname", name)
        return merged


def _read_with_includes(path: Path, base: Path, home: Path, depth: int) -> str:
    """The file's text with each `Include` line replaced by the files it names."""
    if depth > MAX_INCLUDE_DEPTH:
        raise ValueError(f"Include nested deeper than {MAX_INCLUDE_DEPTH} (a loop?) at {path}")
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _INCLUDE.match(line)
        if not m:
            out.append(line)
            continue
        for word in m.group(1).split():
            pattern = _expand(word.strip('"'), home)
            if not pattern.is_absolute():
                pattern = base / pattern
            for included in sorted(glob.glob(str(pattern))):
                if Path(included).is_file():
                    out.append(_read_with_includes(Path(included), base, home, depth + 1))
    return "\n".join(out) + "\n"


def _yes(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("yes", "true", "on")


def _expand(path: str, home: Path) -> Path:
    if path.startswith("~/") or path == "~":
        path = str(home) + path[1:]
    return Path(path.replace("%d", str(home)))


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"ssh_config: {what} {value!r} is not a number") from None


def resolve(destination: str, flags: Flags, home: Path | None = None) -> Target:
    """The Target for `destination` ([user@]host or an ssh_config alias)."""
    home = home or Path.home()
    config = SshConfig(flags.config, home)
    user, name = parse_destination(destination)
    if not name:
        raise UsageError(f"no host in destination {destination!r}")
    return _resolve(
        config,
        name,
        user_given=flags.user or user,
        port_given=flags.port,
        flags=flags,
        home=home,
        jump_spec=flags.jump,
        depth=0,
        is_jump=False,
    )


def _resolve(
    config: SshConfig,
    name: str,
    *,
    user_given: str | None,
    port_given: int | None,
    flags: Flags,
    home: Path,
    jump_spec: str | None,
    depth: int,
    is_jump: bool,
) -> Target:
    if depth > MAX_JUMPS:
        raise UsageError(f"more than {MAX_JUMPS} jump hosts (a ProxyJump loop in ssh_config?)")
    opts = config.lookup(name)
    host = opts.get("hostname", name)
    port = port_given or (_int(opts["port"], "Port") if "port" in opts else 22)
    user = user_given or opts.get("user") or getpass.getuser()

    # -i keys first, then ssh_config's IdentityFile; OpenSSH's default names only
    # when neither names a key. Jumps get their own keys, then the -i keys.
    given_keys = () if is_jump else flags.identity
    config_keys = tuple(_expand(p, home) for p in opts.get("identityfile", []))
    extra = flags.identity if is_jump else ()
    key_files = tuple(dict.fromkeys(given_keys + config_keys + extra))
    if not key_files:
        key_files = tuple(home / ".ssh" / n for n in DEFAULT_KEY_NAMES)

    if flags.known_hosts is not None:
        known_hosts = flags.known_hosts
    elif opts.get("userknownhostsfile"):
        first = opts["userknownhostsfile"].split()[0]
        if first == "none" or first == "/dev/null":
            raise UsageError(
                f"ssh_config sets UserKnownHostsFile {first} for {name}: "
                "kit always checks host keys; give --known-hosts FILE"
            )
        known_hosts = _expand(first, home)
    else:
        known_hosts = home / ".ssh" / "known_hosts"

    global_known: tuple[Path, ...] = (GLOBAL_KNOWN_HOSTS,)
    if opts.get("globalknownhostsfile"):
        words = opts["globalknownhostsfile"].split()
        global_known = () if words == ["none"] else tuple(_expand(w, home) for w in words)

    strict = (opts.get("stricthostkeychecking") or "").strip().lower()
    accept_new = flags.accept_new or strict in ("accept-new", "no", "off")

    if flags.timeout is not None:
        timeout = flags.timeout
    elif opts.get("connecttimeout"):
        timeout = float(_int(opts["connecttimeout"], "ConnectTimeout"))
    else:
        timeout = DEFAULT_TIMEOUT

    # -J on the command line replaces ProxyJump from ssh_config, for the first hop only.
    spec = jump_spec if jump_spec is not None else opts.get("proxyjump")
    jump = None
    if spec and spec.strip().lower() != "none":
        jump = _chain(config, spec, flags, home, depth)

    return Target(
        host=host,
        port=port,
        user=user,
        alias=name if name != host else "",
        key_files=key_files,
        key_files_required=given_keys,
        identities_only=bool(_yes(opts.get("identitiesonly"))),
        password=None if is_jump else flags.password,
        ask_password=flags.ask_password,
        known_hosts=known_hosts,
        global_known_hosts=global_known,
        host_key_alias=opts.get("hostkeyalias"),
        hash_known_hosts=bool(_yes(opts.get("hashknownhosts"))),
        accept_new=accept_new,
        connect_timeout=timeout,
        use_agent=True,
        legacy=flags.legacy,
        jump=jump,
    )


def _chain(config: SshConfig, spec: str, flags: Flags, home: Path, depth: int) -> Target:
    """'a,b,c' -> Target(c, jump=Target(b, jump=Target(a))): a is dialled first."""
    previous: Target | None = None
    for hop in (h for h in spec.split(",") if h.strip()):
        user, host, port = parse_hop(hop)
        # A hop's own ProxyJump applies only to the first hop, as in OpenSSH.
        target = _resolve(
            config,
            host,
            user_given=user,
            port_given=port,
            flags=flags,
            home=home,
            jump_spec=None if previous is None else "none",
            depth=depth + 1,
            is_jump=True,
        )
        if previous is not None:
            target = _replace_jump(target, previous)
        previous = target
    if previous is None:
        raise UsageError(f"empty jump host list {spec!r}")
    return previous


def _replace_jump(target: Target, jump: Target) -> Target:
    return replace(target, jump=jump)
