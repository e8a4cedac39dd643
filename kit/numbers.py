"""Numbers in device text: ASCII digits only.

`str.isdigit()` is True for "²", "①" and other digits `int()` refuses
('1²3'.isdigit() is True, int('1²3') raises), and `int()` itself reads any
Unicode decimal ("٣" is 3). A device can print either, by accident or on
purpose; kit reads a number only when it is spelled in ASCII.
"""

from __future__ import annotations


def is_digits(text: str) -> bool:
    """True when `text` is one or more ASCII digits (nothing else)."""
    return text.isascii() and text.isdigit()


def to_int(text: str) -> int | None:
    """ASCII digits (with an optional leading '-') as an int; anything else is None."""
    body = text[1:] if text.startswith("-") else text
    return int(text) if is_digits(body) else None
