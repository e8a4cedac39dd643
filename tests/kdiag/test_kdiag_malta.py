"""Live verdicts on a real kernel with loadable diag modules (Debian's mipsel Malta kernel under qemu).

The recorded captures in tests/fixtures/kconfig-debian-12-malta-qemu/ are
always checked; where qemu-system-mipsel is installed the same checks run on
fresh boots too (qemu_malta.py), about ten seconds a scenario.
"""

from __future__ import annotations

import json
import shutil

import material
import pytest
from support import FIXTURES, parse_sections
from support import unavailable as _unavailable

from kit.analyse import kdiag
from kit.capture import from_bytes
from kit.diag_options import OPTIONS
from kit.parsers import proc_modules, ss
from kit.render import kdiag_text
from kit.sections import SKIPPED_MARKER

RECORDED = FIXTURES / "kconfig-debian-12-malta-qemu"
REQUIRED = ("CONFIG_INET_DIAG", "CONFIG_INET_TCP_DIAG", "CONFIG_INET_UDP_DIAG")


def _diagnose(capture_bytes: bytes) -> tuple[kdiag.KernelDiag, bool]:
    """The verdicts, and whether the probe skipped /proc/kallsyms (every diag module loaded or built in)."""
    capture = from_bytes(capture_bytes)
    assert capture.problems == []
    sections = capture.sections
    sockets = ss.parse(sections["ss"].text).records
    skipped = SKIPPED_MARKER in sections["kdiag_kallsyms"].stderr
    # Every option required: these tests check the remedy kit would give for each one.
    return kdiag.diagnose_live(parse_sections(sections), sockets, required=kdiag.OPTIONS), skipped


def check(scenario: str, diag: kdiag.KernelDiag, kallsyms_skipped: bool) -> None:
    states = {n: diag.options[n].state for n in REQUIRED}
    ev = {n: " | ".join(kdiag_text.evidence_texts(diag.options[n])) for n in OPTIONS}
    json.dumps(kdiag_text.kdiag_json(diag))
    if scenario != "stale":
        assert any("no kernel config read" in n for n in kdiag_text.note_texts(diag))
    assert diag.options["CONFIG_IKCONFIG_PROC"].state == "absent"
    assert "no /proc/config.gz" in ev["CONFIG_IKCONFIG_PROC"]
    if scenario in ("loaded", "autoload"):
        assert diag.verdict == "ok", kdiag_text.summary_text(diag)
        assert set(states.values()) == {"loaded"}
        assert "ss printed skmem for 2 of 2 tcp sockets" in ev["CONFIG_INET_TCP_DIAG"]
        assert "ss printed skmem for 1 of 1 udp sockets" in ev["CONFIG_INET_UDP_DIAG"]
        if kallsyms_skipped:  # the probe of this round: /proc/modules says it all, kallsyms is not read
            assert not any("kallsyms" in ev[n] for n in OPTIONS)
            udp = ev["CONFIG_INET_UDP_DIAG"]
            assert "/proc/modules: udp_diag loaded" in udp or "ss autoloaded udp_diag" in udp
        else:  # the recorded captures: an earlier probe read kallsyms every time
            assert "/proc/kallsyms: udp_diag_dump [udp_diag]" in ev["CONFIG_INET_UDP_DIAG"]
        assert all(diag.options[n].remedy is None for n in REQUIRED)
        if scenario == "autoload":
            assert "ss autoloaded tcp_diag (in /proc/modules after ss ran, not before)" in ev["CONFIG_INET_TCP_DIAG"]
            assert "ss autoloaded unix_diag" in ev["CONFIG_UNIX_DIAG"]
        else:
            assert "/proc/modules: tcp_diag loaded" in ev["CONFIG_INET_TCP_DIAG"]
    elif scenario == "available":
        assert diag.verdict == "missing"
        assert set(states.values()) == {"available"}
        assert "ss printed no skmem for 2 tcp sockets (ESTAB): it fell back to /proc" in ev["CONFIG_INET_TCP_DIAG"]
        assert "module file /lib/modules/6.1.0-" in ev["CONFIG_INET_UDP_DIAG"]
        assert kdiag_text.describe_remedy(diag.options["CONFIG_INET_UDP_DIAG"].remedy) == "modprobe udp_diag"
        assert kdiag_text.describe_remedy(diag.options["CONFIG_PACKET_DIAG"].remedy) == "modprobe af_packet_diag"
        assert kdiag_text.summary_text(diag).endswith("fix: modprobe -a inet_diag tcp_diag udp_diag")
    elif scenario == "stale":
        # /boot/config says =m, the module files are gone: ss and the files win, and it is said.
        assert diag.verdict == "missing" and set(states.values()) == {"absent"}
        assert (
            "/boot/config-6.1.0-" in ev["CONFIG_INET_TCP_DIAG"]
            and "CONFIG_INET_TCP_DIAG=m" in ev["CONFIG_INET_TCP_DIAG"]
        )
        assert "the config disagrees with what ss showed: trust ss" in ev["CONFIG_INET_TCP_DIAG"]
        assert any("may belong to another build" in n for n in kdiag_text.note_texts(diag))
        assert "says CONFIG_INET_UDP_DIAG=m but there is no udp_diag.ko" in kdiag_text.describe_remedy(
            diag.options["CONFIG_INET_UDP_DIAG"].remedy
        )
    elif scenario == "absent":
        assert diag.verdict == "missing"
        assert set(states.values()) == {"absent"}
        assert "/proc/kallsyms has no tcp_diag_get_info" in ev["CONFIG_INET_TCP_DIAG"]
        assert (
            kdiag_text.describe_remedy(diag.options["CONFIG_INET_TCP_DIAG"].remedy)
            == "rebuild the kernel with: CONFIG_INET_DIAG=y CONFIG_INET_TCP_DIAG=y"
        )
        assert "ss fell back to /proc" in kdiag_text.summary_text(diag)
    else:  # pragma: no cover
        raise AssertionError(scenario)


@pytest.mark.parametrize("scenario", ["loaded", "available", "autoload", "absent", "stale"])
def test_recorded(scenario):
    diag, skipped = _diagnose((RECORDED / f"probe-{scenario}.cap").read_bytes())
    assert not skipped
    check(scenario, diag, skipped)


def test_proc_modules_recorded():
    parsed = proc_modules.parse((RECORDED / "proc-modules.out").read_text())
    assert parsed.problems == []
    by_name = {m.name: m for m in parsed.records}
    assert set(by_name) >= {"inet_diag", "tcp_diag", "udp_diag", "af_packet_diag", "netlink_diag"}
    inet = by_name["inet_diag"]
    assert (inet.size, inet.refcount, inet.state) == (14801, 4, "Live")
    assert inet.used_by == ("mptcp_diag", "tcp_diag", "udp_diag", "raw_diag")
    assert by_name["tcp_diag"].used_by == () and by_name["tcp_diag"].line == 2


@pytest.mark.skipif(not shutil.which("qemu-system-mipsel"), reason="qemu-system-mipsel not installed")
@pytest.mark.parametrize("scenario", ["loaded", "available", "autoload", "absent", "stale"])
def test_fresh_boot(debian, scenario):
    import qemu_malta
    from regen_malta_fixtures import record

    debian("mipsel")
    try:
        data = record(scenario)
    except material.Unavailable as exc:
        _unavailable(f"qemu boot failed: {exc}"[:2000])
    assert scenario in qemu_malta.SCENARIOS
    diag, skipped = _diagnose(data)
    # Every diag module loaded: kallsyms would only repeat /proc/modules. Not loaded: it is read.
    assert skipped == (scenario == "loaded") or scenario == "autoload"
    check(scenario, diag, skipped)


def test_paste_of_ss_alone():
    """`kit render` of a ticket paste: only ss speaks, so states rest on it and the remedy hedges."""
    from kit.capture import SectionOutput

    for scenario, verdict in (("loaded", "ok"), ("available", "missing")):
        cap = from_bytes((RECORDED / f"probe-{scenario}.cap").read_bytes())
        paste = {"ss": SectionOutput("ss", cap.sections["ss"].stdout, "", 0)}
        diag = kdiag.diagnose_live(parse_sections(paste), ss.parse(paste["ss"].text).records)
        assert diag.verdict == verdict
        assert kdiag_text.note_texts(diag) == ["no kernel config read: the capture has no kernel config section"]
        tcp = diag.options["CONFIG_INET_TCP_DIAG"]
        if verdict == "ok":
            assert "built in, or a loaded module" in kdiag_text.evidence_texts(tcp)[-1]
        else:
            assert tcp.state == "absent"
            assert kdiag_text.describe_remedy(tcp.remedy).startswith(
                "modprobe tcp_diag; if there is no such module: rebuild the kernel"
            )


def test_openwrt_remedies():
    """The absent capture with an OpenWrt release file and opkg grafted on: the remedy is the package."""
    from kit.capture import SectionOutput

    cap = from_bytes((RECORDED / "probe-absent.cap").read_bytes())
    sections = dict(cap.sections)
    sections["os_release"] = SectionOutput("os_release", b"DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.3'\n", "", 0)
    sections["kdiag_tools"] = SectionOutput("kdiag_tools", b"/sbin/modprobe\n/sbin/insmod\n/bin/opkg\n", "", 0)
    diag = kdiag.diagnose_live(parse_sections(sections), ss.parse(sections["ss"].text).records, required=kdiag.OPTIONS)
    assert kdiag_text.describe_remedy(diag.options["CONFIG_INET_UDP_DIAG"].remedy).startswith(
        "opkg update && opkg install kmod-inet-diag"
    )
    assert kdiag_text.describe_remedy(diag.options["CONFIG_NETLINK_DIAG"].remedy).startswith(
        "opkg update && opkg install kmod-netlink-diag"
    )
    assert "fix: opkg update && opkg install kmod-inet-diag" in kdiag_text.summary_text(diag)
    sections["kdiag_tools"] = SectionOutput("kdiag_tools", b"/sbin/insmod\n", "", 0)
    available = dict(from_bytes((RECORDED / "probe-available.cap").read_bytes()).sections)
    available["kdiag_tools"] = sections["kdiag_tools"]
    diag = kdiag.diagnose_live(parse_sections(available), ss.parse(available["ss"].text).records)
    remedy = kdiag_text.describe_remedy(diag.options["CONFIG_INET_UDP_DIAG"].remedy)
    assert remedy.startswith("insmod /lib/modules/6.1.0-") and remedy.count("insmod ") == 2  # inet_diag first
    assert remedy.index("inet_diag.ko") < remedy.index("udp_diag.ko")
