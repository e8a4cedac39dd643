"""The probe's `slab_conntrack` section: the conntrack table's fill and the network slab caches.

Where a router's memory goes when socket buffers are not it. One `grep -H`
over the conntrack sysctls and /proc/slabinfo, so every line starts with its
file; as printed on this development machine (Debian 12, kernel 6.18;
tests/fixtures/debian-12-sections/slab-conntrack.out):

    /proc/sys/net/netfilter/nf_conntrack_count:0
    /proc/sys/net/netfilter/nf_conntrack_max:262144
    /proc/slabinfo:slabinfo - version: 2.1
    /proc/slabinfo:# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables ...
    /proc/slabinfo:TCP                   92    143   2368   13    8 : tunables    0    0    0 : slabdata     11     11      0
    /proc/slabinfo:skbuff_head_cache    277    384    256   16    1 : tunables    0    0    0 : slabdata     24     24      0

1. Conntrack: nf_conntrack_count and nf_conntrack_max under
   /proc/sys/net/netfilter (Linux 2.6.15+), or ip_conntrack_count/_max under
   /proc/sys/net/ipv4/netfilter on older kernels. None of them: the kernel
   has no conntrack (or its module is not loaded).
2. The /proc/slabinfo lines (version 2.1, SLAB and SLUB alike) of the caches
   that hold network memory: skbuff_* (packet heads and, since Linux 6.6,
   small packet data in skbuff_small_head), the socket caches (TCP, UDP,
   UNIX, RAW and their v6 twins, tw_sock_*, request_sock_*,
   sock_inode_cache) and nf_conntrack. /proc/slabinfo is mode 0400: a
   non-root probe gets "Permission denied" on stderr and no lines; kernels
   without CONFIG_SLUB_DEBUG have no file at all.
   Bytes held by a cache = num_slabs * pagesperslab * page size.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.records import Parsed, ParseProblem, SectionStatus


@dataclass(frozen=True, slots=True)
class Conntrack:
    key: str  # "count" or "max"
    value: int
    path: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class SlabCache:
    name: str
    active_objs: int
    num_objs: int
    objsize: int  # bytes
    objperslab: int
    pagesperslab: int
    active_slabs: int
    num_slabs: int
    line: int = 0

    def pages(self) -> int:
        return self.num_slabs * self.pagesperslab


@dataclass(slots=True)
class SlabConntrack(Parsed[Conntrack | SlabCache]):
    """The records, and whether /proc/slabinfo was read (from the section's SectionStatus too)."""

    slabinfo: str = "absent"  # "read", "denied" (not root), "absent" (no such file)


def parse(text: str, status: SectionStatus | None = None) -> SlabConntrack:
    status = status or SectionStatus()
    result = SlabConntrack()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        path, sep, rest = line.partition(":")
        if not sep or not path.startswith("/proc/"):
            result.problems.append(ParseProblem(number, line[:300], "not 'PATH:LINE' as grep -H prints it"))
            continue
        if path.startswith("/proc/sys/"):
            base = path.rsplit("/", 1)[-1]
            key = base.rsplit("_", 1)[-1]
            if key in ("count", "max") and "conntrack_" in base and rest.strip().isdigit():
                result.records.append(Conntrack(key, int(rest.strip()), path, number))
                continue
        elif rest.startswith(("slabinfo - version", "# name")):
            continue
        words = rest.split()
        # name active num objsize perslab pagesperslab : tunables a b c : slabdata active num shared
        if len(words) >= 15 and words[6] == ":" and words[7] == "tunables" and words[11] == ":":
            numbers = [words[i] for i in (1, 2, 3, 4, 5, 13, 14)]
            if all(n.isdigit() for n in numbers):
                a, n, size, per, pages, act_slabs, slabs = (int(x) for x in numbers)
                result.records.append(SlabCache(words[0][:64], a, n, size, per, pages, act_slabs, slabs, number))
                continue
        result.problems.append(ParseProblem(number, line[:300], "not a conntrack sysctl nor a slabinfo 2.1 line"))
    result.slabinfo = _slabinfo(text, status.stderr, any(isinstance(r, SlabCache) for r in result.records))
    return result


def _slabinfo(text: str, stderr: str, caches: bool) -> str:
    if caches:
        return "read"
    if "ermission denied" in stderr:
        return "denied"
    if "No such file" in stderr or "can't open" in stderr:
        return "absent"
    return "read" if "/proc/slabinfo:" in text else "absent"
