"""The probe's `ancestry` section: the probe shell and every process above it.

The section walks from its own shell ($$) up the PPid chain and prints, for
each process, four lines of its /proc/PID/status as the kernel wrote them
(the test device, busybox ash under dropbear in a PID namespace of its own;
tests/fixtures/testdev-dropbear/ancestry.out):

    Name:	sh
    Pid:	72
    PPid:	71
    Uid:	0	0	0	0
    NSpid:	72
    ...
    Name:	dropbear
    Pid:	3
    PPid:	1
    Uid:	0	0	0	0
    NSpid:	3
    Name:	dropbear
    Pid:	1
    PPid:	0
    Uid:	0	0	0	0
    NSpid:	1
    pid2 Name:	kthreadd

A record starts at each `Name:` line (the first line of status). Name is the
kernel's 15-byte comm, with `\\n` and `\\\\` escaped by the kernel. NSpid
(Linux 4.1+) lists the pid in each PID namespace from the outermost to the
probe's own: more than one value means the probe runs inside a child PID
namespace (a container, or the test device), whose processes cannot see the
owners of sockets held outside it. Older kernels print no NSpid: unknown.
Uid has four values (real, effective, saved, filesystem); the first is kept.
NSpid is relative to the PID namespace /proc was mounted for: a container
with its own /proc shows one value. So the section ends with the first line
of /proc/2/status behind `pid2 ` (`pid2 none` when there is no PID 2): PID 2
is kthreadd in the initial PID namespace (Linux 2.6.22+); anything else means
the probe sees only a child namespace (a PidTwo record).
"""

from __future__ import annotations

from kit.frozen import frozen
from kit.records import Parsed, ParseProblem


@frozen
class Ancestor:
    pid: int
    ppid: int | None
    name: str
    uid: int | None = None
    nspid: tuple[int, ...] = ()  # outermost namespace first; () when the kernel did not say
    line: int = 0


@frozen
class PidTwo:
    name: str | None  # PID 2's comm, None when there is no PID 2
    line: int = 0

    @property
    def initial_namespace(self) -> bool:
        return self.name == "kthreadd"


_FIELDS = ("Pid", "PPid", "Uid", "NSpid")


def parse(text: str) -> Parsed[Ancestor | PidTwo]:
    result: Parsed[Ancestor | PidTwo] = Parsed()
    current: dict[str, str] = {}
    start = 0

    def finish() -> None:
        if not current:
            return
        pid = current.get("Pid", "")
        if not pid.isdigit():
            result.problems.append(ParseProblem(start, "Name:" + current.get("Name", "")[:100], "no Pid: line"))
            return
        ppid = current.get("PPid", "")
        uid = current.get("Uid", "").split()
        nspid = current.get("NSpid", "").split()
        result.records.append(
            Ancestor(
                pid=int(pid),
                ppid=int(ppid) if ppid.isdigit() else None,
                name=current.get("Name", "")[:64],
                uid=int(uid[0]) if uid and uid[0].isdigit() else None,
                nspid=tuple(int(n) for n in nspid) if nspid and all(n.isdigit() for n in nspid) else (),
                line=start,
            )
        )

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("pid2 "):
            finish()
            current = {}
            rest = line[5:].strip()
            key, sep, value = rest.partition(":")
            if rest == "none" or (sep and key == "Name"):
                result.records.append(PidTwo(value.strip()[:64] if sep else None, number))
            else:
                result.problems.append(ParseProblem(number, line[:300], "not 'pid2 Name: ...' nor 'pid2 none'"))
            continue
        key, sep, value = line.partition(":")
        if sep and key == "Name":
            finish()
            current, start = {"Name": value.strip()}, number
        elif sep and key in _FIELDS and current:
            current[key] = value.strip()
        else:
            result.problems.append(ParseProblem(number, line[:300], "not a Name/Pid/PPid/Uid/NSpid status line"))
    finish()
    return result
