"""Why a socket shows no owner, where the capture can tell.

ss -p (and the /proc/[pid]/fd scan kit does without ss) names a socket's
owner by finding its inode among the file descriptors of the processes the
probe can see. A socket without an owner is one of:

- `kernel`: no process holds it. TIME-WAIT and SYN-RECV entries are kernel
  mini-sockets; FIN-WAIT-1/2, CLOSING and LAST-ACK sockets without an owner
  were closed by their process and finish on their own (orphans, counted in
  sockstat's `orphan`); a netlink socket with port 0 is the kernel's own end
  of that netlink protocol.
- `not_root`: the probe did not run as root, and ss -p shows only the probe
  user's processes.
- `other_pid_namespace`: the probe runs in a child PID namespace (its
  /proc/self/status NSpid has more than one pid), and the network namespace
  it sees is shared with processes it cannot see (the host, other
  containers).
- `unknown`: root, every PID namespace visible (or the kernel too old to
  say), and still no owner: the process exited between ss's socket dump and
  its /proc scan, or /proc is mounted with hidepid.
"""

from __future__ import annotations

from kit.frozen import frozen
from kit.records import Socket

CAUSES = ("kernel", "not_root", "other_pid_namespace", "unknown")
KERNEL_STATES = frozenset({"TIME-WAIT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK"})

# Short labels for tables and the chart; the glossary explains each.
LABELS = {
    "kernel": "(no owner: kernel-held)",
    "not_root": "(no owner shown: probe not root)",
    "other_pid_namespace": "(no owner: other PID namespace)",
    "unknown": "(no owner shown)",
}
WHY = {
    "kernel": "no process holds them: TIME-WAIT/SYN-RECV mini-sockets, orphans closing on their own, "
    "the kernel's end of netlink",
    "not_root": "the probe did not run as root: ss -p shows only its own user's processes",
    "other_pid_namespace": "held by processes in another PID namespace (the probe runs in a child one: "
    "NSpid has more than one pid), which it cannot see",
    "unknown": "the probe ran as root and saw every PID namespace: the owner exited during the capture, "
    "or /proc hides other processes (hidepid)",
}


@frozen
class OwnerContext:
    """What the capture says about the probe's view of processes."""

    root: bool | None  # None: the capture did not say
    child_pid_namespace: bool | None  # None: no NSpid (kernel < 4.1) or no ancestry section


def cause(sock: Socket, ctx: OwnerContext) -> str | None:
    """Why `sock` shows no owner (one of CAUSES), or None when it has one."""
    if sock.processes:
        return None
    if sock.state in KERNEL_STATES or (sock.netid == "nl" and sock.local.endswith((":0", ":kernel"))):
        return "kernel"
    if ctx.root is False:
        return "not_root"
    if ctx.child_pid_namespace:
        return "other_pid_namespace"
    return "unknown"


def label(sock: Socket, ctx: OwnerContext) -> str:
    return LABELS[cause(sock, ctx) or "unknown"]
