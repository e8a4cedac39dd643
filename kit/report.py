"""From a capture to a Report: parse each section with its parser, then analyse.

This is the middle of the pipeline and it is pure: a Capture goes in, a Report
comes out; no files, no network. Renderers (kit.render.*) only read Reports.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from kit import __version__
from kit.analyse import findings as findings_mod
from kit.analyse import kdiag, kernel_memory, memory_elsewhere, sockstat_vs_skmem, summary, this_collect
from kit.analyse.finding_facts import Finding
from kit.analyse.owners import OwnerContext
from kit.analyse.proc_sockets import join_owners
from kit.analyse.totals import Group, Totals, breakdown
from kit.capture import Capture, SectionOutput
from kit.frozen import frozen
from kit.parsers import meminfo
from kit.parsers import sockstat as sockstat_parser
from kit.parsers.ancestry import Ancestor, PidTwo
from kit.parsers.ss import SsOutput, SsRun
from kit.parsers.user_id import Identity
from kit.records import Parsed, ParseProblem, SectionStatus, Socket
from kit.sections import BY_NAME, SECTIONS
from kit.unmangle import WRAPPED, Undone

SCHEMA = "kit.report/1"


@dataclass(frozen=True, slots=True)  # one per unread line: built by the 100,000 (kit.frozen)
class SectionProblem:
    section: str
    problem: ParseProblem


@frozen
class CaptureInfo:
    """Where the data came from: the capture file and its header (JSON `capture`, same keys)."""

    file: str | None  # as given to kit render / written by kit collect
    target: str | None  # user@host, an ssh_config alias, "local", or the paste's file name
    started: str | None  # ISO 8601, UTC
    finished: str | None
    kit_version: str | None  # kit that made the capture
    host_key: str | None
    exit_status: int | None
    partial: bool  # the probe did not finish, or the bytes stop early
    error: str | None
    raw_paste: bool  # a pasted listing, not a kit capture
    detected: str | None  # for a paste: the format kit detected
    hand_run: bool  # the output of `kit probe` run by hand, however it came back
    lines_before: int | None  # hand run: lines left out before the probe's output
    lines_after: int | None
    unmangled: tuple[Undone, ...]  # what kit.unmangle undid before reading


@frozen
class DeviceInfo:
    """Who the device is (JSON `device`, same keys); None: the capture did not say."""

    hostname: str | None
    kernel_release: str | None  # uname -r
    kernel_version: str | None  # uname -v
    machine: str | None  # uname -m
    os_release: str | None  # DISTRIB_DESCRIPTION or PRETTY_NAME
    openwrt: bool
    user: str | None  # output of id
    root: bool | None  # False: ss -p saw only that user's processes


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    """Everything a Report holds but its findings: what the findings are judged on."""

    capture: CaptureInfo
    device: DeviceInfo
    kernel_diag: kdiag.KernelDiag
    sockets: list[Socket]
    socket_source: str  # "ss", "netstat", "proc_net", or "" when no socket list at all
    totals: Totals
    processes: list[Group]
    by_netid: list[Group]
    by_state: list[Group]
    sockstat: dict[str, dict[str, int]]
    kernel_memory: kernel_memory.KernelMemory
    summary: summary.Summary
    this_collect: this_collect.ThisCollect
    owner_context: OwnerContext
    memory_elsewhere: memory_elsewhere.MemoryElsewhere
    accounting: list[sockstat_vs_skmem.Accounting]
    ss_run: SsRun | None  # how the ss section ended (kit.parsers.ss); None: the capture has none
    parse_problems: list[SectionProblem]
    sections: list[SectionOutput]
    notes: list[str] = field(default_factory=list)  # framing trouble, shown near the top
    schema: str = SCHEMA
    kit_version: str = __version__


@dataclass(frozen=True, slots=True, kw_only=True)
class Report(Analysis):
    """The analysed capture, complete: made once by build(), read by the renderers."""

    findings: list[Finding]

    @classmethod
    def of(cls, analysis: Analysis, findings: list[Finding]) -> Report:
        return cls(findings=findings, **{f.name: getattr(analysis, f.name) for f in fields(Analysis)})


def parse_section(section: SectionOutput, parser: str | None = None) -> Parsed[Any]:
    """Run the section's parser on its text, and on its SectionStatus when the parser takes one.

    `parser` (default: the section table's) names a module under kit.parsers,
    optionally with the function to call: "proc_net:parse_raw". A parser with
    a `status` parameter reads the section's stderr and exit status itself
    (kit.records.SectionStatus): the analysis reads only what parsers return.
    """
    spec = parser or (BY_NAME[section.name].parser if section.name in BY_NAME else None) or section.name
    parse = parser_function(spec)
    if takes_status(parse):
        status = SectionStatus(section.stderr, section.rc, section.complete, section.truncated)
        return parse(section.text, status=status)
    result: Parsed[Any] = parse(section.text)
    return result


def parser_function(spec: str) -> Callable[..., Parsed[Any]]:
    module_name, _, function = spec.partition(":")
    parse: Callable[..., Parsed[Any]] = getattr(
        importlib.import_module(f"kit.parsers.{module_name}"), function or "parse"
    )
    return parse


@functools.cache
def takes_status(parse: Callable[..., Parsed[Any]]) -> bool:
    """Whether a parser reads its section's SectionStatus (a `status` parameter) besides the text."""
    return "status" in inspect.signature(parse).parameters


def parses(section: SectionOutput, raw_paste: bool = False) -> str | None:
    """The parser build() runs on this section, or None when it leaves it raw: no parser, or
    nothing for it to read (no output and a parser that reads only the text, or a failed
    `only_if_ok` section)."""
    spec = BY_NAME.get(section.name)
    parser = spec.parser if spec else (section.name if raw_paste else None)
    if not parser or (spec is not None and spec.only_if_ok and not section.ok):
        return None
    if not section.stdout and not takes_status(parser_function(parser)):
        return None
    return parser


def _reread_wrapped(section: SectionOutput, parser: str, result: Parsed[Any], wrapped: list[int]) -> Parsed[Any]:
    """A paste's wrapped rows: the ss parser joins its own; for the others kit.paste glues them and parses again."""
    if result.joined or not result.problems or parser.startswith(("ss", "sockstat")):
        wrapped.append(result.joined)
        return result
    from kit.paste import rejoin_wrapped

    parse: Callable[[str], Parsed[Any]] = parser_function(parser)
    text, joined = rejoin_wrapped(section.text, parse, result)
    if not joined:
        return result
    wrapped.append(joined)
    return parse(text)


def _first(parsed: Parsed[Any] | None) -> Any:
    return parsed.records[0] if parsed and parsed.records else None


# Without a socket list from ss, the /proc/net tables joined to their owners
# (socket_owners) give sockets with queue bytes, and busybox netstat is the
# last resort. With ss they are not parsed at all: ss says more, and a 100k
# socket capture should not be read twice.
PROC_NET_SECTIONS = tuple(s.name for s in SECTIONS if s.name.startswith("proc_net_"))
FALLBACK_SECTIONS = PROC_NET_SECTIONS + ("socket_owners", "netstat")


def _not_needed(capture: Capture) -> set[str]:
    """Fallback sections a better source makes redundant (they stay in the raw capture)."""

    def has(name: str) -> bool:
        section = capture.sections.get(name)
        # not .strip(): that copies the whole section (16 MB of ss at 100k sockets) to test it
        return bool(section and section.stdout and not section.stdout.isspace())

    if has("ss"):
        return set(FALLBACK_SECTIONS)
    if any(has(name) for name in PROC_NET_SECTIONS):
        return {"netstat"}
    return set()


def _sockets(parsed: dict[str, Parsed[Any]], ss_printed: bool) -> tuple[str, list[Socket]]:
    """The socket list and where it came from: "ss", "proc_net", "netstat" or "".
    `ss_printed`: the ss section has output (an empty one is not a socket list)."""
    if "ss" in parsed and parsed["ss"].records:
        return "ss", parsed["ss"].records
    owners = parsed["socket_owners"].records if "socket_owners" in parsed else []
    tables = [s for name in PROC_NET_SECTIONS if name in parsed for s in parsed[name].records]
    if tables:
        return "proc_net", join_owners(tables, owners)
    if "netstat" in parsed and parsed["netstat"].records:
        return "netstat", join_owners(parsed["netstat"].records, owners)
    return ("ss", []) if ss_printed else ("", [])


def build(capture: Capture, source: str = "") -> Report:
    parsed: dict[str, Parsed[Any]] = {}
    problems: list[SectionProblem] = []
    wrapped: list[int] = []  # lines of a paste glued back onto the line a terminal or mail client broke
    skip = _not_needed(capture)
    for name, section in capture.sections.items():
        if name in skip:
            continue
        parser = parses(section, capture.raw_paste)
        if parser is None:
            continue
        result = parse_section(section, parser)
        if capture.raw_paste:
            result = _reread_wrapped(section, parser, result, wrapped)
        parsed[name] = result
        problems.extend(SectionProblem(name, p) for p in result.problems)

    ss_section = capture.sections.get("ss")
    socket_source, sockets = _sockets(parsed, bool(ss_section and ss_section.stdout))
    ss_said = parsed.get("ss")
    lineage = parsed["ancestry"].records if "ancestry" in parsed else []
    ancestors = [r for r in lineage if isinstance(r, Ancestor)]
    sockets, ours = this_collect.mark(sockets, ancestors, ss_said.own_pid if isinstance(ss_said, SsOutput) else None)

    device = _device(capture, parsed)
    owner_ctx = OwnerContext(root=device.root, child_pid_namespace=_child_pid_namespace(lineage))
    sums = breakdown(sockets, owner_ctx)
    diag = kdiag.diagnose_live(parsed, sockets if socket_source == "ss" else None, sums=sums.by_netid_state)
    sockstat: dict[str, dict[str, int]] = {}
    for name in ("sockstat", "sockstat6"):
        if name in parsed:
            sockstat.update(sockstat_parser.as_dict(parsed[name]))
    kmem = kernel_memory.analyse(parsed)
    mem = meminfo.as_dict(parsed["meminfo"]) if "meminfo" in parsed else {}
    elsewhere = memory_elsewhere.analyse(parsed, mem, kmem.page_size)
    if ours.sockets:
        theirs = breakdown(sockets, owner_ctx, this_collect=False)
        answer = summary.summarise(theirs.totals, theirs.processes, kmem, elsewhere, this_collect_bytes=ours.memory)
    else:
        answer = summary.summarise(sums.totals, sums.processes, kmem, elsewhere)

    analysis = Analysis(
        capture=_capture_info(capture, source, wrapped=sum(wrapped)),
        device=device,
        kernel_diag=diag,
        sockets=sockets,
        socket_source=socket_source,
        totals=sums.totals,
        processes=sums.processes,
        by_netid=sums.by_netid,
        by_state=sums.by_state,
        sockstat=sockstat,
        kernel_memory=kmem,
        summary=answer,
        this_collect=ours,
        owner_context=owner_ctx,
        memory_elsewhere=elsewhere,
        ss_run=ss_said.run if isinstance(ss_said, SsOutput) else None,
        accounting=sockstat_vs_skmem.compare(sums.by_netid, kmem),
        parse_problems=problems,
        sections=list(capture.sections.values()),
        notes=list(capture.problems),
    )
    return Report.of(analysis, findings_mod.find(analysis))


def _child_pid_namespace(lineage: Sequence[object]) -> bool | None:
    """Whether the probe ran in a child PID namespace (kit.parsers.ancestry); None: the capture cannot tell."""
    ancestors = [r for r in lineage if isinstance(r, Ancestor)]
    if ancestors and len(ancestors[0].nspid) > 1:
        return True
    pid2 = next((r for r in lineage if isinstance(r, PidTwo)), None)
    return None if pid2 is None else not pid2.initial_namespace


def _device(capture: Capture, parsed: dict[str, Parsed[Any]]) -> DeviceInfo:
    from kit.parsers import os_release

    uname = _first(parsed.get("uname"))
    hostname: str | None = _first(parsed.get("hostname"))
    osr = os_release.as_dict(parsed["os_release"]) if "os_release" in parsed else {}
    os_name = osr.get("DISTRIB_DESCRIPTION") or osr.get("PRETTY_NAME") or None
    who: Identity | None = _first(parsed.get("id"))
    return DeviceInfo(
        hostname=hostname or (uname.nodename if uname else None),
        kernel_release=uname.release if uname else None,
        kernel_version=uname.version if uname else None,
        machine=uname.machine if uname else None,
        os_release=os_name,
        openwrt=os_release.openwrt_release(osr) is not None,
        user=who.text if who else None,
        root=who.root if who else None,
    )


def _capture_info(capture: Capture, source: str, wrapped: int = 0) -> CaptureInfo:
    """`wrapped`: lines the parsers glued back onto the line a terminal or mail client broke."""
    h = capture.header
    return CaptureInfo(
        file=source or None,
        target=h.get("target"),
        started=h.get("started"),
        finished=h.get("finished"),
        kit_version=h.get("kit_version"),
        host_key=h.get("host_key"),
        exit_status=h.get("exit_status"),
        partial=capture.partial,
        error=h.get("error"),
        raw_paste=capture.raw_paste,
        detected=h.get("detected"),
        hand_run=bool(h.get("hand_run")),
        lines_before=h.get("lines_before"),
        lines_after=h.get("lines_after"),
        unmangled=capture.undone + ((Undone(WRAPPED, wrapped),) if wrapped else ()),
    )
