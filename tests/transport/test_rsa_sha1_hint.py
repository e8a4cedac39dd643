"""An RSA key refused by a server that verifies RSA signatures only with SHA-1 (dropbear before
2020.79) fails in one line that says to retry with --legacy.

The server is Debian's OpenSSH sshd with modern key exchange and an ed25519
host key, accepting user keys only as ssh-rsa (PubkeyAcceptedAlgorithms
ssh-rsa): kit (paramiko) signs RSA keys with rsa-sha2-512 unless --legacy,
exactly what old dropbear refuses.
"""

from __future__ import annotations

import subprocess

import devicelib
import pytest

from kit import capture
from kit.transport.ssh import may_verify_rsa_only_with_sha1

pytestmark = pytest.mark.device


def _args(server, key):
    return [f"{server.user}@{server.host}", "-p", str(server.port), "--known-hosts", str(server.known_hosts), "-i", key]


def test_rsa_key_refused_with_sha2_says_retry_with_legacy(sshd_rsa_sha1, kit_collect):
    run = kit_collect(*_args(sshd_rsa_sha1, sshd_rsa_sha1.user_rsa_key))
    assert run.code == 3 and run.out == [], run
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert "authentication failed" in lines[0] and "retry with --legacy" in lines[0]
    assert "Traceback" not in run.err
    # The server saw a SHA-2 signature it would not take.
    log = sshd_rsa_sha1.log.read_text()
    assert "rsa-sha2-512" in log and "Accepted publickey" not in log


def test_the_same_key_with_legacy_logs_in(sshd_rsa_sha1, kit_collect):
    run = kit_collect(*_args(sshd_rsa_sha1, sshd_rsa_sha1.user_rsa_key), "--legacy")
    assert run.code in (0, 1), run
    cap = capture.load(run.capture)
    assert cap.sections["id"].text.startswith("uid=1000(support)")
    assert "Accepted publickey for support" in sshd_rsa_sha1.log.read_text()


def test_a_refused_ed25519_key_gets_the_ordinary_hint(sshd_rsa_sha1, kit_collect):
    run = kit_collect(*_args(sshd_rsa_sha1, sshd_rsa_sha1.user_key))  # ed25519: not accepted there at all
    assert run.code == 3 and len(run.err.splitlines()) == 1, run
    assert "--legacy" not in run.err and "check the user (-l), key (-i) or password" in run.err


def test_a_wrong_rsa_key_on_the_test_device_gets_no_legacy_hint(device, kit_collect, tmp_path):
    """dropbear 2022.83 verifies rsa-sha2-256: a refused RSA key there is the wrong key."""
    key = tmp_path / "stranger_rsa"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "rsa", "-b", "2048", "-m", "PEM", "-f", str(key)], check=True)
    run = kit_collect(*devicelib.kit_args(device, "root", key=False), "-i", key)
    assert run.code == 3 and len(run.err.splitlines()) == 1, run
    assert "--legacy" not in run.err and "check the user (-l), key (-i) or password" in run.err


@pytest.mark.parametrize(
    "banner,extensions,expected",
    [
        ("SSH-2.0-dropbear_2019.78", {}, True),  # before 2020.79: SHA-1 only, no server-sig-algs
        ("SSH-2.0-dropbear_2020.79", {"server-sig-algs": b"ssh-ed25519,rsa-sha2-256"}, False),
        ("SSH-2.0-dropbear_2022.83", {"server-sig-algs": b"ssh-ed25519,rsa-sha2-256,ssh-rsa"}, False),
        ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10", {"server-sig-algs": b"ssh-ed25519,ssh-rsa,rsa-sha2-512"}, True),
        ("SSH-2.0-OpenSSH_9.6", {"server-sig-algs": b"ssh-ed25519,rsa-sha2-512,rsa-sha2-256"}, False),
        ("SSH-2.0-OpenSSH_7.4", {}, True),  # no extension at all: cannot tell, may be SHA-1 only
    ],
)
def test_rule_on_banners_and_server_sig_algs(banner, extensions, expected):
    assert may_verify_rsa_only_with_sha1(banner, extensions) is expected
