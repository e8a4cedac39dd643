"""One line of numbers from /proc/sys: tcp_mem, udp_mem (pages), tcp_rmem, tcp_wmem (bytes).

    $ cat /proc/sys/net/ipv4/tcp_mem
    18951	25270	37902                  <- min pressure max, in pages
    $ cat /proc/sys/net/ipv4/tcp_rmem
    4096	131072	6291456                <- min default max, in bytes

The record is the numbers in order (what they mean is the sysctl's); a line
with anything but ASCII digits is a problem, never a guess.
"""

from __future__ import annotations

from kit.numbers import is_digits
from kit.records import Parsed, ParseProblem


def parse(text: str) -> Parsed[tuple[int, ...]]:
    result: Parsed[tuple[int, ...]] = Parsed()
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if not all(is_digits(w) for w in words):
            result.problems.append(ParseProblem(number, line[:300], "not a line of numbers"))
            continue
        result.records.append(tuple(int(w) for w in words))
    return result
