"""`ss -s`: the socket summary, as iproute2 3.x-6.x prints it.

iproute2 6.1 (tests/fixtures/debian-12/ss-s.out)::

    Total: 58
    TCP:   34 (estab 15, closed 11, orphaned 0, timewait 2)

    Transport Total     IP        IPv6
    RAW	  1         1         0
    UDP	  6         5         1
    TCP	  23        19        4

iproute2 3.0-4.x (tests/fixtures/debian-12/iproute2-4.4.0-ss-s.out) adds the
kernel's own count and more TCP states::

    Total: 19 (kernel 186)
    TCP:   115 (estab 2, closed 105, orphaned 0, synrecv 0, timewait 105/0), ports 0

Records reuse Sockstat (protocol -> counters): "Total" {total, kernel?},
"TCP" {total, estab, closed, orphaned, synrecv?, timewait, ports?} from the
second line, and one record per transport row {total, ip, ipv6} with the
protocol suffixed "/transport" ("TCP/transport") so it does not clash with the
TCP line. `timewait 105/0` keeps the first number (sockets; the second is
the kernel's timewait bucket count).
"""

from __future__ import annotations

import re

from kit.records import Parsed, ParseProblem, Sockstat

_TOTAL = re.compile(r"Total:\s+(\d+)(?:\s+\(kernel (\d+)\))?\s*$")
_TCP = re.compile(r"TCP:\s+(\d+)\s+\(([^)]*)\)(?:,\s*ports (\d+))?\s*$")
_PAIR = re.compile(r"([a-z]+) (\d+)(?:/\d+)?")
# Old ss starts the table with a "*" row (all sockets the kernel has) whose
# IP and IPv6 columns are "-".
_ROW = re.compile(r"([A-Z0-9]+|\*)\s+(\d+)\s+(\d+|-)\s+(\d+|-)\s*$")


def parse(text: str) -> Parsed[Sockstat]:
    result: Parsed[Sockstat] = Parsed()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.split()[:2] == ["Transport", "Total"]:
            continue
        if m := _TOTAL.match(line):
            counters = {"total": int(m.group(1))}
            if m.group(2):
                counters["kernel"] = int(m.group(2))
            result.records.append(Sockstat("Total", counters, number))
        elif m := _TCP.match(line):
            counters = {"total": int(m.group(1))}
            counters.update({k: int(v) for k, v in _PAIR.findall(m.group(2))})
            if m.group(3):
                counters["ports"] = int(m.group(3))
            result.records.append(Sockstat("TCP", counters, number))
        elif m := _ROW.match(line):
            proto, total, ip4, ip6 = m.groups()
            counters = {"total": int(total)}
            counters.update({k: int(v) for k, v in (("ip", ip4), ("ipv6", ip6)) if v != "-"})
            result.records.append(Sockstat(f"{proto}/transport", counters, number))
        else:
            result.problems.append(ParseProblem(number, raw[:300], "not a line of ss -s"))
    return result
