"""The output of `id` on the device: who ran the probe.

    uid=0(root) gid=0(root) groups=0(root)

ss -p shows other users' processes only to root, so the report says when the
probe did not run as uid 0. The text is kept (bounded) as the device said it.
"""

from __future__ import annotations

from kit.frozen import frozen
from kit.records import Parsed

MAX_TEXT = 300


@frozen
class Identity:
    text: str  # the line id printed, at most MAX_TEXT characters
    root: bool  # uid=0


def parse(text: str) -> Parsed[Identity]:
    result: Parsed[Identity] = Parsed()
    who = text.strip()[:MAX_TEXT]
    if who:
        result.records.append(Identity(who, who.startswith("uid=0(")))
    return result
