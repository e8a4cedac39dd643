"""The kernel's view of socket memory: sockstat pages against tcp_mem / udp_mem, and MemTotal.

/proc/net/sockstat counts TCP and UDP memory in pages (`mem`), and the limits
in /proc/sys/net/ipv4/tcp_mem and udp_mem are pages too: three numbers, min,
pressure and max. Past `pressure` the kernel starts to shrink buffers; at
`max` new allocations fail (TCPAbortOnMemory, RcvbufErrors). Bytes = pages *
the device's page size (getconf PAGESIZE; 4096 when the device did not say).

Counters from /proc/net/netstat and /proc/net/snmp (kit.parsers.proc_counters)
that show memory trouble are picked out in WATCHED, with what each means. They
count since boot (per network namespace): a single capture shows that trouble
happened, two captures (kit diff) show whether it still does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from kit.frozen import frozen
from kit.parsers import meminfo, proc_counters, sockstat
from kit.records import Parsed

DEFAULT_PAGE_SIZE = 4096

# (group, counter, meaning): the counters that show socket memory trouble.
# Meanings from the kernel sources that bump them (net/ipv4/tcp_input.c,
# net/ipv4/udp.c, net/core/sock.c).
WATCHED: tuple[tuple[str, str, str], ...] = (
    ("TcpExt", "TCPMemoryPressures", "times TCP entered memory pressure (tcp_mem pressure reached)"),
    ("TcpExt", "TCPAbortOnMemory", "connections reset because TCP memory (tcp_mem max) or orphans ran out"),
    ("TcpExt", "PruneCalled", "times a socket's receive queue had to be collapsed to fit its buffer"),
    ("TcpExt", "RcvPruned", "packets dropped from receive queues after collapsing did not free enough"),
    ("TcpExt", "OfoPruned", "packets dropped from out-of-order queues to free memory"),
    ("TcpExt", "TCPRcvQDrop", "packets dropped because the receive queue could not get memory"),
    ("TcpExt", "ListenOverflows", "times a listener's accept queue was full"),
    ("TcpExt", "ListenDrops", "connection attempts dropped at a listener (all causes)"),
    ("Udp", "RcvbufErrors", "datagrams dropped because the socket's receive buffer was full"),
    ("Udp", "SndbufErrors", "datagrams not sent because the send buffer was full"),
    ("Udp", "InErrors", "datagrams dropped on receive for any reason (includes RcvbufErrors)"),
    ("Udp", "MemErrors", "datagrams dropped because UDP memory (udp_mem) ran out"),
)


@frozen
class Limits:
    min: int  # pages
    pressure: int
    max: int


@frozen
class ProtoMemory:
    protocol: str  # "TCP" or "UDP"
    pages: int | None  # sockstat mem
    limits: Limits | None  # tcp_mem / udp_mem

    def level(self) -> str:
        """'ok', 'pressure' (past the pressure threshold), 'max' (at the hard limit) or 'unknown'."""
        if self.pages is None or self.limits is None:
            return "unknown"
        if self.pages >= self.limits.max:
            return "max"
        if self.pages >= self.limits.pressure:
            return "pressure"
        return "ok"


@frozen
class KernelMemory:
    page_size: int
    page_size_known: bool
    mem_total: int | None  # bytes
    mem_available: int | None
    tcp: ProtoMemory
    udp: ProtoMemory
    # {group: {counter: value}} from /proc/net/netstat and /proc/net/snmp
    counters: dict[str, dict[str, int]] = field(default_factory=dict)

    def bytes(self, pages: int | None) -> int | None:
        return None if pages is None else pages * self.page_size

    def counter(self, group: str, name: str) -> int | None:
        return self.counters.get(group, {}).get(name)

    @property
    def watched(self) -> list[tuple[str, str, int, str]]:
        """(group, counter, value, meaning) for each WATCHED counter the device printed."""
        return [(g, n, self.counters[g][n], meaning) for g, n, meaning in WATCHED if n in self.counters.get(g, {})]


def _limits(parsed: Parsed[tuple[int, ...]] | None) -> Limits | None:
    """min, pressure, max from the tcp_mem / udp_mem parser (kit.parsers.sysctl_numbers)."""
    if parsed is None or len(parsed.records) != 1 or len(parsed.records[0]) != 3:
        return None
    return Limits(*parsed.records[0])


def analyse(parsed: Mapping[str, Parsed[Any]]) -> KernelMemory:
    page = parsed.get("pagesize")
    page_size: int = page.records[0] if page is not None and page.records else DEFAULT_PAGE_SIZE
    counters: dict[str, dict[str, int]] = {}
    for name in ("netstat_counters", "snmp"):
        result = parsed.get(name)
        if result is not None:
            for group, values in proc_counters.as_dict(result).items():
                counters.setdefault(group, values)
    mem = meminfo.as_dict(parsed["meminfo"]) if "meminfo" in parsed else {}
    stat = sockstat.as_dict(parsed["sockstat"]) if "sockstat" in parsed else {}
    return KernelMemory(
        page_size=page_size,
        page_size_known=page is not None and bool(page.records),
        mem_total=mem.get("MemTotal"),
        mem_available=mem.get("MemAvailable"),
        tcp=ProtoMemory("TCP", stat.get("TCP", {}).get("mem"), _limits(parsed.get("tcp_mem"))),
        udp=ProtoMemory("UDP", stat.get("UDP", {}).get("mem"), _limits(parsed.get("udp_mem"))),
        counters=counters,
    )
