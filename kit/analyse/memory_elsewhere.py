"""Where a device's memory is when socket buffers are not it: what a router gives cheaply.

- /proc/meminfo: MemTotal, MemAvailable (what can be had without swapping),
  Slab with its split into SReclaimable (caches the kernel can drop) and
  SUnreclaim (kernel objects in use: packet buffers, sockets, conntrack
  entries, ...). A device short of memory with a large SUnreclaim has it in
  the kernel; with a small one, in processes (or tmpfs / page cache).
- /proc/slabinfo (root only): the network caches among the slabs: skbuff_*
  (packet heads, small packet data), the socket caches (TCP, UDP, UNIX, ...,
  tw_sock_*, request_sock_*, sock_inode_cache) and nf_conntrack. Bytes =
  num_slabs * pagesperslab * page size.
- The conntrack table: nf_conntrack_count against nf_conntrack_max. Near the
  maximum the kernel drops new connections ("nf_conntrack: table full,
  dropping packet" in dmesg); each entry also costs slab memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.frozen import frozen
from kit.parsers.slab_conntrack import Conntrack, SlabCache, SlabConntrack
from kit.records import Parsed

CONNTRACK_NEAR_FULL = 0.80  # count >= 80% of max: a finding
SLAB_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("skbuff caches", ("skbuff",)),
    ("socket caches", ("TCP", "UDP", "UNIX", "RAW", "tw_sock", "request_sock", "sock_inode_cache")),
    ("nf_conntrack cache", ("nf_conntrack",)),
)


@frozen
class SlabGroup:
    label: str  # "skbuff caches"
    bytes: int
    caches: tuple[tuple[str, int], ...]  # (cache name, bytes), largest first


@frozen
class MemoryElsewhere:
    mem_total: int | None  # bytes
    mem_available: int | None
    slab: int | None
    sreclaimable: int | None
    sunreclaim: int | None
    conntrack_count: int | None
    conntrack_max: int | None
    slab_groups: tuple[SlabGroup, ...]
    # "read"; "denied" (not root); "absent" (no /proc/slabinfo); "not collected" (older capture)
    slabinfo: str

    @property
    def conntrack_share(self) -> float | None:
        if self.conntrack_count is None or not self.conntrack_max:
            return None
        return self.conntrack_count / self.conntrack_max

    @property
    def conntrack_near_full(self) -> bool:
        share = self.conntrack_share
        return share is not None and share >= CONNTRACK_NEAR_FULL

    @property
    def in_use(self) -> int | None:
        """MemTotal - MemAvailable: what the device cannot hand out now."""
        if self.mem_total is None or self.mem_available is None:
            return None
        return max(0, self.mem_total - self.mem_available)

    def share(self, value: int | None) -> float | None:
        if value is None or not self.mem_total:
            return None
        return value / self.mem_total


def _groups(caches: list[SlabCache], page_size: int) -> tuple[SlabGroup, ...]:
    out = []
    for label, prefixes in SLAB_GROUPS:
        members = [(c.name, c.pages() * page_size) for c in caches if c.name.startswith(prefixes)]
        if members:
            members.sort(key=lambda m: -m[1])
            out.append(SlabGroup(label, sum(b for _, b in members), tuple(members)))
    return tuple(out)


def analyse(parsed: Mapping[str, Parsed[Any]], mem: Mapping[str, int], page_size: int) -> MemoryElsewhere:
    section = parsed.get("slab_conntrack")
    records = section.records if section is not None else []
    caches = [r for r in records if isinstance(r, SlabCache)]
    track = {r.key: r.value for r in records if isinstance(r, Conntrack)}
    return MemoryElsewhere(
        mem_total=mem.get("MemTotal"),
        mem_available=mem.get("MemAvailable"),
        slab=mem.get("Slab"),
        sreclaimable=mem.get("SReclaimable"),
        sunreclaim=mem.get("SUnreclaim"),
        conntrack_count=track.get("count"),
        conntrack_max=track.get("max"),
        slab_groups=_groups(caches, page_size),
        slabinfo=section.slabinfo if isinstance(section, SlabConntrack) else "not collected",
    )
