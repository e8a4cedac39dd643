"""Redaction for tickets that leave the company: addresses, MACs and host names become tokens.

    redact(report) -> Report        every string in the report (sockets, device, raw sections, findings)
    redact_json(data) -> data       the same on kit.render.json.to_dict output

One `Redactor` per report, so the same value gets the same token everywhere
in it (10.0.0.7 is `ip4-3` in the socket table, the findings and the raw ss
section alike). What is replaced:

- IPv4 addresses (`192.168.1.1`, also inside `192.168.1.1:22`) -> `ip4-N`
- IPv6 addresses (`fe80::1`, `[2001:db8::5]:443`, `fe80::1%eth0`) -> `ip6-N`;
  an IPv4-mapped address keeps its prefix: `::ffff:10.0.0.1` -> `::ffff:ip4-N`
- /proc/net/tcp style hex addresses (`0100007F:0016`, 32 hex digits for v6)
  -> the token of the address they encode, port kept
- MAC addresses (`aa:bb:cc:dd:ee:ff`, also with `-`) -> `mac-N`
- the device's host names (hostname, uname nodename, the SSH target's host)
  and their parts (`acme-gw7.branch42.example.net`: also `acme-gw7`,
  `branch42`, `example`, `acme`) -> `host-N`, wherever they appear: inside
  paths, process names and file names too
- user names: the SSH target's user, the names in `id` output
  (`uid=1000(jdoe)`), any `uid=N(name)` and `/home/name` -> `user-N`;
  system accounts (root, nobody, daemon, ...) are kept
- host key fingerprints (`SHA256:...`, MD5 `aa:bb:...`) -> `hostkey-N`
- the capture's file name (the footer, JSON `capture.file`): withheld

Addresses are found inside paths and names too (`/tmp/ctrl-10.1.2.3.sock`,
`hostapd-aa:bb:cc:dd:ee:ff`), and an IPv6 address printed without brackets
before its port (busybox netstat, old ss: `2001:db8::5:51000`) is read as
address plus port.

Kept, because they say something and identify nothing: loopback (127.0.0.0/8,
::1), wildcard (0.0.0.0, ::, `*`), the broadcast address, the all-zero and
broadcast MACs, and the default names `localhost`, `OpenWrt`, `(none)` (and `local`, the
target of `kit collect --local`).
The running kernel's release string is protected, so a four-part release
such as `2.6.36.4` is not mistaken for an address.

What is not touched: ports, numbers, and paths and process names beyond the
identifiers above. Tokens are stable within one report only; two reports of
the same device get independent tokens.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kit.unmangle import PREFIX

if TYPE_CHECKING:
    from kit.report import Report

# IPv4: four decimal octets not glued to other digits or dots.
# Glued to letters or '_' is still an address (`ctrl-10.1.2.3.sock`, `host_10.1.2.3-x`);
# glued to more dotted digits is a version number, not one.
_IPV4 = r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)"
# MAC: six hex pairs joined by ':' or '-'.
_MAC = (
    r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(?P<sep>[:-])(?:[0-9A-Fa-f]{2}(?P=sep)){4}[0-9A-Fa-f]{2}"
    r"(?![0-9A-Fa-f])(?![:-][0-9A-Fa-f])"
)
# Host key fingerprints as ssh-keygen -l prints them (and kit's header keeps them).
_FINGERPRINT = r"SHA256:[A-Za-z0-9+/]{40,44}=?|MD5:(?:[0-9a-f]{2}:){15}[0-9a-f]{2}"
# IPv6 candidates: hex groups with at least two colons, either ending in a dotted IPv4
# (::ffff:10.0.0.1) or not followed by more address characters; then maybe a %scope.
# A candidate that ipaddress does not accept (a time like 05:35:39) is left alone.
_IPV6 = (
    r"(?<![\w:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)"
    r"(?:[0-9A-Fa-f:]*:(?:\d{1,3}\.){3}\d{1,3}(?![\w.])|[0-9A-Fa-f:]{2,39}(?![\w.:]))(?:%[\w.-]+)?"
)
# /proc/net/{tcp,udp,raw}[6]: ADDR:PORT in hex, little-endian words.
_PROC_HEX = r"(?<![0-9A-Fa-f:])(?P<hex>[0-9A-Fa-f]{32}|[0-9A-Fa-f]{8}):(?P<port>[0-9A-Fa-f]{4})(?![0-9A-Fa-f:])"

_PATTERN = re.compile(f"(?P<fp>{_FINGERPRINT})|(?P<proc>{_PROC_HEX})|(?P<mac>{_MAC})|(?P<v4>{_IPV4})|(?P<v6>{_IPV6})")
# User names where they show: id's uid=N(name) (also gid=, groups=), home directories.
_USER = re.compile(r"(?P<pre>(?:uid|gid|groups)=\d+\(|,\d+\(|/home/)(?P<name>[^()/\s,:]+)")
SYSTEM_USERS = frozenset(
    {"root", "daemon", "bin", "sys", "adm", "nobody", "nogroup", "wheel", "network", "dnsmasq", "ftp", "www-data",
     "sshd", "messagebus", "systemd-network", "systemd-resolve", "users", "staff", "tty", "disk", "shadow", "utmp"}
)  # fmt: skip
# Host name parts that say nothing about whose device it is.
GENERIC_PARTS = frozenset(
    {"router", "gateway", "openwrt", "localdomain", "local", "lan", "wan", "home", "host", "device", "test", "com",
     "net", "org", "www", "example", "internal", "corp", "intra"}
)  # fmt: skip

KEPT_NAMES = frozenset({"localhost", "openwrt", "(none)", "localhost.localdomain", "local"})
KEPT_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})


_FIELDS: dict[type, tuple[str, ...]] = {}


class Redactor:
    """Replaces addresses, MACs and the given host names with consistent tokens."""

    def __init__(self, hostnames: tuple[str, ...] = (), keep: tuple[str, ...] = (), users: tuple[str, ...] = ()):
        self._tokens: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        self._cache: dict[str, str] = {}
        names = sorted(
            {h for h in _with_parts(hostnames) if h.lower() not in KEPT_NAMES and not _is_address(h)},
            key=len,
            reverse=True,
        )
        for name in names:
            self._token("host", name.lower())
        people = sorted({u for u in users if len(u) >= 2 and u.lower() not in SYSTEM_USERS}, key=len, reverse=True)
        # Host names and user names are replaced wherever they appear (inside paths,
        # process names, file names); a very short one only as a whole word.
        words = [("host", n) for n in names] + [("user", u) for u in people]
        self._kind = {w.lower(): kind for kind, w in words}
        self._names = (
            re.compile(
                "|".join(re.escape(w) if len(w) >= 4 else rf"(?<![\w.-]){re.escape(w)}(?![\w-])" for _, w in words),
                re.IGNORECASE,
            )
            if words
            else None
        )
        kept = sorted({k for k in keep if k}, key=len, reverse=True)
        self._keep = re.compile("|".join(re.escape(k) for k in kept)) if kept else None

    def _token(self, kind: str, value: str) -> str:
        key = (kind, value)
        token = self._tokens.get(key)
        if token is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            token = self._tokens[key] = f"{kind}-{self._counts[kind]}"
        return token

    @property
    def mapping(self) -> dict[str, str]:
        """token -> original value (for the engineer who keeps the unredacted report; never rendered)."""
        return {token: value for (_, value), token in self._tokens.items()}

    # --- one address ---

    def _v4(self, text: str) -> str:
        try:
            addr = ipaddress.IPv4Address(text)
        except ValueError:
            return text
        if addr.is_loopback or addr.is_unspecified or text == "255.255.255.255":
            return text
        return self._token("ip4", str(addr))

    def _v6(self, text: str) -> str:
        bare, _, scope = text.partition("%")
        try:
            addr = ipaddress.IPv6Address(bare)
        except ValueError:
            # No brackets before a port (busybox netstat, old ss): 2001:db8::5:51000.
            head, _, port = text.rpartition(":")
            if head.count(":") >= 2 and port.isascii() and port.isdigit() and head != text:
                redacted = self._v6(head)
                return text if redacted == head else f"{redacted}:{port}"
            return text
        if addr.is_loopback or addr.is_unspecified:
            return text
        if addr.ipv4_mapped is not None:
            prefix = bare[: bare.rfind(":") + 1] if "." in bare else "::ffff:"
            return prefix + self._v4(str(addr.ipv4_mapped))
        return self._token("ip6", str(addr)) + (f"%{scope}" if scope else "")

    def _proc(self, hexaddr: str, port: str) -> str:
        raw = bytes.fromhex(hexaddr)
        if len(raw) == 4:
            addr = ipaddress.IPv4Address(raw[::-1])
            if addr.is_loopback or addr.is_unspecified:
                return f"{hexaddr}:{port}"
            return f"{self._v4(str(addr))}:{port}"
        # IPv6: four 32-bit words, each in host (little-endian) order.
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        addr6 = ipaddress.IPv6Address(words)
        if addr6.is_loopback or addr6.is_unspecified:
            return f"{hexaddr}:{port}"
        return f"{self._v6(str(addr6))}:{port}"

    def _match(self, m: re.Match[str]) -> str:
        text = m.group()
        if m.group("fp"):
            return self._token("hostkey", text)
        if m.group("proc"):
            return self._proc(m.group("hex"), m.group("port"))
        if m.group("mac"):
            low = text.lower().replace("-", ":")
            return text if low in KEPT_MACS else self._token("mac", low)
        if m.group("v4"):
            return self._v4(text)
        return self._v6(text)

    # --- text ---

    def _plain(self, text: str) -> str:
        if "." in text or ":" in text:  # every address and fingerprint form has one; most socket strings do not
            text = _PATTERN.sub(self._match, text)
        if "(" in text or "/home/" in text:
            text = _USER.sub(self._user, text)
        if self._names is not None:
            text = self._names.sub(lambda m: self._token(self._kind[m.group().lower()], m.group().lower()), text)
        return text

    def _user(self, m: re.Match[str]) -> str:
        name = m.group("name")
        if name.lower() in SYSTEM_USERS or name.startswith(("user-", "host-")):
            return m.group()
        return m.group("pre") + self._token("user", name.lower())

    def text(self, text: str) -> str:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        if self._keep is None:
            out = self._plain(text)
        else:
            parts, last = [], 0
            for m in self._keep.finditer(text):
                parts.append(self._plain(text[last : m.start()]))
                parts.append(m.group())
                last = m.end()
            parts.append(self._plain(text[last:]))
            out = "".join(parts)
        if len(text) < 4096:
            self._cache[text] = out
        return out

    def value(self, obj: Any) -> Any:
        """Any value with every string inside it redacted: str, bytes, lists, tuples, dicts, dataclasses."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, bytes):
            return self.text(obj.decode("utf-8", errors="surrogateescape")).encode("utf-8", errors="surrogateescape")
        if isinstance(obj, (int, float, bool)) or obj is None:
            return obj
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.value(v) for v in obj)
        if isinstance(obj, dict):
            return {k: self.value(v) for k, v in obj.items()}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            names = _FIELDS.get(type(obj))
            if names is None:
                names = _FIELDS[type(obj)] = tuple(f.name for f in dataclasses.fields(obj) if f.init)
            changes = {}
            for name in names:
                old = getattr(obj, name)
                new = self.value(old)
                if new is not old and new != old:
                    changes[name] = new
            return dataclasses.replace(obj, **changes) if changes else obj
        return obj


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def _with_parts(hostnames: Iterable[str]) -> set[str]:
    """The names and their identifying parts: dot labels (but the last), and '-'/'_' pieces of 4+ characters."""
    out: set[str] = set()
    for name in hostnames:
        if not name or len(name) < 2 or _is_address(name):
            continue
        out.add(name)
        labels = name.split(".")
        for label in labels[:-1] if len(labels) > 1 else labels:
            if len(label) >= 3 and label.lower() not in GENERIC_PARTS:
                out.add(label)
            for piece in re.split(r"[-_]", label):
                if len(piece) >= 4 and not piece.isdigit() and piece.lower() not in GENERIC_PARTS:
                    out.add(piece)
    return out


def _target_host(target: str | None) -> str | None:
    if not target:
        return None
    host = target.rpartition("@")[2]
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _users(target: str | None, id_output: str | None) -> tuple[str, ...]:
    """User names kit knows of: the SSH target's user and every name in `id` output."""
    names = []
    if target and "@" in target:
        names.append(target.rpartition("@")[0])
    names += re.findall(r"\d+\(([^()]+)\)", id_output or "")
    return tuple(n for n in names if n)


# The host a syslog-style paste prefix names: "Dec  4 21:00:52 router kernel: ",
# "2026-12-04T21:00:52+00:00 router sh[42]: " (kit.unmangle reports the prefix
# as found on the first data line). A paste has no hostname section, so this
# is how kit learns the name it must hide in the prefix and everywhere else.
_SYSLOG_HOST = re.compile(
    r"(?:[A-Z][a-z]{2} +[0-9]{1,2} |[0-9]{4}-[0-9]{2}-[0-9]{2}[T ])[0-9]{2}:[0-9]{2}:[0-9]{2}\S* +([^\s:\[\]]+) "
)


def prefix_hosts(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Host names in paste prefixes (the `detail` of kit.unmangle's PREFIX), for redaction."""
    found = (_SYSLOG_HOST.match(p) for p in prefixes)
    return tuple(m.group(1) for m in found if m)


def _names(
    hostname: str | None, target: str | None, kernel_release: str | None, prefixes: Iterable[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    hostnames = [str(v) for v in (hostname, _target_host(target)) if v] + list(prefix_hosts(prefixes))
    keep = tuple(str(v) for v in (kernel_release,) if v)
    return tuple(hostnames), keep


def redactor_for(
    hostname: str | None,
    target: str | None,
    kernel_release: str | None,
    id_output: str | None = None,
    prefixes: Iterable[str] = (),
) -> Redactor:
    """A Redactor for one device: its host names and users become tokens, its kernel release stays."""
    hostnames, keep = _names(hostname, target, kernel_release, prefixes)
    return Redactor(hostnames, keep, _users(target, id_output))


# What the footer and JSON say instead of the capture's file name (it names the host, the user, the date).
WITHHELD = "(file name withheld)"


def redact(report: Report) -> Report:
    """A copy of the Report with every address, MAC, host name, user and fingerprint replaced by a token."""
    redactor = redactor_for(
        report.device.hostname,
        report.capture.target,
        report.device.kernel_release,
        report.device.user,
        _prefixes(report),
    )
    redacted: Report = redactor.value(report)
    if redacted.capture.file:
        redacted = dataclasses.replace(redacted, capture=dataclasses.replace(redacted.capture, file=WITHHELD))
    return redacted


def redact_json(data: dict[str, Any]) -> dict[str, Any]:
    """The same on the JSON form (kit.render.json.to_dict output)."""
    device, capture = data.get("device") or {}, data.get("capture") or {}
    prefixes = [u.get("detail") or "" for u in capture.get("unmangled") or () if u.get("kind") == PREFIX]
    redactor = redactor_for(
        device.get("hostname"), capture.get("target"), device.get("kernel_release"), device.get("user"), prefixes
    )
    redacted: dict[str, Any] = redactor.value(data)
    if isinstance(redacted.get("capture"), dict) and redacted["capture"].get("file"):
        redacted["capture"]["file"] = WITHHELD
    return redacted


def redactor_for_reports(reports: Iterable[Report]) -> Redactor:
    """One Redactor for several reports (kit diff, kit trend): the same value gets the same token in all."""
    hostnames: list[str] = []
    keep: list[str] = []
    users: list[str] = []
    for rep in reports:
        names, kept = _names(rep.device.hostname, rep.capture.target, rep.device.kernel_release, _prefixes(rep))
        hostnames += names
        keep += kept
        users += _users(rep.capture.target, rep.device.user)
    return Redactor(tuple(hostnames), tuple(keep), tuple(users))


def _prefixes(report: Report) -> list[str]:
    return [u.detail for u in report.capture.unmangled if u.kind == PREFIX]
