"""kit.parsers.kconfig on real configs of several architectures, quirk fixtures, and fuzzing."""

from __future__ import annotations

import gzip
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FIXTURES

from kit.parsers import kconfig

QUIRKS = FIXTURES / "kconfig-quirks"
OPTION_LINE = re.compile(r"^(CONFIG_\w+=|# CONFIG_\w+ is not set$)", re.M)


def _config_text(debian, arch: str) -> str:
    return next((debian(arch) / "boot").glob("config-*")).read_text()


@pytest.mark.parametrize("arch", ["amd64", "mipsel", "armel"])
def test_debian_configs_read_completely(debian, arch):
    text = _config_text(debian, arch)
    parsed = kconfig.parse(text)
    assert parsed.problems == []
    assert len(parsed.records) == len(OPTION_LINE.findall(text)) > 3000
    assert kconfig.dialect(text) == "config"
    options = kconfig.as_dict(parsed)
    assert options["CONFIG_INET_DIAG"].value == "m"  # Debian builds the diag families as modules
    assert options["CONFIG_IKCONFIG"].value is None  # "# CONFIG_IKCONFIG is not set"
    assert options["CONFIG_LOCALVERSION"].value == '""'  # strings keep their quotes
    line = text.split("\n")[options["CONFIG_INET_DIAG"].line - 1]
    assert line == "CONFIG_INET_DIAG=m"


def test_proc_config_gz_of_this_kind_of_machine():
    text = gzip.decompress((FIXTURES / "kconfig-firecracker-6.18" / "config.gz").read_bytes()).decode()
    parsed = kconfig.parse(text)
    assert parsed.problems == []
    options = kconfig.as_dict(parsed)
    assert options["CONFIG_INET_DIAG"].value == "y"
    assert options["CONFIG_INET_RAW_DIAG"].value is None
    assert kconfig.unquote(options["CONFIG_CMDLINE"].value) == "mitigations=auto,no_guest_host,no_guest_guest"


def test_crlf_reads_like_lf():
    lf = kconfig.parse((QUIRKS / "networking.config").read_text())
    crlf = kconfig.parse((QUIRKS / "networking-crlf.config").read_bytes().decode())
    assert crlf.problems == [] and lf.problems == []
    assert crlf.records == lf.records
    assert kconfig.dialect((QUIRKS / "networking.config").read_text()) == "defconfig"


def test_hand_edits_are_problems_not_options():
    parsed = kconfig.parse((QUIRKS / "networking-hand-edited.config").read_text())
    problems = {p.line: p.reason for p in parsed.problems}
    assert sorted(problems) == [7, 11, 12, 13, 15, 60, 61, 63]
    assert "leading blanks" in problems[7]
    assert problems[12] == "empty value"
    assert "comment" in problems[60]
    assert "without '=value'" in problems[61]
    assert problems[63] == "unterminated string"
    options = kconfig.as_dict(parsed)
    assert "CONFIG_INET_UDP_DIAG" not in options  # kconfig would not set it either
    assert "CONFIG_PACKET_DIAG" not in options
    assert options["CONFIG_UNIX_DIAG"].value == "m"
    assert all(p.text for p in parsed.problems)


def test_later_line_wins_as_in_kconfig():
    parsed = kconfig.parse("CONFIG_INET_DIAG=m\n# CONFIG_INET_DIAG is not set\nCONFIG_INET_DIAG=y\n")
    assert [o.value for o in parsed.records] == ["m", None, "y"]
    assert kconfig.as_dict(parsed)["CONFIG_INET_DIAG"].line == 3


def test_empty_input():
    parsed = kconfig.parse("")
    assert parsed.records == [] and parsed.problems == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(list('CONFIG_=#ymn "\\\t\r\n') + [" is not set", "CONFIG_X", "\x00", "é"]), max_size=120
    ).map("".join)
)
def test_fuzz_never_raises_and_accounts_for_every_line(text):
    parsed = kconfig.parse(text)
    taken = {o.line for o in parsed.records} | {p.line for p in parsed.problems}
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip() and not line.startswith("#"):
            assert number in taken, line
