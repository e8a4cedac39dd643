"""/proc/net/netstat and /proc/net/snmp: protocol counters as header/value line pairs.

Both files print each group as two lines with the same prefix: the first
names the counters, the second holds their values, in the same order
(net/ipv4/proc.c, `netstat_seq_show` and `snmp_seq_show`):

    TcpExt: SyncookiesSent SyncookiesRecv ... PruneCalled RcvPruned OfoPruned ...
    TcpExt: 0 0 ... 0 0 0 ...
    Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors ...
    Udp: 35 0 0 36 0 0 ...

Quirks:
- Values can be negative: `Tcp: ... MaxConn` is -1 (net/ipv4/proc.c prints it
  signed), so a value is any optional minus sign and digits.
- Groups differ by kernel: 2.6 has no TCPMemoryPressuresChrono, 6.x adds
  TCPAO*; MPTcpExt and IcmpMsg exist only on some kernels. Names are kept as
  printed, nothing is assumed about which are present.
- `IcmpMsg:` names its counters after the ICMP types seen (InType3 ...), so
  its header changes between captures of the same device.
- The last line may lack its newline (the kernel prints none after UdpLite on
  some versions), and a capture cut mid-file can end after a header line: that
  header is a problem, not a group of zeros.

Each group becomes one `CounterGroup` (the file's group name, e.g. "TcpExt",
"Udp", and its counters by name). A header without its value line, a value
line whose count differs from its header, or a value that is not a number is
a ParseProblem; the other groups are still read.
"""

from __future__ import annotations

import re

from kit.frozen import frozen
from kit.records import Parsed, ParseProblem

_NUMBER = re.compile(r"-?\d+\Z")


@frozen
class CounterGroup:
    group: str  # "TcpExt", "IpExt", "Udp", "Tcp" ...
    counters: dict[str, int]
    line: int = 0  # line of the header


def parse(text: str) -> Parsed[CounterGroup]:
    result: Parsed[CounterGroup] = Parsed()
    pending: tuple[int, str, str, list[str]] | None = None  # header: number, line, group, names

    def flush_pending() -> None:
        if pending is not None:
            result.problems.append(ParseProblem(pending[0], pending[1][:300], "counter names without a value line"))

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        group, sep, rest = line.partition(":")
        group = group.strip()
        words = rest.split()
        if not sep or not group or " " in group or not words:
            flush_pending()
            pending = None
            result.problems.append(ParseProblem(number, line[:300], "not 'Group: name ...' or 'Group: value ...'"))
            continue
        is_values = all(_NUMBER.match(w) for w in words)
        if pending is not None and pending[2] == group and is_values:
            names = pending[3]
            if len(names) != len(words):
                result.problems.append(
                    ParseProblem(pending[0], pending[1][:300], "counter names whose value line does not match")
                )
                result.problems.append(
                    ParseProblem(number, line[:300], f"{len(words)} values for {len(names)} counter names")
                )
            else:
                result.records.append(CounterGroup(group, dict(zip(names, map(int, words), strict=False)), pending[0]))
            pending = None
            continue
        flush_pending()
        if is_values:
            pending = None
            result.problems.append(ParseProblem(number, line[:300], "values without a line of counter names"))
        elif any(_NUMBER.match(w) for w in words):
            pending = None
            result.problems.append(ParseProblem(number, line[:300], "a value is not a number"))
        else:
            pending = (number, line, group, words)
    flush_pending()
    return result


def as_dict(parsed: Parsed[CounterGroup]) -> dict[str, dict[str, int]]:
    """{group: {counter: value}}; a group printed twice keeps its first values."""
    out: dict[str, dict[str, int]] = {}
    for rec in parsed.records:
        out.setdefault(rec.group, dict(rec.counters))
    return out
