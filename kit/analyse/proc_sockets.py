"""Sockets without ss: the /proc/net tables joined to their owners by inode.

Without ss (many OpenWrt images) or without inet_diag, the kernel still lists
every socket in /proc/net/{tcp,tcp6,udp,udp6,raw,raw6,unix} with its queue
bytes and inode, and /proc/[pid]/fd links name the inode of each socket a
process holds. Joining the two gives what `ss -nap` would show, minus the
memory breakdown (skmem stays None: /proc has none).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence

from kit.parsers.socket_owners import Owner
from kit.records import ProcRef, Socket


def join_owners(sockets: Sequence[Socket], owners: Iterable[Owner]) -> list[Socket]:
    """Fill each socket's processes from the owners holding its inode (sockets that already name owners are kept)."""
    by_inode: dict[int, list[ProcRef]] = defaultdict(list)
    for owner in owners:
        by_inode[owner.inode].append(ProcRef(owner.name, owner.pid, owner.fd))
    if not by_inode:
        return list(sockets)
    joined = []
    for sock in sockets:
        refs = by_inode.get(sock.inode) if sock.inode else None
        if refs and not sock.processes:
            sock = dataclasses.replace(sock, processes=tuple(refs))
        joined.append(sock)
    return joined
