"""Render the device-side probe: the framing in probes/probe.sh plus one line per section."""

from __future__ import annotations

import re

from kit import __version__
from kit.sections import SECTIONS, SS_WORKS, UNLESS_SS, Section

TOKEN_PREFIX = "KIT"
# The probe's first line, `\n<token> KIT-PROBE 1 <version>` (probes/probe.sh):
# how the output of a probe run by hand is recognised and its token read back.
PROBE_START = re.compile(r"(?P<token>KIT[0-9a-f]{24}) KIT-PROBE 1 (?P<version>[0-9A-Za-z.+_-]{1,40})")


def new_token() -> str:
    """A per-run token: device output cannot guess it, so it cannot forge a section boundary."""
    import secrets  # here, as resources below: kit render reads captures without loading them (~4 ms)

    return TOKEN_PREFIX + secrets.token_hex(12)


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# `cat FILE...` of plain paths, or of a quoted path holding the kernel release.
_PATH = r'(?:/[A-Za-z0-9_./+-]+|"/[A-Za-z0-9_./+-]*\$\(uname -r\)[A-Za-z0-9_./+-]*")'
_CAT = re.compile(rf"cat((?: {_PATH})+)")
# The run's kernel release, read once by the probe (probes/probe.sh).
_RELEASE = ("$(uname -r)", "$kit_release")


def _kernel_paths(command: str) -> list[str] | None:
    """The /proc files a `cat` command reads (the kernel makes them on each read); None: not such a command."""
    cat = _CAT.fullmatch(command)
    paths = cat.group(1).split() if cat else []
    return paths if paths and all(p.startswith("/proc/") for p in paths) else None


def _fallback(section: Section) -> tuple[bool, str]:
    """Whether the row runs only without a working ss, and its command without that check."""
    if section.command.startswith(UNLESS_SS):
        return True, section.command[len(UNLESS_SS) :]
    return False, section.command


def _section_line(section: Section) -> str:
    # max_bytes + 1: the reader sees one byte more than allowed when output was cut.
    name, limit = _sh_quote(section.name), section.max_bytes + 1
    fallback, command = _fallback(section)
    command = command.replace(*_RELEASE)
    cat = _CAT.fullmatch(command.replace(_RELEASE[1], _RELEASE[0]))
    if cat and not fallback:
        return f"kit_file {name} {section.timeout} {limit}{cat.group(1).replace(*_RELEASE)}"
    if fallback:
        return f"kit_unless_ss {name} {section.timeout} {limit} {_sh_quote(command)}"
    if section.self_bounded:
        return f"kit_run {name} {section.timeout} {_sh_quote(command)}"
    return f"kit_section {name} {section.timeout} {limit} {_sh_quote(command)}"


def _lines(sections: tuple[Section, ...]) -> list[str]:
    """One probe line per section; consecutive /proc file rows (fallbacks apart) on one kit_kernel_files line."""
    lines: list[str] = []
    group: list[str] = []
    group_fallback = False
    for section in sections:
        fallback, command = _fallback(section)
        paths = _kernel_paths(command)
        if group and (paths is None or fallback != group_fallback):
            lines.append(" ".join(group))
            group = []
        if paths is None:
            lines.append(_section_line(section))
            continue
        if not group:
            group = ["kit_unless_ss_kernel_files" if fallback else "kit_kernel_files"]
            group_fallback = fallback
        group += [_sh_quote(section.name), str(section.max_bytes + 1), str(len(paths)), *paths]
    if group:
        lines.append(" ".join(group))
    return lines


_DIRECTIVE = re.compile(r"# shellcheck disable=([A-Z0-9,]+)")


def _compact(frame: str) -> str:
    """probes/probe.sh without its comments and indentation: less for a slow router to receive and parse.

    Its first line and the one naming the probe stay; the shellcheck directives
    become one for the whole script. No line of the frame starts with `#`
    inside a quoted string (the awk program's lines do not).
    """
    lines = frame.splitlines()
    codes: dict[str, None] = {}
    kept: list[str] = []
    for line in lines[1:]:
        text = line.strip()
        directive = _DIRECTIVE.match(text)
        if directive:
            codes.update(dict.fromkeys(directive.group(1).split(",")))
        elif text.startswith("# kit probe ") or (text and not text.startswith("#")):
            kept.append(text)
    head = [lines[0], f"# shellcheck disable={','.join(codes)}"] if codes else [lines[0]]
    return "\n".join(head + kept) + "\n"


def render_probe(token: str | None = None, sections: tuple[Section, ...] = SECTIONS) -> str:
    """The complete probe script for one run, as text."""
    from importlib import resources

    frame = _compact(resources.files("kit.probes").joinpath("probe.sh").read_text(encoding="utf-8"))
    body = "\n".join(_lines(sections))
    return (
        frame.replace("@KIT_TOKEN@", token or new_token())
        .replace("@KIT_VERSION@", __version__)
        .replace("@KIT_SS_WORKS@", SS_WORKS)
        .replace("@KIT_SECTIONS@", body)
    )
