"""What a section's command says on stderr, read the same way for every section's parser.

The probe keeps each command's stderr (kit.capture.STDERR_LIMIT); the
parsers that take a SectionStatus read it with these helpers, so the
analysis never sees stderr text: busybox and GNU wording of a missing or
unreadable file, the first line worth quoting, and the file errors a
command named (FileComplaints).
"""

from __future__ import annotations

import re

from kit.frozen import frozen
from kit.sections import MARKER

_MISSING = re.compile(r"No such file|not found|can't open", re.I)
_COMPLAINT = re.compile(r"No such file|Permission denied|Operation not permitted")


def says_missing(stderr: str | None) -> bool:
    """A command's stderr says the file (or the command) is not there: ls, cat, grep, busybox and GNU wording."""
    return bool(_MISSING.search(stderr or ""))


def first_line(text: str, limit: int = 120) -> str:
    """The first non-blank stderr line that is not one of kit's own `# kit:` marker lines, stripped and bounded."""
    for ln in (text or "").splitlines():
        if ln.strip() and not ln.startswith(MARKER.rstrip()):
            return ln.strip()[:limit]
    return ""


@frozen
class FileComplaints:
    """The stderr lines in which a command said it could not read a file (absent, or refused)."""

    lines: tuple[str, ...] = ()

    @classmethod
    def of(cls, stderr: str | None) -> FileComplaints:
        # split on "\n" only: the patterns below stop at "\n" and nowhere else
        return cls(tuple(ln for ln in (stderr or "").split("\n") if _COMPLAINT.search(ln)))

    def refuses(self, path: str) -> bool:
        """The command said it may not read `path` (Permission denied, Operation not permitted)."""
        pattern = re.compile(re.escape(path) + r".*(Permission denied|Operation not permitted)")
        return any(pattern.search(ln) for ln in self.lines)

    def error(self, prefix: str) -> tuple[str, str] | None:
        """The first file starting with `prefix` the command said it could not read, and why:
        "absent", "permission denied" or "operation not permitted"; None: it names none."""
        pattern = re.compile(
            r"(" + re.escape(prefix) + r"\S*)[^\n]*?(No such file|Permission denied|Operation not permitted)"
        )
        for ln in self.lines:
            m = pattern.search(ln)
            if m is not None:
                return m.group(1).rstrip(":"), "absent" if m.group(2) == "No such file" else m.group(2).lower()
        return None
