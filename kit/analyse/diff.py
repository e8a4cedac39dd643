"""What changed between two captures: `kit diff OLD NEW` (schema kit.diff/1).

Pure: two Reports built by kit.report.build go in, a Diff comes out; the
renderers (kit.render.diff) only read it. Nothing here reads files.

Matching rules (the contract in docs/diff.md):
- processes: by (name, pid) first, then what is left by name alone (a daemon
  restarted under a new pid), pairing the largest with the largest;
  the rest are new or gone.
- sockets: by inode where both sides have one (ss prints it for unix sockets,
  /proc/net tables for all), else by netid, local and peer address. Two
  sockets that both have inodes and differ are different sockets even when
  their addresses agree (a unix path bound again). Duplicates of one key
  (SO_REUSEPORT listeners) pair in capture order.
- findings: by code (the rule that made them), so a finding whose count
  changed is the same finding, still there.
- counters (TcpExt/Udp memory trouble): they count since boot, so the change
  between two captures says whether the trouble is still happening; a counter
  that went down means a reboot (or another network namespace).

A socket that carries `this_collect` (the SSH session the probe itself ran
over) is left out: every collect has its own, and it is not the device's.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kit.analyse.diff_records import (
    SKMEM_FIELDS,
    TOTAL_FIELDS,
    Caveat,
    Change,
    CounterChange,
    DiagDiff,
    Diff,
    FindingDiff,
    ProcessChange,
    ProcMem,
    Side,
    SocketChange,
    SocketDiff,
)
from kit.analyse.finding_facts import Finding
from kit.analyse.kernel_memory import WATCHED
from kit.analyse.totals import Group
from kit.records import Socket

if TYPE_CHECKING:
    from kit.report import Report


# --- the pieces -----------------------------------------------------------------


def side(report: Report) -> Side:
    cap = report.capture
    return Side(
        source=cap.file,
        hostname=report.device.hostname,
        captured=cap.started,
        target=cap.target,
        host_key=cap.host_key,
    )


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def same_device(a: Side, b: Side) -> bool | None:
    """True/False when the host key or the host name tells; None when neither side says."""
    if a.host_key and b.host_key:
        return a.host_key == b.host_key  # a renamed router keeps its key; a new key is a new machine (or reflash)
    if a.hostname and b.hostname:
        return a.hostname == b.hostname
    return None


def counted(sockets: Iterable[Socket]) -> list[Socket]:
    """The device's sockets: without the one this collect's own SSH session used."""
    return [s for s in sockets if not getattr(s, "this_collect", False)]


def socket_weight(sock: Socket) -> int:
    """Bytes a socket holds: r + t + w from skmem, else its queue bytes (never a LISTEN row's counts)."""
    mem = sock.skmem
    if mem is not None:
        return (mem.rmem_alloc or 0) + (mem.wmem_alloc or 0) + (mem.wmem_queued or 0)
    if sock.state == "LISTEN":
        return 0
    return (sock.recv_q or 0) + (sock.send_q or 0)


def _deltas(old: Socket, new: Socket) -> dict[str, int]:
    out: dict[str, int] = {}
    if old.skmem is not None and new.skmem is not None:
        for name in SKMEM_FIELDS:
            a, b = getattr(old.skmem, name), getattr(new.skmem, name)
            if a is not None and b is not None and a != b:
                out[name] = b - a
    for name in ("recv_q", "send_q"):
        a, b = getattr(old, name), getattr(new, name)
        if a is not None and b is not None and a != b:
            out[name] = b - a
    return out


def _address_key(sock: Socket) -> tuple[str | None, str, str]:
    return (sock.netid, sock.local, sock.peer)


def match_sockets(old: Sequence[Socket], new: Sequence[Socket]) -> SocketDiff:
    result = SocketDiff()
    by_inode: dict[int, list[int]] = defaultdict(list)
    by_address: dict[tuple[str | None, str, str], list[int]] = defaultdict(list)
    for i, sock in enumerate(new):
        if sock.inode is not None:
            by_inode[sock.inode].append(i)
        by_address[_address_key(sock)].append(i)
    taken = [False] * len(new)
    pairs: list[tuple[Socket, Socket]] = []
    unmatched: list[Socket] = []
    for sock in old:
        j = next((i for i in by_inode.get(sock.inode, ()) if not taken[i]), None) if sock.inode is not None else None
        if j is None:
            # By address, but never two sockets that both name their inode and differ.
            j = next(
                (
                    i
                    for i in by_address.get(_address_key(sock), ())
                    if not taken[i] and (sock.inode is None or new[i].inode is None)
                ),
                None,
            )
        if j is None:
            unmatched.append(sock)
        else:
            taken[j] = True
            pairs.append((sock, new[j]))
    for a, b in pairs:
        deltas = _deltas(a, b)
        if deltas or a.state != b.state:
            result.changed.append(SocketChange(b, a, deltas))
        else:
            result.unchanged += 1
    result.gone = sorted(unmatched, key=socket_weight, reverse=True)
    result.new = sorted((s for i, s in enumerate(new) if not taken[i]), key=socket_weight, reverse=True)
    result.changed.sort(key=lambda c: (-abs(socket_weight(c.socket) - socket_weight(c.old)), -_size(c.change)))
    return result


def _size(change: dict[str, int]) -> int:
    return sum(abs(v) for k, v in change.items() if k != "sock_drop")


def match_processes(old: Sequence[Group], new: Sequence[Group]) -> list[ProcessChange]:
    out: list[ProcessChange] = []
    new_by_key = {(g.name, g.pid): g for g in new}
    used: set[tuple[str, int | None]] = set()
    left_old: list[Group] = []
    for g in old:
        twin = new_by_key.get((g.name, g.pid))
        if twin is not None:
            used.add((g.name, g.pid))
            out.append(ProcessChange(g.name, g.pid, g.pid, "same", ProcMem.of(g), ProcMem.of(twin)))
        else:
            left_old.append(g)
    left_new: dict[str, list[Group]] = defaultdict(list)
    for g in new:
        if (g.name, g.pid) not in used:
            left_new[g.name].append(g)
    # Groups come most memory first, so a restarted daemon's biggest instance pairs with its biggest.
    for g in left_old:
        candidates = left_new.get(g.name)
        if candidates:
            twin = candidates.pop(0)
            out.append(ProcessChange(g.name, twin.pid, g.pid, "restarted", ProcMem.of(g), ProcMem.of(twin)))
        else:
            out.append(ProcessChange(g.name, g.pid, g.pid, "gone", ProcMem.of(g), ProcMem()))
    for groups in left_new.values():
        for g in groups:
            out.append(ProcessChange(g.name, g.pid, None, "new", ProcMem(), ProcMem.of(g)))
    out.sort(key=lambda p: (-abs(p.change.memory), -abs(p.change.sockets), p.name, p.pid or 0))
    return out


def match_findings(old: Sequence[Finding], new: Sequence[Finding]) -> FindingDiff:
    def key(f: Finding) -> str:
        return f.code

    old_keys = {key(f) for f in old}
    new_keys = {key(f) for f in new}
    return FindingDiff(
        new=tuple(f for f in new if key(f) not in old_keys),
        resolved=tuple(f for f in old if key(f) not in new_keys),
        still=tuple(f for f in new if key(f) in old_keys),
    )


def _diag(old: Report, new: Report) -> DiagDiff:
    a, b = old.kernel_diag, new.kernel_diag
    names = list(a.options) + [n for n in b.options if n not in a.options]
    changed = []
    for name in names:
        sa = a.options[name].state if name in a.options else None
        sb = b.options[name].state if name in b.options else None
        if sa != sb:
            changed.append((name, sa, sb))
    return DiagDiff(a.verdict, b.verdict, tuple(changed))


def _counters(old: Report, new: Report) -> list[CounterChange]:
    ka, kb = old.kernel_memory, new.kernel_memory
    out = []
    for group, name, meaning in WATCHED:
        a, b = ka.counter(group, name), kb.counter(group, name)
        if a is not None or b is not None:
            out.append(CounterChange(group, name, meaning, a, b))
    return out


def _totals(old: Report, new: Report, old_socks: Sequence[Socket], new_socks: Sequence[Socket]) -> dict[str, Change]:
    from kit.analyse.totals import totals

    # Recomputed only when this collect's own socket had to be left out.
    ta = old.totals if len(old_socks) == len(old.sockets) else totals(old_socks)
    tb = new.totals if len(new_socks) == len(new.sockets) else totals(new_socks)
    return {name: Change(getattr(ta, name), getattr(tb, name)) for name in TOTAL_FIELDS}


def _warnings(
    old: Report, new: Report, a: Side, b: Side, same: bool | None, counters: list[CounterChange]
) -> list[Caveat]:
    out = []
    if same is False:
        out.append(Caveat("other_devices", sides=(a, b)))
    ta, tb = parse_time(a.captured), parse_time(b.captured)
    if ta is not None and tb is not None and tb < ta:
        out.append(Caveat("backwards"))
    for label, rep in (("OLD", old), ("NEW", new)):
        if rep.capture.partial:
            out.append(Caveat("partial", label))
        if rep.sockets and not rep.totals.with_skmem:
            out.append(Caveat("no_skmem", label))
        if not rep.sockets:
            out.append(Caveat("no_sockets", label))
    if (old.socket_source or "") != (new.socket_source or "") and old.socket_source and new.socket_source:
        out.append(Caveat("sources", names=(old.socket_source, new.socket_source)))
    down = [c for c in counters if c.change is not None and c.change < 0]
    if down:
        out.append(Caveat("counters_down", names=tuple(c.name for c in down[:4])))
    return out


def diff(old: Report, new: Report) -> Diff:
    """Everything that changed from `old` to `new` (two reports of kit.report.build)."""
    from kit.analyse.totals import per_process

    a, b = side(old), side(new)
    old_socks, new_socks = counted(old.sockets), counted(new.sockets)
    same = same_device(a, b)
    old_procs = old.processes if len(old_socks) == len(old.sockets) else per_process(old_socks)
    new_procs = new.processes if len(new_socks) == len(new.sockets) else per_process(new_socks)
    counters = _counters(old, new)
    sockets = match_sockets(old_socks, new_socks)
    sockets.left_out = len(old.sockets) - len(old_socks) + len(new.sockets) - len(new_socks)
    km_a, km_b = old.kernel_memory, new.kernel_memory
    ta, tb = parse_time(a.captured), parse_time(b.captured)
    return Diff(
        old=a,
        new=b,
        totals=_totals(old, new, old_socks, new_socks),
        processes=match_processes(old_procs, new_procs),
        sockets=sockets,
        findings=match_findings(old.findings, new.findings),
        kernel_diag=_diag(old, new),
        counters=counters,
        kernel_memory={
            "tcp_pages": Change(km_a.tcp.pages, km_b.tcp.pages),
            "udp_pages": Change(km_a.udp.pages, km_b.udp.pages),
            "mem_available": Change(km_a.mem_available, km_b.mem_available),
        },
        seconds=None if ta is None or tb is None else tb - ta,
        warnings=_warnings(old, new, a, b, same, counters),
        same_device=same,
    )


def is_empty(d: Diff) -> bool:
    """Nothing changed at all (a capture diffed with itself)."""
    return (
        all(c.change == 0 for c in d.totals.values())
        and all(p.change == ProcMem() and p.status == "same" for p in d.processes)
        and not (d.sockets.new or d.sockets.gone or d.sockets.changed)
        and not (d.findings.new or d.findings.resolved)
        and not d.kernel_diag.changed
        and all(not c.change for c in d.counters)
        and all(c.change == 0 for c in d.kernel_memory.values())
    )


def summary(d: Diff) -> dict[str, Any]:
    """Counts for a one-line headline."""
    return {
        "memory_change": d.memory_change,
        "sockets_new": len(d.sockets.new),
        "sockets_gone": len(d.sockets.gone),
        "sockets_changed": len(d.sockets.changed),
        "findings_new": len(d.findings.new),
        "findings_resolved": len(d.findings.resolved),
    }
