"""Live verdicts (kit.analyse.kdiag.diagnose_live) on real probe runs.

- this machine, through the real probe under sh (a kernel with every diag
  family built in and no loadable modules at all: no /proc/modules);
- the busybox/dropbear test device over SSH, in its variants: config
  readable, unreadable (EACCES even for root), absent, and without ss.
Nothing here fakes /proc: the sections are what the probe printed.
"""

from __future__ import annotations

import json
import socket
import subprocess

import devicelib
import pytest
from support import parse_sections

from kit.analyse import kdiag
from kit.capture import split_sections
from kit.parsers import ss
from kit.probe import new_token, render_probe
from kit.render import kdiag_text


def _diagnose(stdout: bytes, token: str):
    sections, problems = split_sections(stdout, token)
    assert problems == []
    sockets = ss.parse(sections["ss"].text).records if sections["ss"].ok and sections["ss"].stdout else None
    return sections, kdiag.diagnose_live(parse_sections(sections), sockets)


@pytest.fixture()
def busy_sockets():
    """A TCP listener with an established pair and a bound UDP socket, so ss has something to show."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen()
    cli = socket.create_connection(lsn.getsockname())
    srv, _ = lsn.accept()
    cli.sendall(b"x" * 1000)  # unread: r > 0 on srv
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    yield
    for s in (lsn, cli, srv, udp):
        s.close()


def _local_run() -> tuple[bytes, str]:
    token = new_token()
    out = subprocess.run(["sh", "-s"], input=render_probe(token).encode(), capture_output=True, timeout=120).stdout
    return out, token


def test_this_machine_everything_built_in(busy_sockets):
    sections, diag = _diagnose(*_local_run())
    modules_absent = not sections["modules_before"].ok
    assert diag.verdict == "ok", kdiag_text.kdiag_json(diag)
    tcp = diag.options["CONFIG_INET_TCP_DIAG"]
    assert tcp.state == "builtin" and tcp.remedy is None
    assert any(e.startswith("ss printed skmem for") and "tcp sockets" in e for e in kdiag_text.evidence_texts(tcp))
    udp = diag.options["CONFIG_INET_UDP_DIAG"]
    assert any("udp sockets" in e for e in kdiag_text.evidence_texts(udp))
    assert any(e.startswith("/proc/kallsyms: udp_diag_dump") for e in kdiag_text.evidence_texts(udp))
    if modules_absent:
        assert "no /proc/modules: the kernel has no loadable module support" in kdiag_text.evidence_texts(tcp)
    config = subprocess.run(["sh", "-c", "zcat /proc/config.gz"], capture_output=True, text=True).stdout
    if "CONFIG_INET_RAW_DIAG is not set" in config:
        raw = diag.options["CONFIG_INET_RAW_DIAG"]
        assert raw.state == "absent" and raw.remedy is None  # an extra: information, no remedy
        sockets = ss.parse(sections["ss"].text).records
        asked = kdiag.diagnose_live(
            parse_sections(sections), sockets, required=(*kdiag.REQUIRED, "CONFIG_INET_RAW_DIAG")
        )
        assert "CONFIG_INET_RAW_DIAG=y" in kdiag_text.describe_remedy(asked.options["CONFIG_INET_RAW_DIAG"].remedy)
    assert kdiag_text.evidence_texts(diag.options["CONFIG_IKCONFIG_PROC"])[0] == "/proc/config.gz was read"
    doc = kdiag_text.kdiag_json(diag)
    json.dumps(doc)
    assert set(doc) >= {"verdict", "summary", "options"}
    assert "remedy" not in doc["options"]["CONFIG_INET_DIAG"]
    assert kdiag_text.summary_text(diag).startswith("ss can show socket memory for TCP and UDP")


def _device_run(dev) -> tuple[bytes, str]:
    from kit.transport.ssh import SshTransport

    token = new_token()
    result = SshTransport(devicelib.root_target(dev)).run(render_probe(token).encode(), timeout=120)
    return result.stdout, token


def test_device_config_readable(device, busy_sockets):
    sections, diag = _diagnose(*_device_run(device))
    assert diag.verdict == "ok"
    ev = kdiag_text.evidence_texts(diag.options["CONFIG_INET_DIAG"])
    assert "/proc/config.gz: CONFIG_INET_DIAG=y" in ev or any(e.startswith("/boot/config-") for e in ev)
    # busybox's command -v finds what the device has; the device has no opkg
    assert "kdiag_tools" in sections


def test_device_config_unreadable(device_config_unreadable, busy_sockets):
    sections, diag = _diagnose(*_device_run(device_config_unreadable))
    assert any("permission denied" in n for n in kdiag_text.note_texts(diag)), kdiag_text.note_texts(diag)
    # the live evidence still decides
    assert diag.verdict == "ok"
    assert not any(
        e.startswith("/proc/config.gz: CONFIG") for e in kdiag_text.evidence_texts(diag.options["CONFIG_INET_DIAG"])
    )


def test_device_config_none(device_config_none, busy_sockets):
    sections, diag = _diagnose(*_device_run(device_config_none))
    assert any("/proc/config.gz: absent" in n for n in kdiag_text.note_texts(diag)), kdiag_text.note_texts(diag)
    assert diag.verdict == "ok"
    ikp = diag.options["CONFIG_IKCONFIG_PROC"]
    assert "/proc/config.gz was read" not in kdiag_text.evidence_texts(ikp)


def test_device_without_ss(device_no_ss):
    sections, diag = _diagnose(*_device_run(device_no_ss))
    tcp = diag.options["CONFIG_INET_TCP_DIAG"]
    assert any("ss is not installed" in e for e in kdiag_text.evidence_texts(tcp)), kdiag_text.evidence_texts(tcp)
    # Without ss the config and kallsyms decide: this kernel has them built in.
    assert tcp.state == "builtin"
    assert diag.verdict == "ok"
