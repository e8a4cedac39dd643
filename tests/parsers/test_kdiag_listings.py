"""The kernel diag evidence sections (kdiag_*), on the real probe runs of the Malta kernel and this machine."""

from __future__ import annotations

import subprocess

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


def _section(name, stdout, stderr, rc=0, complete=True):
    return capture.SectionOutput(name, stdout.encode(), stderr, rc, complete=complete)


def test_the_section_status_reaches_the_parsers_through_parse_section():
    """What a command said on stderr is the parser's to read (kit.report.parse_section passes it)."""
    from kit.report import parse_section

    # busybox ls on a kernel whose modules were never installed
    gone = _section("kdiag_module_files", "", "ls: /lib/modules/6.1.0-18-4kc-malta: No such file or directory\n", 1)
    files = parse_section(gone)
    assert isinstance(files, kl.ModuleFiles) and files.looked and files.missing_dir == "/lib/modules/6.1.0-18-4kc-malta"
    assert not parse_section(_section("kdiag_module_files", "", "", None, complete=False)).looked
    denied = parse_section(_section("kdiag_kallsyms", "", "grep: /proc/kallsyms: No such file or directory\n", 2))
    assert isinstance(denied, kl.Listing) and not denied.read
    # skipped by the probe: every diag module was loaded or built in (kit.sections)
    skipped = _section("kdiag_kallsyms", "", "# kit: skipped: every diag module is loaded or built in\n", 0)
    assert not parse_section(skipped).read
    assert parse_section(_section("kdiag_kallsyms", "", "", 1)).read  # grep found none: read, and says so
    assert parse_section(_section("kdiag_tools", "/sbin/modprobe\n", "", 1)).read
    listing = parse_section(
        _section("kdiag_config_files", "", "ls: /proc/config.gz: No such file or directory\n", 1, complete=True)
    )
    assert isinstance(listing, kl.ConfigFiles) and listing.proc_config_absent
    assert listing.complaints.error("/proc/config.gz") == ("/proc/config.gz", "absent")


@given(st.text(), st.text(), st.one_of(st.none(), st.integers(-1, 255)), st.booleans())
def test_status_parsers_never_raise(text, stderr, rc, complete):
    from kit.report import parse_section, parser_function, takes_status
    from kit.sections import SECTIONS

    for spec in SECTIONS:
        section = capture.SectionOutput(spec.name, text.encode("utf-8", "surrogatepass"), stderr, rc, complete=complete)
        if spec.parser and takes_status(parser_function(spec.parser)):
            parse_section(section)


def test_kallsyms_keeps_the_exact_names_of_the_fixed_string_grep():
    """The probe's grep -F matches other *_diag_* symbols too (on this machine's /proc/kallsyms); the parser keeps the nine."""
    from kit.diag_options import kallsyms_symbols
    from kit.sections import BY_NAME

    command = BY_NAME["kdiag_kallsyms"].command.removeprefix("exec ")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout
    wanted = set(kallsyms_symbols())
    exact = [ln.split() for ln in out.splitlines() if len(ln.split()) >= 3 and ln.split()[2] in wanted]
    parsed = kl.parse_kallsyms(out)
    assert [(s.name, s.module) for s in parsed.records] == [
        (w[2], w[3].strip("[]") if len(w) > 3 else "") for w in exact
    ]
    assert not parsed.problems
