"""The kernel diag evidence sections (kdiag_*), on the real probe runs of the Malta kernel and this machine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import FIXTURES

from kit import capture
from kit.parsers import kdiag_listings as kl

CAPTURES = sorted((FIXTURES / "kconfig-debian-12-malta-qemu").glob("*.cap")) + sorted(
    (FIXTURES.parent.parent / "captures").glob("*.cap")
)


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: p.name)
def test_real_sections(cap):
    sections = capture.load(cap).sections
    lines = [ln.split() for ln in sections["kdiag_kallsyms"].text.splitlines() if ln.strip()]
    symbols = kl.parse_kallsyms(sections["kdiag_kallsyms"].text)
    assert not symbols.problems and [s.name for s in symbols.records] == [w[2] for w in lines]
    assert all(
        s.module == (w[3].strip("[]") if len(w) > 3 else "") for s, w in zip(symbols.records, lines, strict=True)
    )
    files = kl.parse_module_files(sections["kdiag_module_files"].text)
    assert all(f.module is None or f.path.endswith((".ko", ".ko.xz", ".ko.gz", ".ko.zst")) for f in files.records)
    builtin = kl.parse_modules_builtin(sections["kdiag_modules_builtin"].text)
    assert not builtin.problems and all("/" not in m and "." not in m for m in builtin.records)
    tools = kl.parse_tools(sections["kdiag_tools"].text).records
    assert set(tools) <= {"modprobe", "insmod", "opkg", "apk"}
    listed = kl.parse_config_files(sections["kdiag_config_files"].text).records
    assert all(f.path.startswith(("/proc/", "/boot/", "/lib/modules/")) for f in listed)


def test_module_names():
    assert kl.module_name("/lib/modules/6.1.0/kernel/net/ipv4/tcp_diag.ko.xz") == "tcp_diag"
    assert kl.module_name("af-packet-diag.ko") == "af_packet_diag"  # - and _ are one to the kernel
    assert kl.module_name("/lib/modules/6.1.0") is None


@given(st.text())
def test_never_raise(text):
    for parse in (kl.parse_config_files, kl.parse_module_files, kl.parse_modules_builtin, kl.parse_kallsyms):
        parse(text)
    kl.parse_tools(text)
