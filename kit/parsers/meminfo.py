"""/proc/meminfo: `Key:   value [kB]` lines.

    MemTotal:         124144 kB
    MemAvailable:      61248 kB
    HugePages_Total:       0

Values with `kB` are converted to bytes; bare numbers (HugePages_*) are kept
as counts. Busybox and glibc systems print the same format (it is the
kernel's).
"""

from __future__ import annotations

from kit.frozen import frozen
from kit.numbers import is_digits
from kit.records import Parsed, ParseProblem


@frozen
class MemValue:
    key: str
    value: int  # bytes when the kernel printed kB, else a count
    unit: str  # "bytes" or "count"
    line: int = 0


def parse(text: str) -> Parsed[MemValue]:
    result: Parsed[MemValue] = Parsed()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or not key.strip() or not fields or not is_digits(fields[0]):
            result.problems.append(ParseProblem(number, line[:300], "not 'Key: value [kB]'"))
            continue
        if len(fields) > 1 and fields[1] == "kB":
            result.records.append(MemValue(key.strip(), int(fields[0]) * 1024, "bytes", number))
        else:
            result.records.append(MemValue(key.strip(), int(fields[0]), "count", number))
    return result


def as_dict(parsed: Parsed[MemValue]) -> dict[str, int]:
    return {r.key: r.value for r in parsed.records}
