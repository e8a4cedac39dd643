"""/proc/net/sockstat and /proc/net/sockstat6: one protocol per line, key/value pairs.

    sockets: used 178
    TCP: inuse 7 orphan 0 tw 3 alloc 9 mem 2
    UDP: inuse 4 mem 3
    UDPLITE: inuse 0
    RAW: inuse 0
    FRAG: inuse 0 memory 0

`mem` for TCP and UDP is in pages (multiply by the page size); FRAG's `memory`
is bytes. sockstat6 has the same shape with TCP6, UDP6, ... and no `mem`.
"""

from __future__ import annotations

from kit.numbers import is_digits
from kit.records import Parsed, ParseProblem, Sockstat


def parse(text: str) -> Parsed[Sockstat]:
    result: Parsed[Sockstat] = Parsed()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        proto, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or not proto.strip() or len(fields) % 2 or not fields:
            result.problems.append(ParseProblem(number, line[:300], "not 'PROTO: key value ...'"))
            continue
        pairs = dict(zip(fields[::2], fields[1::2], strict=False))
        if not all(is_digits(v) for v in pairs.values()):
            result.problems.append(ParseProblem(number, line[:300], "a value is not a number"))
            continue
        result.records.append(Sockstat(proto.strip(), {k: int(v) for k, v in pairs.items()}, number))
    return result


def as_dict(parsed: Parsed[Sockstat]) -> dict[str, dict[str, int]]:
    """{protocol: {counter: value}}; a protocol printed twice keeps its last line."""
    return {rec.protocol: dict(rec.counters) for rec in parsed.records}
