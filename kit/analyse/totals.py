"""Totals of socket memory: overall, per process, per socket type and per state.

Pure functions over parsed sockets. Only sockets for which ss printed memory
contribute bytes; every socket counts in `sockets`. A socket owned by several
processes (a listener shared after fork) is counted once in the totals and
shown under each of its owners, so per-process rows can add up to more than
the total: the report says so.

LISTEN rows are not bytes: there ss's Recv-Q is the accept queue (connections
waiting for accept()) and Send-Q the listen() backlog (net/ipv4/tcp_diag.c;
/proc/net/tcp's rx_queue is the same count). They are never added to the
Recv-Q/Send-Q byte sums; `accept_queue` counts the waiting connections.

The classic one-liner
    ss -napm | awk -F '[\\(|,]' '/skmem/ {print $2}' | cut -c 2- | awk '{a+=$1}END{print a}'
sums r (rmem_alloc); with $4 it sums t (wmem_alloc). Our rmem_alloc and
wmem_alloc totals are those same sums, taken over every socket that has skmem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kit.analyse.owners import LABELS, OwnerContext, cause
from kit.records import Socket

THIS_COLLECT_LABEL = "(this collect, no owner)"


# What "socket memory held now" means everywhere (totals, summary, this
# collect's share, the fleet index; the HTML says it as HELD_NOW): received
# bytes plus the larger of sent-but-unfreed (t) and queued-to-send (w), since
# TCP's queued bytes include the unacknowledged ones.
HELD_NOW = "r + max(t, w)"


def held_now(rmem_alloc: int, wmem_alloc: int, wmem_queued: int) -> int:
    """Bytes held now: HELD_NOW."""
    return rmem_alloc + max(wmem_alloc, wmem_queued)


@dataclass(slots=True)
class Totals:
    sockets: int = 0  # every socket in the capture
    with_skmem: int = 0  # sockets for which ss printed memory
    rmem_alloc: int = 0
    wmem_alloc: int = 0
    wmem_queued: int = 0
    fwd_alloc: int = 0
    sock_drop: int = 0
    recv_q: int = 0  # sum of Recv-Q over non-LISTEN sockets: bytes (see the glossary)
    send_q: int = 0  # sum of Send-Q over non-LISTEN sockets: bytes
    accept_queue: int = 0  # LISTEN rows' Recv-Q: connections waiting for accept() (a count)
    listeners: int = 0  # LISTEN sockets

    @property
    def memory(self) -> int:
        """Bytes the sockets hold now (held_now of the sums)."""
        return held_now(self.rmem_alloc, self.wmem_alloc, self.wmem_queued)


@dataclass(slots=True)
class Group:
    """Totals for one process, socket type or state."""

    key: str
    name: str
    pid: int | None = None
    totals: Totals = field(default_factory=Totals)
    this_collect: bool = False  # holds sockets of this collect itself (its SSH session)
    owner_missing: str | None = None  # for sockets without an owner: why (kit.analyse.owners.CAUSES)


def totals(sockets: Iterable[Socket]) -> Totals:
    """Sum over sockets; the one place the sums are taken (locals: 100k sockets in ~20 ms)."""
    n = with_skmem = r = t = w = f = d = recv_q = send_q = accept = listeners = 0
    for sock in sockets:
        n += 1
        if sock.state == "LISTEN":
            listeners += 1
            accept += sock.recv_q or 0
        else:
            recv_q += sock.recv_q or 0
            send_q += sock.send_q or 0
        mem = sock.skmem
        if mem is not None:
            with_skmem += 1
            r += mem.rmem_alloc or 0
            t += mem.wmem_alloc or 0
            w += mem.wmem_queued or 0
            f += mem.fwd_alloc or 0
            d += mem.sock_drop or 0
    return Totals(n, with_skmem, r, t, w, f, d, recv_q, send_q, accept, listeners)


def per_process(sockets: Iterable[Socket], ctx: OwnerContext | None = None) -> list[Group]:
    """One group per (pid, name); sockets without a visible owner grouped by why (kit.analyse.owners)."""
    ctx = ctx or OwnerContext(root=None, child_pid_namespace=None)
    members: dict[tuple[int | None, str, str | None], list[Socket]] = defaultdict(list)
    for sock in sockets:
        owners = sock.processes
        if not owners:
            # This collect's own unowned sockets (ss's netlink socket, the client end of the session) apart.
            members[(None, "", None if sock.this_collect else cause(sock, ctx))].append(sock)
        elif len(owners) == 1:  # most sockets: no set to build
            members[(owners[0].pid, owners[0].name, None)].append(sock)
        else:
            # A socket shared by several processes counts under each owner, once per owner.
            for pid, name in {(p.pid, p.name) for p in owners}:
                members[(pid, name, None)].append(sock)
    groups = [
        Group(
            key=f"{name}/{pid}" if pid is not None or name else f"/{why or 'this_collect'}",
            name=name if pid is not None or name else LABELS[why] if why else THIS_COLLECT_LABEL,
            pid=pid,
            totals=totals(socks),
            this_collect=any(s.this_collect for s in socks),
            owner_missing=why,
        )
        for (pid, name, why), socks in members.items()
    ]
    return _by_memory(groups)


def per_key(sockets: Iterable[Socket], attribute: str) -> list[Group]:
    """Groups by a socket attribute such as 'netid' or 'state'."""
    members: dict[str, list[Socket]] = defaultdict(list)
    for sock in sockets:
        members[getattr(sock, attribute) or "?"].append(sock)
    return _by_memory(Group(key=k, name=k, totals=totals(v)) for k, v in members.items())


def _by_memory(groups: Iterable[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: (-g.totals.memory, -g.totals.sockets, g.name))


def top_sockets(sockets: Sequence[Socket], key: str, n: int) -> list[Socket]:
    """The n sockets with the most memory by `key`: 'rmem_alloc' or 'send' (wmem_alloc + wmem_queued)."""

    def weight(sock: Socket) -> int:
        mem = sock.skmem
        if mem is None:
            return 0
        if key == "send":
            return (mem.wmem_alloc or 0) + (mem.wmem_queued or 0)
        return getattr(mem, key) or 0

    ranked = sorted((s for s in sockets if weight(s) > 0), key=weight, reverse=True)
    return ranked[:n]
