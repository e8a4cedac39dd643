"""The kernel's view of socket memory: sockstat pages against tcp_mem / udp_mem, and MemTotal.

/proc/net/sockstat counts TCP and UDP memory in pages (`mem`), and the limits
in /proc/sys/net/ipv4/tcp_mem and udp_mem are pages too: three numbers, min,
pressure and max. Past `pressure` the kernel starts to shrink buffers; at
`max` new allocations fail (TCPAbortOnMemory, RcvbufErrors). Bytes = pages *
the device's page size (getconf PAGESIZE; 4096 when the device did not say).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from kit.capture import SectionOutput
from kit.parsers import meminfo
from kit.records import Parsed

DEFAULT_PAGE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Limits:
    min: int  # pages
    pressure: int
    max: int


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class KernelMemory:
    page_size: int
    page_size_known: bool
    mem_total: int | None  # bytes
    mem_available: int | None
    tcp: ProtoMemory
    udp: ProtoMemory

    def bytes(self, pages: int | None) -> int | None:
        return None if pages is None else pages * self.page_size


def _limits(section: SectionOutput | None) -> Limits | None:
    if section is None or not section.ok:
        return None
    words = section.text.split()
    if len(words) != 3 or not all(w.isdigit() for w in words):
        return None
    return Limits(*(int(w) for w in words))


def analyse(sections: Mapping[str, SectionOutput], parsed: Mapping[str, Parsed]) -> KernelMemory:
    page = sections.get("pagesize")
    page_text = page.text.strip() if page and page.ok else ""
    page_size = int(page_text) if page_text.isdigit() and int(page_text) > 0 else DEFAULT_PAGE_SIZE
    mem = meminfo.as_dict(parsed["meminfo"]) if "meminfo" in parsed else {}
    stat = {r.protocol: r.counters for r in parsed["sockstat"].records} if "sockstat" in parsed else {}
    return KernelMemory(
        page_size=page_size,
        page_size_known=page_text.isdigit(),
        mem_total=mem.get("MemTotal"),
        mem_available=mem.get("MemAvailable"),
        tcp=ProtoMemory("TCP", stat.get("TCP", {}).get("mem"), _limits(sections.get("tcp_mem"))),
        udp=ProtoMemory("UDP", stat.get("UDP", {}).get("mem"), _limits(sections.get("udp_mem"))),
    )
