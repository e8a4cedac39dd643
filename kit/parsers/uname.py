"""`uname -a` as coreutils and busybox print it, optionally followed by `uname -r` and `uname -m`.

    Linux OpenWrt 5.15.134 #0 SMP Mon Oct 9 21:45:35 2023 mips GNU/Linux
    Linux host 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux

The probe prints `uname -a`, then `uname -rm` (release and machine) on a line
of its own; earlier probes printed `uname -r` and `uname -m` on two
lines. A node name may contain spaces (it is device text), which makes the
words of `uname -a` ambiguous. With the release and machine present they are
the authority and the node name is whatever lies between the kernel name and
the release.
A lone `uname -a` line (a paste) is split by words: kernel name, node name and
release first, the machine last or before a trailing `GNU/Linux`.
"""

from __future__ import annotations

from kit.frozen import frozen
from kit.records import Parsed, ParseProblem


@frozen
class Uname:
    kernel_name: str
    nodename: str
    release: str
    version: str
    machine: str


def _from_words(line: str) -> Uname | None:
    words = line.split()
    if len(words) < 4:
        return None
    tail = words[3:]
    if tail[-1] in ("GNU/Linux", "Linux") and len(tail) > 1:
        tail = tail[:-1]
    machine = tail[-1] if len(tail) > 1 else ""
    version = " ".join(tail[:-1]) if len(tail) > 1 else " ".join(tail)
    return Uname(words[0], words[1], words[2], version, machine)


def _with_release(line: str, release: str, machine: str) -> Uname | None:
    kernel_name, _, rest = line.partition(" ")
    marker = f" {release} "
    cut = rest.rfind(marker)
    if not kernel_name or cut < 0:
        return None
    version = rest[cut + len(marker) :].rsplit(f" {machine}", 1)[0] if machine else rest[cut + len(marker) :]
    return Uname(kernel_name, rest[:cut], release, version.strip(), machine)


def parse(text: str) -> Parsed[Uname]:
    result: Parsed[Uname] = Parsed()
    numbered = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not numbered:
        return result
    first_no, first = numbered[0]
    record = None
    used = 1
    second = numbered[1][1].split() if len(numbered) >= 2 else []
    if len(numbered) >= 3 and len(second) == 1 and len(numbered[2][1].split()) == 1:
        record = _with_release(first, second[0], numbered[2][1].strip())
        used = 3 if record else 1
    elif len(second) == 2:
        record = _with_release(first, second[0], second[1])
        used = 2 if record else 1
    if record is None:
        record = _from_words(first)
    if record is None:
        result.problems.append(ParseProblem(first_no, first[:300], "too few words for uname -a"))
    else:
        result.records.append(record)
    for number, line in numbered[used:]:
        result.problems.append(ParseProblem(number, line[:300], "unexpected extra line"))
    return result
