"""The probe's pagesize section: the page size in bytes, one number.

    4096

The section prints it from getconf, /proc/self/smaps (KernelPageSize) or the
aux vector (AT_PAGESZ), and names which on stderr (kit.sections.SOURCE_MARKER).
A value that is not a positive number is a problem: sockstat and tcp_mem
count pages, and a wrong page size would scale every byte figure.
"""

from __future__ import annotations

from kit.numbers import is_digits
from kit.records import Parsed, ParseProblem


def parse(text: str) -> Parsed[int]:
    result: Parsed[int] = Parsed()
    value = text.strip()
    if is_digits(value) and int(value) > 0:
        result.records.append(int(value))
    elif value:
        result.problems.append(ParseProblem(1, value.splitlines()[0][:300], "not a page size in bytes"))
    return result
