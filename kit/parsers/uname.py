"""`uname -a` as coreutils and busybox print it.

    Linux OpenWrt 5.15.134 #0 SMP Mon Oct 9 21:45:35 2023 mips GNU/Linux
    Linux host 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux

Kernel name, node name and release are the first three words; the machine is
the last word, or the one before a trailing `GNU/Linux` (the OS field). The
version in between has spaces and is kept whole.
"""
from __future__ import annotations

from dataclasses import dataclass

from kit.records import ParseProblem, Parsed


@dataclass(frozen=True, slots=True)
class Uname:
    kernel_name: str
    nodename: str
    release: str
    version: str
    machine: str


def parse(text: str) -> Parsed[Uname]:
    result: Parsed[Uname] = Parsed()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return result
    words = lines[0].split()
    if len(words) < 4:
        result.problems.append(ParseProblem(1, lines[0][:300], "too few words for uname -a"))
        return result
    tail = words[3:]
    if tail and tail[-1] in ("GNU/Linux", "Linux") and len(tail) > 1:
        tail = tail[:-1]
    machine = tail[-1] if len(tail) > 1 else ""
    version = " ".join(tail[:-1]) if len(tail) > 1 else " ".join(tail)
    result.records.append(Uname(words[0], words[1], words[2], version, machine))
    for number, line in enumerate(text.splitlines()[1:], 2):
        if line.strip():
            result.problems.append(ParseProblem(number, line[:300], "unexpected extra line"))
    return result
