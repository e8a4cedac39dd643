"""Helpers of the hostile-device tests: kit's path, the bytes that must never reach a terminal."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

KIT = str(Path(sys.executable).with_name("kit"))
# Bytes that must never reach a terminal from kit's messages: C0 but newline, DEL,
# and the UTF-8 of C1 controls and the bidi/format characters.
FORBIDDEN = [bytes([c]) for c in range(32) if c != 10] + [b"\x7f"]
FORBIDDEN += [chr(c).encode() for c in range(0x80, 0xA0)]
FORBIDDEN += [chr(c).encode() for c in (0x061C, *range(0x200B, 0x2010), *range(0x2028, 0x202F), *range(0x2060, 0x206A))]


def control_bytes(data: bytes) -> list[bytes]:
    return [b for b in FORBIDDEN if b in data]


@dataclass
class Ran:
    code: int
    out: bytes
    err: bytes

    @property
    def line(self) -> str:
        """The one stderr line (asserts there is exactly one, and that it is inert)."""
        assert self.err.count(b"\n") == 1 and self.err.endswith(b"\n"), self.err
        assert b"Traceback" not in self.err
        assert control_bytes(self.err) == [], self.err
        return self.err.decode()
