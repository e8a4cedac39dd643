"""Text from a device or a file, made inert before it reaches a terminal or a JSON reader.

A host name, a process name, an SSH banner, an algorithm name or a kernel
config value can hold terminal escape sequences (ESC ] 52 writes the
clipboard, ESC ] 0 sets the window title, ESC [ 2 J clears the screen of
whoever reads the ticket) or Unicode bidi overrides that reorder what is
shown. Every message kit prints goes through `visible()` (or `one_line()`),
and JSON through `json_safe()`: such characters are shown as escapes
(`\\x1b`, `\\u202e`), never acted on.
"""

from __future__ import annotations

import re

# Characters that change how surrounding text is shown instead of being shown:
# C0/C1 controls (terminal escapes, NUL, CR), DEL, and the Unicode format
# characters that reorder or hide text (bidi embeddings/overrides/isolates,
# zero-width characters, line/paragraph separators, BOM, Arabic letter mark).
_FORMAT = "\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT}]")
CONTROL_EXCEPT_NEWLINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}]")
# json.dumps(ensure_ascii=False) escapes C0 but leaves DEL, C1 and the format characters raw.
JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_FORMAT}]")


def escape_char(ch: str) -> str:
    """The visible spelling of an invisible character: \\x1b, \\u202e."""
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, limit: int | None = None, keep_newlines: bool = False) -> str:
    """Device text made inert for a terminal (or any plain-text sink), cut to `limit` characters.

    With keep_newlines, "\\n" and "\\t" stay (multi-line text output); every
    other control character is escaped.
    """
    text = "" if value is None else str(value)
    cut = ""
    if limit is not None and len(text) > limit:
        cut = f"… (+{len(text) - limit} chars)"
        text = text[:limit]
    pattern = CONTROL_EXCEPT_NEWLINE if keep_newlines else CONTROL
    return pattern.sub(lambda m: escape_char(m.group()), text) + cut


def one_line(value: object) -> str:
    """A message for stderr: one line, every control character (newlines too) shown as an escape."""
    return visible(value)


def json_safe(dumped: str) -> str:
    """Escape what json.dumps(ensure_ascii=False) leaves raw: DEL, C1 controls, bidi and format characters.

    Takes JSON text (a whole document or any chunk of one: outside strings
    JSON is ASCII, so only string contents change) and returns JSON text that
    decodes to the same values.
    """
    if dumped.isascii() and "\x7f" not in dumped:
        return dumped  # the usual case, found in C: ~4x faster than the search
    return JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
