"""What a raw paste from a ticket is, so `kit render` knows which parser reads it.

    detect(text) -> section name (a name in kit.sections, read by that row's parser)

A paste is judged on its first 200 non-blank lines, by the header lines each
tool prints (the content of rows is too varied to vote on):

- "ss": iproute2 ss, any version: a header with `Recv-Q` and `Send-Q` and
  `Local Address`, or (headerless) rows whose first word is an ss Netid or
  socket state followed by two numbers. This is also the fallback: the ss
  parser reports every line it cannot read, which is the most useful answer
  for text we do not recognise.
"""
from __future__ import annotations

_SCAN_LINES = 200


def detect(text: str) -> str:
    """The section name to parse `text` as; "ss" when nothing else fits."""
    seen = 0
    for line in text.split("\n"):
        s = line.strip()
        if not s:
            continue
        seen += 1
        if seen > _SCAN_LINES:
            break
        if "Recv-Q" in s and "Send-Q" in s and "Local" in s:
            return "ss"
    return "ss"
