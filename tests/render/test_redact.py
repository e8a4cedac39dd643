"""--redact on a real capture with non-loopback IPv4/IPv6 addresses and a device hostname."""

from __future__ import annotations

import json
import re

import pytest
from situations import ADDRESSES
from support import HOSTILE_HOSTNAME
from support import build_report as build

from kit.redact import Redactor, redact, redact_json
from kit.render import html
from kit.render import json as json_render


@pytest.fixture(scope="module")
def report(situations_cap):
    return build(situations_cap)


def test_capture_really_has_the_addresses(report):
    text = json_render.render(report)
    for addr in ADDRESSES:
        assert addr in text
    assert HOSTILE_HOSTNAME in json.loads(text)["device"]["hostname"]


def test_redacted_html_and_json_leak_nothing(report):
    page = html.render(report, redact=True)
    doc = redact_json(json_render.to_dict(report))
    dumped = json.dumps(doc, ensure_ascii=False)
    for addr in ADDRESSES:
        assert addr not in page and addr not in dumped, addr
    assert HOSTILE_HOSTNAME not in dumped
    assert "&lt;svg/onload=alert(1)&gt;" not in page
    assert "127.0.0.1" in dumped and "127.0.0.1" in page  # loopback kept
    assert "0.0.0.0:2222" in dumped  # wildcard kept
    assert re.search(r"ip4-\d+:8080", page) and re.search(r"\[ip6-\d+\]:8443", dumped)
    assert doc["device"]["kernel_release"] == report.device.kernel_release


def test_same_value_same_token_everywhere(report):
    doc = redact_json(json_render.to_dict(report))
    server = next(s for s in doc["sockets"] if s["local"].endswith(":8080") and s["state"] == "ESTAB")
    client = next(s for s in doc["sockets"] if s["peer"] == server["local"])
    assert client["local"] == server["peer"]
    token = server["local"].rsplit(":", 1)[0]
    listener = next(s for s in doc["sockets"] if s["state"] == "LISTEN" and s["local"] == f"{token}:8080")
    assert listener
    # The report object and the JSON of it give the same tokens (one Redactor per report)
    red = redact(report)
    assert any(s.local == server["local"] for s in red.sockets)
    ss_raw = next(s for s in red.sections if s.name == "ss").text
    assert f"{token}:8080" in ss_raw and ADDRESSES[0] not in ss_raw
    assert red.device.hostname.startswith("host-")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("192.168.1.1:22 10.0.0.7:5555 192.168.1.1", "ip4-1:22 ip4-2:5555 ip4-1"),
        ("[::ffff:10.0.0.7]:80 [::ffff:127.0.0.1]:53", "[::ffff:ip4-1]:80 [::ffff:127.0.0.1]:53"),
        ("[fe80::1]%eth0:5005 [::]:22 ::1 *:*", "[ip6-1]%eth0:5005 [::]:22 ::1 *:*"),
        ("aa:bb:cc:dd:ee:ff AA-BB-CC-DD-EE-FF ff:ff:ff:ff:ff:ff", "mac-1 mac-1 ff:ff:ff:ff:ff:ff"),
        ("0701A8C0:0035 0100007F:0016", "ip4-1:0035 0100007F:0016"),
        ("at 05:35:39, version 1.2.3 and 1.2.3.4.5", "at 05:35:39, version 1.2.3 and 1.2.3.4.5"),
    ],
)
def test_redactor_cases(text, expected):
    assert Redactor().text(text) == expected


def test_hostnames_and_kernel_release():
    r = Redactor(hostnames=("gw-kitchen", "OpenWrt"), keep=("2.6.36.4",))
    assert r.text("Linux gw-kitchen 2.6.36.4 #1 mips; OpenWrt 23.05") == "Linux host-1 2.6.36.4 #1 mips; OpenWrt 23.05"
