"""--redact leaves nothing identifying in any output: identifiers planted in a real capture
(captures/testdev-busybox-dropbear.cap) in every form kit parses are grepped for in the HTML,
JSON and text output, the output file names and the footer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kit import capture

REAL = Path(__file__).resolve().parents[2] / "captures" / "testdev-busybox-dropbear.cap"
FINGERPRINT = "SHA256:Qk3mZp9VtY0aXc7Lr2Hs5Nw8Eb1Ud4Fg6Ij3Ko0Pq2x"

# What must not survive, as it may appear (case-insensitive substrings).
PLANTED = [
    "acme-gw7",
    "branch42",
    "jdoe",
    "2001:db8:aa::5",
    "2001:db8:aa:",
    "2001:db8:bb::7",
    "fe80::1c2d:3eff:fe4f:5a6b",
    "198.51.100.23",
    "203.0.113.9",
    "aa:bb:cc:11:22:33",
    "aa-bb-cc-11-22-44",
    "192.168.77.12",
    "10.20.30.40",
    "0C4DA8C0",
    "281E140A",
    "Qk3mZp9VtY0aXc7Lr2Hs5Nw8Eb1Ud4Fg6Ij3Ko0Pq2x",
    "100.64.7.9",
]

SS_LINES = """\
tcp   ESTAB  0      0      2001:db8:aa::5:443        2001:db8:bb::7:51000   users:(("acme-gw7d",pid=77,fd=3))
\t skmem:(r0,rb87380,t0,tb16384,f0,w0,o0,bl0,d0)
tcp   ESTAB  0      0      [fe80::1c2d:3eff:fe4f:5a6b%eth0]:22 [::ffff:198.51.100.23]:40000 users:(("dropbear",pid=78,fd=4))
\t skmem:(r0,rb87380,t0,tb16384,f0,w0,o0,bl0,d0)
tcp   ESTAB  0      0      192.168.77.12:22          10.20.30.40:5555      users:(("dropbear",pid=81,fd=4))
\t skmem:(r0,rb87380,t0,tb16384,f0,w0,o0,bl0,d0)
u_str LISTEN 0      5      /tmp/ctrl-203.0.113.9.sock 44441               * 0 users:(("hostapd",pid=79,fd=5))
\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
u_str LISTEN 0      5      /var/run/hostapd-aa:bb:cc:11:22:33/wlan0 44442 * 0 users:(("hostapd",pid=79,fd=6))
\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
u_str LISTEN 0      5      /run/dhcp-aa-bb-cc-11-22-44_100.64.7.9.lease 44444 * 0 users:(("udhcpc",pid=82,fd=6))
\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
u_str LISTEN 0      5      /home/jdoe/.acme-gw7.sock 44443                * 0 users:(("acme-gw7-agent",pid=80,fd=7))
\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
"""


def planted_capture(tmp_path: Path) -> Path:
    data = REAL.read_bytes()
    end = data.index(b"\n", len(capture.MAGIC))
    header = json.loads(data[len(capture.MAGIC) : end])
    body = data[end + 1 :][: header["stdout_bytes"]].decode()
    token = header["token"]
    body = body.replace("kit-testdev", "acme-gw7")
    body = body.replace(
        f"{token} BEGIN hostname\nacme-gw7\n", f"{token} BEGIN hostname\nacme-gw7.branch42.example.net\n"
    )
    body = body.replace("uid=0(root) gid=0(root) groups=0(root)", "uid=1000(jdoe) gid=1000(jdoe) groups=1000(jdoe)")
    ss_at = body.index(f"{token} BEGIN ss\n")
    first_row = body.index("\n", body.index("\n", ss_at) + 1) + 1
    body = body[:first_row] + SS_LINES + body[first_row:]
    # A /proc/net/tcp section (this capture's device has ss, so the probe skipped it): 192.168.77.12:22
    # to 10.20.30.40:5555 as the kernel prints them, little-endian hex.
    proc = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0C4DA8C0:0016 281E140A:15B3 01 00000000:00000000 00:00000000 00000000     0        0 99999 1\n"
    )
    done = body.rindex(f"\n{token} DONE")
    body = (
        body[:done]
        + f"\n{token} BEGIN proc_net_tcp\n{proc}\n{token} STDERR proc_net_tcp\n\n{token} RC 0\n\n{token} END proc_net_tcp"
        + body[done:]
    )
    header = dict(header, target="jdoe@acme-gw7.branch42.example.net", host_key=f"ssh-ed25519 {FINGERPRINT}")
    path = tmp_path / "jdoe_acme-gw7_192.168.77.12-20261126T054110Z.cap"
    path.write_bytes(capture.capture_bytes(header, body.encode(), b""))
    return path


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [p for p in PLANTED if p.lower() in low]


@pytest.fixture
def planted(tmp_path):
    path = planted_capture(tmp_path)
    return path


def test_the_planted_capture_holds_every_identifier(planted, kit_run):
    """Without --redact every planted identifier shows in the outputs: the greps below can fail."""
    seen = planted.name
    for fmt in ("html", "json", "text"):
        ran = kit_run("render", planted, "--format", fmt, "-o", "-")
        assert ran.code in (0, 1), ran
        seen += ran.out.decode()
    assert sorted(leaks(seen)) == sorted(PLANTED)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_redacted_stdout_formats(fmt, planted, kit_run):
    ran = kit_run("render", planted, "--format", fmt, "--redact")
    assert ran.code in (0, 1), ran
    assert leaks(ran.out.decode()) == []
    assert leaks(ran.err.decode()) == []


def test_redacted_html_and_its_file_name(planted, tmp_path, kit_run):
    reports = tmp_path / "r"
    ran = kit_run("render", planted, "--redact", "--reports", reports)
    assert ran.code in (0, 1), ran
    (page,) = reports.iterdir()
    assert leaks(page.name) == [] and leaks(ran.out.decode()) == []
    html = page.read_text()
    assert leaks(html) == []
    assert "ip4-" in html and "ip6-" in html and "mac-" in html and "host-" in html and "user-" in html


def test_same_value_same_token(planted, kit_run):
    ran = kit_run("render", planted, "--format", "json", "--redact")
    doc = json.loads(ran.out)
    text = json.dumps(doc)
    # 203.0.113.9 is in a unix path only once; 192.168.77.12 in ss and in /proc/net/tcp (hex): one token.
    socks = {s["local"]: s for s in doc["sockets"]}
    tokens_22 = {s["local"] for s in doc["sockets"] if s["local"].endswith(":22") and s["netid"] == "tcp"}
    assert tokens_22, socks
    assert len(set(re.findall(r"host-\d+", text))) >= 1
    user_tokens = set(re.findall(r"user-\d+", text))
    assert len(user_tokens) == 1, user_tokens  # jdoe in uid=, /home/, user@: one token


# A paste from a syslog or journal: every line carries the router's name, and a paste has no
# hostname section to learn it from. The name in the prefix is the host name.
SYSLOG_PREFIXES = ["Dec  4 21:00:52 acme-gw7 kernel: ", "2026-12-04T21:00:52+00:00 acme-gw7 sh[42]: "]


@pytest.mark.parametrize("prefix", SYSLOG_PREFIXES)
def test_a_host_named_only_in_a_paste_prefix_is_redacted(prefix, tmp_path, kit_run):
    clean = (Path(__file__).resolve().parents[1] / "fixtures" / "debian-12" / "ss-napm.out").read_bytes()
    paste = tmp_path / "ticket.txt"
    paste.write_bytes(b"".join(prefix.encode() + line for line in clean.splitlines(keepends=True)))
    plain = kit_run("render", paste, "--format", "text")
    assert plain.code in (0, 1) and b"acme-gw7" in plain.out, plain  # shown without --redact: the grep can fail
    for fmt in ("json", "text", "html"):
        ran = kit_run("render", paste, "--format", fmt, "-o", "-", "--redact")
        assert ran.code in (0, 1), ran
        assert b"acme-gw7" not in ran.out and b"acme-gw7" not in ran.err
        assert b"host-" in ran.out
