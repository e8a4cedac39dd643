"""The sockets and processes that carry this collect itself, found on the device.

A capture taken over SSH always shows kit's own session: the SSH server
process that runs the probe and its TCP connection, and the netlink socket
ss reads its dump through. Left in, they top the chart on a quiet router and
point the engineer at dropbear. They are found from what the device said,
never from addresses (a jump host or NAT changes those):

- the `ancestry` section: the probe shell's PPid chain, from
  /proc/PID/status. Above the probe's shells sits the process that started
  it: an SSH server session (dropbear, sshd, sshd-session) when the probe came
  over SSH, kit itself with `kit collect --local`. That process is this
  collect's, and so are the SSH server processes right above it, except the
  topmost of them, the daemon that forked the session and listens (OpenSSH's
  privilege-separation monitor sits between and holds the same connection;
  dropbear's listener is not ours). A lone SSH server process (inetd mode,
  `dropbear -i`) is the session itself, unless it holds a LISTEN socket;
- the `ss` section's `# kit: pid N` stderr line (read by the ss section's parser, kit.parsers.ss.parse_section): ss's own sock_diag socket
  (netlink protocol 4, port N) and the kernel's end of it (4:0), which hold
  the dump being read;
- the other end of a TCP connection of this collect, when the capture lists
  it too (the device's own loopback, or a test device sharing the host's
  network namespace): the same connection seen from the client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kit.analyse.totals import held_now
from kit.frozen import frozen
from kit.parsers.ancestry import Ancestor
from kit.records import Socket

SHELLS = frozenset({"sh", "ash", "dash", "bash", "busybox", "ksh", "mksh", "zsh", "hush"})
SSH_SERVERS = ("dropbear", "sshd")  # comm prefixes: sshd, sshd-session, sshd-auth
SOCK_DIAG = "4"  # NETLINK_SOCK_DIAG, the netlink protocol ss dumps through


@frozen
class CollectProcess:
    pid: int
    name: str
    role: str  # "ssh session", "kit" (a local collect), "ss"


@frozen
class ThisCollect:
    processes: tuple[CollectProcess, ...] = ()
    sockets: int = 0  # how many sockets were marked
    memory: int = 0  # bytes they hold: r + max(t, w)
    found: bool = False  # the capture had what it takes (ancestry or ss pid)


def is_ssh_server(name: str) -> bool:
    return name.startswith(SSH_SERVERS)


def collect_processes(ancestors: Sequence[Ancestor], listeners: set[int]) -> list[CollectProcess]:
    """This collect's processes from the probe's ancestry (first record: the probe's own shell)."""
    chain = list(ancestors)
    i = 0
    while i < len(chain) and chain[i].name in SHELLS:
        i += 1
    if i == len(chain):
        return []
    starter = chain[i]
    if not is_ssh_server(starter.name):
        # Run by kit itself (kit collect --local), or by hand (a console): the starter is ours.
        return [CollectProcess(starter.pid, starter.name, "kit")]
    run = []
    for anc in chain[i:]:
        if not is_ssh_server(anc.name):
            break
        run.append(anc)
    if len(run) > 1:
        # The topmost SSH server process is the daemon that forked the session and listens;
        # a non-root probe cannot see it own its LISTEN socket, so go by the chain.
        run = run[:-1]
    return [CollectProcess(a.pid, a.name, "ssh session") for a in run if a.pid not in listeners]


def _holds(sock: Socket, pids: set[int]) -> bool:
    return any(p.pid in pids for p in sock.processes)


def _memory(sock: Socket) -> int:
    m = sock.skmem
    if m is None:
        return 0
    return held_now(m.rmem_alloc or 0, m.wmem_alloc or 0, m.wmem_queued or 0)


def mark(
    sockets: Sequence[Socket], ancestors: Sequence[Ancestor], ss_pid: int | None
) -> tuple[list[Socket], ThisCollect]:
    """Sockets with `this_collect` set where the capture shows they are this collect's own.
    `ss_pid`: ss's own pid (kit.parsers.ss.SsOutput.own_pid), None when the capture does not say."""
    if not ancestors and ss_pid is None:
        # A paste, or a capture that does not say who ran it: nothing to look for (and no walk of 100k sockets).
        return list(sockets), ThisCollect((), 0, 0, False)
    listeners = {p.pid for s in sockets if s.state == "LISTEN" for p in s.processes if p.pid is not None}
    procs = collect_processes(ancestors, listeners)
    pids = {p.pid for p in procs}
    ss = ss_pid
    if ss is not None:
        procs.append(CollectProcess(ss, "ss", "ss"))
    ours: set[int] = set()  # indexes into sockets
    ends: set[tuple[str, str]] = set()
    for i, sock in enumerate(sockets):
        mine = bool(pids) and _holds(sock, pids) and sock.state != "LISTEN"
        if not mine and ss is not None and sock.netid == "nl":
            mine = sock.local in (f"{SOCK_DIAG}:{ss}", f"{SOCK_DIAG}:0") or _holds(sock, {ss})
        if mine:
            ours.add(i)
            if sock.netid == "tcp":
                ends.add((sock.peer, sock.local))
    if ends:
        # The client's end of our own connection, where the capture lists it (same host).
        ours.update(i for i, s in enumerate(sockets) if s.netid == "tcp" and (s.local, s.peer) in ends)
    if not ours:
        return list(sockets), ThisCollect(tuple(procs), 0, 0, bool(ancestors) or ss is not None)
    marked = [dataclasses.replace(s, this_collect=True) if i in ours else s for i, s in enumerate(sockets)]
    memory = sum(_memory(sockets[i]) for i in ours)
    return marked, ThisCollect(tuple(procs), len(ours), memory, True)
