"""known_hosts with OpenSSH's habits: unknown keys refused unless --accept-new, changed keys always.

Reads plain and hashed (`|1|salt|hash`) entries, `[host]:port` names and
comma-separated name lists, as paramiko.HostKeys does. Lines it cannot read
(markers such as @revoked, unknown key types) are skipped, as OpenSSH skips
what it does not understand. New keys are appended in OpenSSH's format,
hashed when ssh_config says HashKnownHosts yes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import paramiko

from kit.errors import HostKeyError
from kit.frozen import frozen


def fingerprint(key: paramiko.PKey) -> str:
    """SHA256:... exactly as `ssh-keygen -lf` prints it (base64, no padding)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


@frozen
class KnownHosts:
    """The user's known_hosts file (read and appended to) and the global ones (only read).

    As in OpenSSH, a key in /etc/ssh/ssh_known_hosts (GlobalKnownHostsFile)
    vouches for a host too, and a different key there is a changed key.
    """

    path: Path
    global_paths: tuple[Path, ...] = ()

    def _load(self, path: Path | None = None, required: bool = True) -> paramiko.HostKeys:
        path = path or self.path
        keys = paramiko.HostKeys()
        if path.exists():
            try:
                keys.load(str(path))
            except (OSError, paramiko.SSHException, ValueError) as exc:
                if required:
                    raise HostKeyError(f"cannot read known_hosts file {path}: {exc}") from exc
        return keys

    def _entries(self, name: str) -> Iterator[tuple[Path, Mapping[str, paramiko.PKey]]]:
        """(file, {key type: key}) for `name`: the user's file first, then the global ones."""
        for path, required in ((self.path, True), *((p, False) for p in self.global_paths)):
            entry = self._load(path, required).lookup(name)
            if entry:
                yield path, entry

    def known_types(self, name: str) -> list[str]:
        return list(dict.fromkeys(t for _, entry in self._entries(name) for t in entry))

    def verify(self, name: str, key: paramiko.PKey, accept_new: bool, hash_new: bool = False) -> None:
        """Return if `key` is the known key for `name`; record it if new and allowed; else raise."""
        key_type = key.get_name()
        fp = fingerprint(key)
        seen: list[str] = []
        for path, entry in self._entries(name):
            seen.extend(entry.keys())
            if key_type not in entry:
                continue
            known = entry[key_type]
            if known.asbytes() == key.asbytes():
                return
            line = self._line_of(name, key_type, path)
            where = f"{path}:{line}" if line else str(path)
            raise HostKeyError(
                f"HOST KEY CHANGED for {name}: {where} has {key_type} {fingerprint(known)}, the server now shows {fp}",
                hint=f"if the device was really re-keyed, delete line {line or '?'} of {path} "
                f"(ssh-keygen -R '{name}' -f {path}) and rerun with --accept-new; "
                "otherwise someone may be intercepting",
            )
        if not accept_new:
            others = f"; known_hosts knows only its {', '.join(dict.fromkeys(seen))} key" if seen else ""
            raise HostKeyError(
                f"unknown host key for {name}: {key_type} {fp}{others}",
                hint=f"check the fingerprint, then rerun with --accept-new to record it in {self.path}",
            )
        self._append(name, key, hash_new)

    def _line_of(self, name: str, key_type: str, path: Path) -> int | None:
        """Line number of the entry for `name` (plain or hashed) in `path`, for the error message."""
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None
        for number, line in enumerate(lines, 1):
            fields = line.split()
            if len(fields) < 3 or fields[1] != key_type:
                continue
            for pattern in fields[0].split(","):
                if pattern == name:
                    return number
                if pattern.startswith("|1|") and paramiko.HostKeys.hash_host(name, pattern) == pattern:
                    return number
        return None

    def _append(self, name: str, key: paramiko.PKey, hash_new: bool) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            needs_newline = (
                self.path.exists() and self.path.stat().st_size > 0 and not self.path.read_bytes().endswith(b"\n")
            )
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="ascii") as fh:
                if needs_newline:
                    fh.write("\n")
                written = paramiko.HostKeys.hash_host(name) if hash_new else name
                fh.write(f"{written} {key.get_name()} {key.get_base64()}\n")
        except OSError as exc:
            raise HostKeyError(f"cannot record the host key in {self.path}: {exc.strerror or exc}") from None
