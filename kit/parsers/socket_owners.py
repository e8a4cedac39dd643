"""The probe's `socket_owners` section: who holds each socket, read from /proc/[pid]/fd.

Printed by the probe only when ss does not run (see kit/sections.py), one line
per socket file descriptor:

    <pid> <comm> <inode> <fd>
    1234 dropbear 81642 5
    977 my daemon 8123 12

comm is the kernel's 15-byte task name and may contain spaces, so the pid is
the first word and the inode and fd are the last two; what lies between is
the name. A non-root probe only sees its own processes' descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.numbers import is_digits
from kit.records import Parsed, ParseProblem


@dataclass(frozen=True, slots=True)
class Owner:
    pid: int
    name: str
    inode: int
    fd: int
    line: int = 0


def parse(text: str) -> Parsed[Owner]:
    result: Parsed[Owner] = Parsed()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        pid, _, rest = line.partition(" ")
        name, _, tail = rest.rpartition(" ")
        name, _, inode = name.rpartition(" ")
        if not (is_digits(pid) and is_digits(inode) and is_digits(tail)):
            result.problems.append(ParseProblem(number, line[:300], "not '<pid> <comm> <inode> <fd>'"))
            continue
        result.records.append(Owner(int(pid), name, int(inode), int(tail), number))
    return result
