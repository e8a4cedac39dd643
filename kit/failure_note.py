"""A failure note: the file that stands for a device nobody could reach, so it still gets a row in the index.

`kit render` reads captures; a device that was never reached has none. A
tool that collects for kit (contrib/ansible/collect.yml) writes this note
in its place, and `kit render` lists it in the index as failed, with the exit
code and the reason (docs/fleet.md):

    KIT-FAILED 1
    {"target": "ap-b1", "exit": 3, "error": "Failed to connect to the host via ssh: ... Connection refused"}

The first line is the magic; the second is one JSON object: `target` (the
device's name, as the tool knows it), `exit` (the code a single collect would
have returned: 3 not reached / not logged in) and `error` (one line).
Everything in it came from outside kit: it is bounded, checked, and shown only
as text.
"""

from __future__ import annotations

import json
from pathlib import Path

from kit.frozen import frozen

MAGIC = b"KIT-FAILED 1\n"
MAX_BYTES = 64 * 1024
ERROR_CHARS = 2000


@frozen
class FailureNote:
    target: str
    exit: int
    error: str


def encode(note: FailureNote) -> bytes:
    body = {"target": note.target, "exit": note.exit, "error": note.error}
    return MAGIC + json.dumps(body, ensure_ascii=True).encode("ascii") + b"\n"


def read(path: Path) -> FailureNote | None:
    """The note in `path`, or None when the file is not one (or cannot be read: the caller reports that)."""
    # Only a regular file can be a note: peeking at a FIFO or stdin would eat what the renderer reads.
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    if not data.startswith(MAGIC):
        return None
    try:
        body = json.loads(data[len(MAGIC) :].decode("utf-8", errors="replace"))
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return FailureNote(str(path), 3, "failure note without its JSON line")
    code = body.get("exit")
    error = " ".join(str(body.get("error") or "not reached").split())[:ERROR_CHARS]
    return FailureNote(
        target=str(body.get("target") or path)[:300],
        exit=code if isinstance(code, int) and not isinstance(code, bool) and 0 < code < 256 else 3,
        error=error,
    )
