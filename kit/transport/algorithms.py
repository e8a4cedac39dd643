"""Which SSH algorithms kit offers, and the `--legacy` opt-in (docs/decisions/paramiko-legacy.md).

paramiko 3.5 offers everything it can do, SHA-1 key exchange and CBC ciphers
included. kit narrows that to what OpenSSH 9 offers by default, and puts the
rest behind `--legacy`, as `ssh -o KexAlgorithms=+diffie-hellman-group1-sha1
-o HostKeyAlgorithms=+ssh-rsa ...` does for OpenSSH users:

    SHA-1 key exchange   diffie-hellman-group14-sha1, -group-exchange-sha1, -group1-sha1
    SHA-1 signatures     ssh-rsa host keys and ssh-rsa user-key signatures; ssh-dss
    CBC ciphers          aes128-cbc, aes192-cbc, aes256-cbc, 3des-cbc
    weak MACs            hmac-md5, hmac-md5-96, hmac-sha1-96

hmac-sha1 stays enabled without --legacy, as in OpenSSH 9's defaults: HMAC
does not rely on SHA-1's collision resistance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kit.frozen import frozen

LEGACY: dict[str, tuple[str, ...]] = {
    "kex": (
        "diffie-hellman-group14-sha1",
        "diffie-hellman-group-exchange-sha1",
        "diffie-hellman-group1-sha1",
        # GSS-API key exchange: kit does not do Kerberos; never offered.
    ),
    "keys": ("ssh-rsa", "ssh-dss"),
    "pubkeys": ("ssh-rsa", "ssh-dss"),
    "ciphers": ("aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"),
    "macs": ("hmac-md5", "hmac-md5-96", "hmac-sha1-96"),
}

# paramiko's name for each list -> the word OpenSSH users know.
CATEGORY_NAMES = {"kex": "kex", "keys": "host key", "ciphers": "cipher", "macs": "mac"}


def disabled_algorithms(legacy: bool) -> dict[str, list[str]]:
    """paramiko.Transport(disabled_algorithms=...) for this run."""
    if legacy:
        return {}
    return {kind: list(names) for kind, names in LEGACY.items()}


@frozen
class ServerOffer:
    """What the server's KEXINIT offered (server-to-client lists; SSH servers offer both the same)."""

    kex: tuple[str, ...]
    keys: tuple[str, ...]
    ciphers: tuple[str, ...]
    macs: tuple[str, ...]

    @classmethod
    def from_parsed(cls, parsed: Mapping[str, Iterable[str]]) -> ServerOffer:
        kex = tuple(a for a in parsed.get("kex_algo_list", ()) if not a.startswith(("ext-info-", "kex-strict-")))
        return cls(
            kex=kex,
            keys=tuple(parsed.get("server_key_algo_list", ())),
            ciphers=tuple(parsed.get("server_encrypt_algo_list", ())),
            macs=tuple(parsed.get("server_mac_algo_list", ())),
        )

    def unmet(self, offered_by_us: dict[str, tuple[str, ...]]) -> list[str]:
        """Categories where nothing the server offers is in our list, e.g. ["kex", "keys"]."""
        return [kind for kind in CATEGORY_NAMES if not set(getattr(self, kind)) & set(offered_by_us.get(kind, ()))]

    def legacy_would_help(self, offered_by_us: dict[str, tuple[str, ...]]) -> bool:
        """True when --legacy adds, in every unmet category, something the server offers."""
        unmet = self.unmet(offered_by_us)
        return bool(unmet) and all(set(getattr(self, k)) & set(LEGACY.get(k, ())) for k in unmet)

    def describe(self, kinds: list[str] | None = None) -> str:
        """'kex: a, b; host key: ssh-rsa; ...' for the categories asked (all by default)."""
        parts = []
        for kind in kinds or list(CATEGORY_NAMES):
            names = getattr(self, kind)
            parts.append(f"{CATEGORY_NAMES[kind]}: {', '.join(names) if names else '(none)'}")
        return "; ".join(parts)
