"""Render the device-side probe: the framing in probes/probe.sh plus one line per section."""

from __future__ import annotations

import re
import secrets
from importlib import resources

from kit import __version__
from kit.sections import SECTIONS, SS_WORKS, UNLESS_SS, Section

TOKEN_PREFIX = "KIT"
# The probe's first line, `\n<token> KIT-PROBE 1 <version>` (probes/probe.sh):
# how the output of a probe run by hand is recognised and its token read back.
PROBE_START = re.compile(r"(?P<token>KIT[0-9a-f]{24}) KIT-PROBE 1 (?P<version>[0-9A-Za-z.+_-]{1,40})")


def new_token() -> str:
    """A per-run token: device output cannot guess it, so it cannot forge a section boundary."""
    return TOKEN_PREFIX + secrets.token_hex(12)


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# `cat FILE...` of plain paths: read without a shell per section (probes/probe.sh).
_CAT = re.compile(r"cat((?: /[A-Za-z0-9_./+-]+)+)")
# /proc files are read without a watchdog (the kernel answers at once). A
# fallback for devices without ss is skipped by the probe's shell when the
# ss section worked.


def _section_line(section: Section) -> str:
    # max_bytes + 1: the reader sees one byte more than allowed when output was cut.
    name, limit = _sh_quote(section.name), section.max_bytes + 1
    cat = _CAT.fullmatch(section.command)
    if cat:
        paths = cat.group(1).split()
        if all(p.startswith("/proc/") for p in paths):
            return f"kit_kernel_file {name} {limit} {' '.join(paths)}"
        return f"kit_file {name} {section.timeout} {limit} {' '.join(paths)}"
    if section.command.startswith(UNLESS_SS):
        command = section.command[len(UNLESS_SS) :]
        return f"kit_unless_ss {name} {section.timeout} {limit} {_sh_quote(command)}"
    return f"kit_section {name} {section.timeout} {limit} {_sh_quote(section.command)}"


def render_probe(token: str | None = None, sections: tuple[Section, ...] = SECTIONS) -> str:
    """The complete probe script for one run, as text."""
    frame = resources.files("kit.probes").joinpath("probe.sh").read_text(encoding="utf-8")
    body = "\n".join(_section_line(s) for s in sections)
    return (
        frame.replace("@KIT_TOKEN@", token or new_token())
        .replace("@KIT_VERSION@", __version__)
        .replace("@KIT_SS_WORKS@", SS_WORKS)
        .replace("@KIT_SECTIONS@", body)
    )
