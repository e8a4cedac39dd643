"""known_hosts with OpenSSH's habits: unknown keys refused unless --accept-new, changed keys always."""
from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import paramiko

from kit.errors import HostKeyError


def fingerprint(key: paramiko.PKey) -> str:
    """SHA256:... exactly as `ssh-keygen -lf` prints it (base64, no padding)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def host_entry_name(host: str, port: int) -> str:
    """The name OpenSSH writes in known_hosts: host, or [host]:port off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True, slots=True)
class KnownHosts:
    path: Path

    def _load(self) -> paramiko.HostKeys:
        keys = paramiko.HostKeys()
        if self.path.exists():
            try:
                keys.load(str(self.path))
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyError(f"cannot read known_hosts file {self.path}: {exc}") from exc
        return keys

    def known_types(self, host: str, port: int) -> list[str]:
        entry = self._load().lookup(host_entry_name(host, port))
        return list(entry.keys()) if entry else []

    def verify(self, host: str, port: int, key: paramiko.PKey, accept_new: bool) -> None:
        """Return if `key` is the known key for host:port; record it if new and allowed; else raise."""
        name = host_entry_name(host, port)
        entry = self._load().lookup(name)
        key_type = key.get_name()
        fp = fingerprint(key)
        if entry and key_type in entry:
            known = entry[key_type]
            if known.asbytes() == key.asbytes():
                return
            line = self._line_of(name, key_type)
            where = f"{self.path}:{line}" if line else str(self.path)
            raise HostKeyError(
                f"HOST KEY CHANGED for {name}: known {key_type} {fingerprint(known)}, offered {fp}",
                hint=f"if the device was really re-keyed, remove the old key at {where} "
                f"(ssh-keygen -R '{name}' -f {self.path}); otherwise someone may be intercepting",
            )
        if not accept_new:
            raise HostKeyError(
                f"unknown host key for {name}: {key_type} {fp}",
                hint=f"check the fingerprint, then rerun with --accept-new to record it in {self.path}",
            )
        self._append(name, key)

    def _line_of(self, name: str, key_type: str) -> int | None:
        """Line number of the entry for `name` (plain or hashed), for the error message."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
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

    def _append(self, name: str, key: paramiko.PKey) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not self.path.read_bytes().endswith(b"\n")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as fh:
            if needs_newline:
                fh.write("\n")
            fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
