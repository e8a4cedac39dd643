"""/proc/sys/kernel/hostname: the device's name, one line (at most 253 characters are kept: a DNS name's limit)."""

from __future__ import annotations

from kit.records import Parsed

MAX_NAME = 253


def parse(text: str) -> Parsed[str]:
    result: Parsed[str] = Parsed()
    name = text.strip()[:MAX_NAME]
    if name:
        result.records.append(name)
    return result
