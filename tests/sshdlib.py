"""A real OpenSSH sshd serving the busybox root, restricted to one set of algorithms (SSHD_MODES).

    server = start_sshd(tmp_path, mode="legacy")
    ...  # ssh support@127.0.0.1 -p server.port, known hosts in server.known_hosts
    stop_sshd(server)

The login user `support` is chrooted into the device's busybox root (see
devicelib); sshd runs in namespaces of its own (servers). Needs root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devicelib import (
    USER,
    USER_UID,
    _credentials,
    _rootfs,
    _run,
    _sha256_fingerprint,
    ensure_packages,
    nsinit_argv,
)
from servers import _RUNNING, HOST, _children, _launch, _pidns, _Running, _stop

SSHD = "/usr/sbin/sshd"
SSHD_PACKAGES = {"openssh-server": SSHD, "openssh-client": "/usr/bin/ssh-keygen"}
SSHD_CHROOT = "/mnt/kit-sshd-root"  # inside sshd's mount namespace only

# mode -> sshd_config lines (besides port, keys, chroot)
SSHD_MODES = {
    # What dropbear builds of 2015-2020 offer: ssh-rsa (SHA-1) host key and
    # signatures, SHA-1 DH groups, CBC, hmac-sha1. OpenSSH 9.2 still has them
    # when asked explicitly (`sshd -T` shows the result).
    "legacy": {
        "hostkey": "rsa",
        "lines": [
            "HostKeyAlgorithms ssh-rsa",
            "KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group1-sha1",
            "Ciphers aes128-cbc",
            "MACs hmac-sha1",
            "PubkeyAcceptedAlgorithms ssh-rsa,ssh-ed25519",
            "UsePAM no",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
        ],
    },
    # Modern key exchange and host key, but RSA user keys verified only as ssh-rsa
    # (SHA-1): stands for dropbear before 2020.79, which signs in and checks RSA
    # signatures with SHA-1 alone and sends no server-sig-algs.
    "rsa_sha1": {
        "hostkey": "ed25519",
        "lines": [
            "PubkeyAcceptedAlgorithms ssh-rsa",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
        ],
    },
    # Only keyboard-interactive (through PAM), as some vendor firmware does.
    "kbdint": {
        "hostkey": "ed25519",
        "lines": [
            "UsePAM yes",
            "KbdInteractiveAuthentication yes",
            "PasswordAuthentication no",
            "PubkeyAuthentication no",
            "AuthenticationMethods keyboard-interactive",
        ],
    },
}


@dataclass(frozen=True)
class Sshd:
    host: str
    port: int
    mode: str
    user: str  # "support", chrooted into the busybox root
    user_password: str
    user_key: Path  # ed25519, authorized
    user_rsa_key: Path  # RSA (PEM), authorized: signs with ssh-rsa on the legacy server
    host_key_type: str  # "ssh-rsa" / "ssh-ed25519"
    host_key_sha256: str
    known_hosts: Path
    rootfs: Path
    pid: int
    log: Path
    config: Path


def sshd_supports(*queries: tuple[str, str]) -> list[str]:
    """Which of (query, name) pairs `ssh -Q query` does not list, e.g. ("kex", "diffie-hellman-group1-sha1")."""
    missing = []
    for query, name in queries:
        if name not in _run(["ssh", "-Q", query]).split():
            missing.append(f"{query} {name}")
    return missing


def start_sshd(workdir: Path, *, mode: str = "legacy") -> Sshd:
    """Start Debian's OpenSSH sshd on 127.0.0.1 in namespaces of its own.

    The login user `support` (uid 1000, not root) is chrooted into a busybox
    root whose ss sits in /usr/sbin, off sshd's default user PATH. sshd reads
    our own /etc/passwd, /etc/shadow, /etc/group and /etc/pam.d, bound over
    the host's inside its mount namespace: the host's files are untouched.
    """
    if mode not in SSHD_MODES:
        raise ValueError(f"mode must be one of {list(SSHD_MODES)}")
    if os.geteuid() != 0:
        raise RuntimeError("the test sshd needs root (namespaces, chroot)")
    ensure_packages(SSHD_PACKAGES)
    workdir = Path(workdir).resolve()
    creds = _credentials(workdir)
    root = _rootfs(workdir, with_ss=True, kconfig="readable", creds=creds, ss_path="/usr/sbin/ss")
    spec = SSHD_MODES[mode]
    sdir = Path(tempfile.mkdtemp(prefix=f"sshd-{mode}.", dir=workdir))
    os.chmod(sdir, 0o755)

    hostkey = sdir / f"ssh_host_{spec['hostkey']}_key"
    keygen = ["ssh-keygen", "-q", "-N", "", "-f", str(hostkey), "-t", spec["hostkey"]]
    if spec["hostkey"] == "rsa":
        keygen += ["-b", "2048", "-m", "PEM"]
    _run(keygen)
    host_pub = " ".join(Path(f"{hostkey}.pub").read_text().split()[:2])

    rsa_key = sdir / "support_rsa"
    _run(["ssh-keygen", "-q", "-N", "", "-t", "rsa", "-b", "2048", "-m", "PEM", "-f", str(rsa_key)])
    u = creds[USER]
    auth = sdir / "authorized_keys"
    auth.mkdir(mode=0o755)
    (auth / USER).write_text(u["pub"] + "\n" + Path(f"{rsa_key}.pub").read_text())

    etc = sdir / "etc"
    pam = etc / "pam.d"
    pam.mkdir(parents=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        f"{USER}:x:{USER_UID}:{USER_UID}:{USER}:/home/{USER}:/bin/sh\n"
    )
    (etc / "group").write_text(f"root:x:0:\nnogroup:x:65534:\n{USER}:x:{USER_UID}:\n")
    (etc / "shadow").write_text(
        f"root:*:19000:0:99999:7:::\nsshd:*:19000::::::\nnobody:*:19000::::::\n{USER}:{u['hash']}:19000:0:99999:7:::\n"
    )
    os.chmod(etc / "shadow", 0o600)
    (pam / "sshd").write_text(
        "auth required pam_unix.so\naccount required pam_unix.so\n"
        "session required pam_permit.so\npassword required pam_deny.so\n"
    )
    (pam / "other").write_text(
        "auth required pam_deny.so\naccount required pam_deny.so\n"
        "session required pam_deny.so\npassword required pam_deny.so\n"
    )

    config = sdir / "sshd_config"

    def command(port: int) -> list[str]:
        # The port is in the config, so each attempt writes it anew.
        config.write_text(
            "\n".join(
                [
                    f"ListenAddress {HOST}:{port}",
                    f"HostKey {hostkey}",
                    "PidFile none",
                    "PermitRootLogin no",
                    "StrictModes no",  # our files live under /tmp (world-writable)
                    # Read as the user: our workdir may not be traversable (pytest's is 0700).
                    "AuthorizedKeysFile /run/kit-keys/%u",
                    f"ChrootDirectory {SSHD_CHROOT}",
                    "AllowTcpForwarding yes",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "LogLevel VERBOSE",
                    *spec["lines"],
                ]
            )
            + "\n"
        )
        return [
            *nsinit_argv(shutil.which("unshare") or "unshare", root),
            "--root-at",
            SSHD_CHROOT,
            "--run-tmpfs",
            "--no-chroot",
            "--bind",
            f"{etc / 'passwd'}:/etc/passwd",
            "--bind",
            f"{etc / 'group'}:/etc/group",
            "--bind",
            f"{etc / 'shadow'}:/etc/shadow",
            "--bind",
            f"{pam}:/etc/pam.d",
            "--bind",
            f"{auth}:/run/kit-keys",
            "--",
            SSHD,
            "-D",
            "-e",
            "-f",
            str(config),
        ]

    proc, port, log = _launch(command, lambda port: sdir / f"sshd-{port}.log", None, f"test sshd ({mode})")
    inits = _children(proc.pid)
    _RUNNING[proc.pid] = _Running(proc, _pidns(inits[0]) if inits else None)
    known_hosts = sdir / "known_hosts"
    known_hosts.write_text(f"[{HOST}]:{port} {host_pub}\n")
    return Sshd(
        host=HOST,
        port=port,
        mode=mode,
        user=USER,
        user_password=u["password"],
        user_key=Path(u["key"]),
        user_rsa_key=rsa_key,
        host_key_type=host_pub.split()[0],
        host_key_sha256=_sha256_fingerprint(host_pub),
        known_hosts=known_hosts,
        rootfs=root,
        pid=proc.pid,
        log=log,
        config=config,
    )


def stop_sshd(server: Sshd) -> None:
    _stop(server.pid, _RUNNING.pop(server.pid, None))
