"""Kernel configs: a full `.config` (/proc/config.gz, /boot/config-*, a build
tree's .config) or a defconfig / fragment (savedefconfig output, OpenWrt's
target/linux/*/config-* files).

Source: scripts/kconfig/confdata.c, conf_read_simple(). The format has three
kinds of line, and this parser reads them the way kconfig itself does:

    # Automatically generated file; DO NOT EDIT.        <- header (full .config only)
    # Linux/mips 6.1.176 Kernel Configuration
    CONFIG_INET_DIAG=m                                  <- NAME=value
    CONFIG_CMDLINE="console=ttyS0,115200"                  (strings keep their quotes)
    # CONFIG_INET_UDP_DIAG is not set                   <- an explicit "n"
    #                                                    <- any other comment: ignored

Field mapping: `KconfigOption(name, value, line)`; `value` is the text after
`=` exactly as written (`y`, `m`, `n`, `0x1000`, `"quoted"`), or None for
`# CONFIG_X is not set`. A name given twice keeps both records, in order:
kconfig lets the later line win (merge_config.sh fragments rely on it), and
so does `as_dict()`.

Lines kconfig would warn about and ignore are problems, not records, so an
option never looks set when the kernel build would not have set it:
`CONFIG_X` without `=`, an empty value, `CONFIG_X=y # comment` (kconfig
rejects the value), an unterminated string, leading blanks, and any other
text. CR at line ends (a config edited on Windows) is dropped silently, as
kconfig does.

Dialects (`dialect()`): a full .config starts with kconfig's header and lists
every visible option; a defconfig or fragment lists only what differs from
the Kconfig defaults, so an option it does not mention takes its default
(kit.analyse.kdiag knows the defaults of the options it reports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kit.parsers.command_stderr import FileComplaints, first_line
from kit.records import KconfigOption, Parsed, ParseProblem, SectionStatus
from kit.sections import SOURCE_MARKER

_NAME = re.compile(r"CONFIG_[A-Za-z0-9_]+\Z")
_NOT_SET = re.compile(r"# (CONFIG_[A-Za-z0-9_]+) is not set\Z")
_BARE_VALUE = re.compile(r"[^\s\"#]+\Z")
_MAX_TEXT = 300  # a problem keeps at most this much of its line
_HEADER = re.compile(
    r"^# (Automatically generated file; DO NOT EDIT\.|Automatically generated make config"
    r"|Linux/\S+ \S+ Kernel Configuration|Linux kernel version:)",
    re.M,
)


@dataclass(slots=True)
class ConfigText(Parsed[KconfigOption]):
    """The options, and what the probe's kconfig section said about the text (its SectionStatus)."""

    dialect: str = "config"  # dialect(text)
    source: str | None = None  # the file the probe read (its SOURCE_MARKER line); None: not said
    cut: bool = False  # the section was cut off or truncated: an option after the cut is unknown
    said: str = ""  # the first line the commands wrote on stderr (command_stderr.first_line)
    complaints: FileComplaints = FileComplaints()  # the config files the commands could not read


def parse(text: str, status: SectionStatus | None = None) -> ConfigText:
    """`status`: the probe's kconfig section's (kit.report.parse_section); None for a config file."""
    status = status or SectionStatus()
    result = ConfigText(
        dialect=dialect(text),
        source=source(status.stderr),
        cut=not status.complete or status.truncated,
        said=first_line(status.stderr),
        complaints=FileComplaints.of(status.stderr),
    )
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("#"):
            m = _NOT_SET.match(line.rstrip())
            if m:
                result.records.append(KconfigOption(m.group(1), None, number))
            # Any other comment is a comment (section titles, the header).
            continue
        option, problem = _assignment(line.rstrip(" \t"))
        if problem:
            result.problems.append(ParseProblem(number, line[:_MAX_TEXT], problem))
        else:
            name, value = option
            result.records.append(KconfigOption(name, value, number))
    return result


def _assignment(line: str) -> tuple[tuple[str, str], str]:
    if line[0] in " \t":
        return ("", ""), "leading blanks: kconfig ignores this line"
    name, sep, value = line.partition("=")
    if not name.startswith("CONFIG_"):
        return ("", ""), "not a CONFIG_ line or a comment"
    if not sep:
        return ("", ""), "option without '=value'"
    if not _NAME.match(name):
        return ("", ""), f"{name[:60]!r} is not a CONFIG_ option name"
    if not value:
        return ("", ""), "empty value"
    if value.startswith('"'):
        end = _string_end(value)
        if end is None:
            return ("", ""), "unterminated string"
        if end != len(value) - 1:
            return ("", ""), "text after the closing quote"
        return (name, value), ""
    if not _BARE_VALUE.match(value):
        return ("", ""), "value with blanks, quotes or a comment: kconfig rejects it"
    return (name, value), ""


def _string_end(value: str) -> int | None:
    """Index of the quote closing the string that starts at value[0], honouring backslashes."""
    i = 1
    while i < len(value):
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i
        i += 1
    return None


def dialect(text: str) -> str:
    """'config' for a full .config (kconfig's header is there), else 'defconfig'."""
    return "config" if _HEADER.search(text[:4096]) else "defconfig"


def as_dict(parsed: Parsed[KconfigOption]) -> dict[str, KconfigOption]:
    """NAME -> the option's last line (kconfig lets the later line win)."""
    return {o.name: o for o in parsed.records}


def unquote(value: str) -> str:
    """A string value without its quotes and backslash escapes ('"a\\"b"' -> 'a"b')."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


_SOURCE = re.compile("^" + re.escape(SOURCE_MARKER) + "(.+)$", re.M)


def source(stderr: str | None) -> str | None:
    """The file the probe's kconfig section read, from the SOURCE_MARKER line it writes on stderr
    (kit.sections); None when the section did not say."""
    m = _SOURCE.search(stderr or "")
    return m.group(1).strip() if m else None
