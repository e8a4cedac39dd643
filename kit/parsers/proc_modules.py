"""/proc/modules: the loadable modules in the running kernel, one per line.

Source: kernel/module/procfs.c m_show() (kernel/module.c before 5.19):

    name size refcount used-by state address [taint]
    tcp_diag 16384 0 - Live 0xffffffffc0a3b000
    inet_diag 24576 1 tcp_diag, Live 0xffffffffc0a2d000
    udp_diag 12288 0 - Live 0x0000000000000000 (E)

Quirks seen:
- used-by is `-` when nothing uses the module, else `a,b,` with a trailing
  comma; `[permanent],` is added for modules without an exit function.
- Kernels without CONFIG_MODULE_UNLOAD print `- -` for refcount and used-by
  (no count is known): refcount is then None.
- The address reads 0x0000000000000000 unless the reader may see kernel
  addresses (kptr_restrict): kept out of the record, it says nothing here.
- The taint flags `(OE)` appear only for tainting modules.
- A kernel without module support (CONFIG_MODULES not set) has no
  /proc/modules at all: the probe's `cat` fails and the text is empty
  (ModuleList.absent, from the section's stderr).

Fields: Module(name, size, refcount, state, line, used_by). state is Live,
Loading or Unloading (as printed).
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.numbers import is_digits, to_int
from kit.parsers.command_stderr import says_missing
from kit.records import Parsed, ParseProblem, SectionStatus

_STATES = ("Live", "Loading", "Unloading")


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    size: int
    refcount: int | None  # None: kernel without CONFIG_MODULE_UNLOAD prints '-'
    state: str
    line: int = 0
    used_by: tuple[str, ...] = ()


@dataclass(slots=True)
class ModuleList(Parsed[Module]):
    """The modules, and what an empty list means (from the section's SectionStatus)."""

    absent: bool = False  # nothing read, and the command said there is no /proc/modules: no module support
    unread: bool = False  # nothing read, and the command failed or was cut off: the list says nothing


def parse(text: str, status: SectionStatus | None = None) -> ModuleList:
    status = status or SectionStatus()
    empty = not text.strip()
    absent = empty and says_missing(status.stderr)
    result = ModuleList(absent=absent, unread=empty and not absent and not status.ok)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        module, problem = _module(line.split(), number)
        if module is None:
            result.problems.append(ParseProblem(number, line[:300], problem))
        else:
            result.records.append(module)
    return result


def _module(fields: list[str], number: int) -> tuple[Module | None, str]:
    if len(fields) < 5:
        return None, "fewer than 5 fields (name size refcount used-by state)"
    name, size, refcount, used_by, state = fields[:5]
    if not is_digits(size):
        return None, f"size {size[:20]!r} is not a number"
    if refcount == "-":
        count = None
    elif to_int(refcount) is not None:
        count = int(refcount)
    else:
        return None, f"refcount {refcount[:20]!r} is not a number"
    if state not in _STATES:
        return None, f"state {state[:20]!r} is not one of {', '.join(_STATES)}"
    users = tuple(u for u in used_by.split(",") if u and u != "-")
    return Module(name, int(size), count, state, number, users), ""


def names(parsed: Parsed[Module]) -> set[str]:
    return {m.name for m in parsed.records}
