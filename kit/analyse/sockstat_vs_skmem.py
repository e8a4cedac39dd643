"""sockstat's memory pages next to the skmem sum over the listed sockets, and why they differ.

The kernel charges TCP and UDP memory to a per-protocol counter
(tcp_memory_allocated, udp_memory_allocated; net/core/sock.c
__sk_mem_raise_allocated), in pages, and /proc/net/sockstat prints it as
`mem`. What a socket has charged is its forward allocation plus what its
queues hold: for TCP r + w + f of its skmem (receive queue, write queue,
forward alloc), for UDP r + f (UDP sends are not charged to udp_mem). Summed
over the sockets ss listed, that should come near sockstat's figure, and
usually does not, for reasons the capture cannot always separate (REASONS).
"""

from __future__ import annotations

from collections.abc import Iterable

from kit.analyse.kernel_memory import KernelMemory
from kit.analyse.totals import Group
from kit.frozen import frozen

REASONS = (
    "sockstat counts every TCP/UDP socket of the kernel, in every network namespace (containers, VRFs); "
    "ss lists the probe's network namespace only.",
    "Since Linux 6.0 each CPU keeps up to 1 MiB of protocol memory charged in reserve before it reaches "
    "sockstat's counter (SK_MEMORY_PCPU_RESERVE), so sockstat can be off by that much per CPU either way.",
    "sockstat counts whole pages per charge; skmem counts bytes (buffer truesize).",
    "Sockets ss does not show with memory still hold it: orphans (closed by their process, still sending; "
    "sockstat's `orphan`) and sockets created or freed between the two reads.",
)


@frozen
class Accounting:
    protocol: str  # "TCP" or "UDP"
    sockstat_pages: int | None
    sockstat_bytes: int | None
    skmem_bytes: int  # r + w + f (TCP) or r + f (UDP) over the listed sockets
    sockets: int  # listed sockets of the protocol with skmem
    fields: str  # "r + w + f" or "r + f"


def compare(by_netid: Iterable[Group], km: KernelMemory) -> list[Accounting]:
    """One row per protocol that sockstat or the socket list has.

    `by_netid`: the per-netid sums of the listed sockets (kit.analyse.totals.breakdown),
    whose skmem sums (over the sockets that have skmem) are the ones needed here.
    """
    sums = {"tcp": [0, 0], "udp": [0, 0]}
    for group in by_netid:
        if group.name in sums:
            t = group.totals
            sums[group.name] = [
                t.rmem_alloc + t.fwd_alloc + (t.wmem_queued if group.name == "tcp" else 0),
                t.with_skmem,
            ]
    rows = []
    for proto, netid, fields in ((km.tcp, "tcp", "r + w + f"), (km.udp, "udp", "r + f")):
        total, count = sums[netid]
        if proto.pages is None and not count:
            continue
        rows.append(Accounting(proto.protocol, proto.pages, km.bytes(proto.pages), total, count, fields))
    return rows
