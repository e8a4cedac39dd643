"""The kernel diag evidence in a capture: what each kdiag section, the config and /proc/modules say.

kit.analyse.kdiag judges the options on this; here the sections are read,
once, into one Evidence: the config (and which file it came from: the kconfig
section's SOURCE_MARKER line, read by kit.parsers.kconfig.source), /proc/modules before and after ss,
the module files, modules.builtin, /proc/kallsyms, the tools a remedy can
use, OpenWrt, and why no config or no ss list was there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kit.numbers import is_digits
from kit.parsers import kconfig as kconfig_parser
from kit.parsers import os_release as os_release_parser
from kit.parsers import proc_modules
from kit.parsers import ss as ss_parser
from kit.parsers.kdiag_listings import (
    ListedFile,
    ModuleFile,
    file_error,
    missing_modules_dir,
    proc_config_absent,
    refused,
    says_missing,
)
from kit.records import KconfigOption, Parsed, Socket
from kit.sections import MARKER

if TYPE_CHECKING:  # pragma: no cover
    from kit.capture import SectionOutput


@dataclass
class NetidTally:
    """What the functional proof needs to know about the sockets of one netid."""

    sockets: int = 0
    eligible: int = 0  # not in a state that never carries memory
    with_skmem: int = 0  # eligible ones ss printed skmem for
    states: set[str] = field(default_factory=set)  # states of the eligible ones


@dataclass
class Evidence:
    """Everything the capture says, gathered once from the sections."""

    config: dict[str, KconfigOption] | None = None  # None: no config was read
    config_source: str = ""
    config_dialect: str = "config"
    config_cut: bool = False  # the config text stops early: an option it lacks is unknown, not "n"
    proc_config: str | None = None  # "read", "exists" (unreadable), "absent"; None: not known
    before: set[str] | None = None  # module names in /proc/modules before ss
    after: set[str] | None = None
    no_module_support: bool = False  # no /proc/modules at all
    files: dict[str, str] | None = None  # module name -> path; None: not looked
    modules_dir: str = ""
    modules_dir_missing: bool = False
    builtin: set[str] | None = None  # module names in modules.builtin
    kallsyms: dict[str, str] | None = None  # symbol -> '' (built in) or module name
    tools: set[str] | None = None  # modprobe, insmod, opkg, apk found on the device
    openwrt: str = ""  # OpenWrt release when /etc/openwrt_release says so
    ss_sockets: Sequence[Socket] | None = None
    ss_tally: dict[str | None, NetidTally] | None = None  # made from ss_sockets on first use
    ss_note: str = ""
    notes: list[str] = field(default_factory=list)


def _records(parsed: Mapping[str, Parsed[Any]], name: str) -> list[Any]:
    """What the section's parser read (kit.parsers.kdiag_listings); [] when it printed nothing."""
    result = parsed.get(name)
    return result.records if result is not None else []


def gather(
    sections: Mapping[str, SectionOutput], parsed: Mapping[str, Parsed[Any]], sockets: Sequence[Socket] | None
) -> Evidence:
    """The evidence in one capture: its sections (exit status, stderr, cut short?) and what their parsers read."""
    ev = Evidence(ss_sockets=sockets)
    _gather_config(sections, parsed, ev)
    for name in ("modules_before", "modules_after"):
        sec = sections.get(name)
        if sec is None:
            continue
        text = sec.text
        if not text.strip() and says_missing(sec.stderr):
            ev.no_module_support = True
            continue
        if not text.strip() and not sec.ok:
            continue  # unreadable: says nothing
        modules = parsed.get(name)
        names = proc_modules.names(modules) if modules is not None else set()
        setattr(ev, "before" if name == "modules_before" else "after", names)
    sec = sections.get("kdiag_module_files")
    if sec is not None and sec.complete:
        listed: list[ModuleFile] = _records(parsed, "kdiag_module_files")
        if listed:
            ev.modules_dir = listed[0].path if listed[0].module is None else ""
            ev.files = {}
            for f in listed:
                if f.module and f.module not in ev.files:
                    ev.files[f.module] = f.path
        elif sec.ok or says_missing(sec.stderr):
            ev.files = {}  # looked: nothing there (or no module directory at all)
            missing_dir = missing_modules_dir(sec.stderr)
            ev.modules_dir = missing_dir or ""
            ev.modules_dir_missing = missing_dir is not None
    sec = sections.get("kdiag_modules_builtin")
    if sec is not None and (sec.text.strip() or sec.ok):
        ev.builtin = set(_records(parsed, "kdiag_modules_builtin"))
    sec = sections.get("kdiag_kallsyms")
    if sec is not None and sec.complete and not says_missing(sec.stderr):
        ev.kallsyms = {}
        for symbol in _records(parsed, "kdiag_kallsyms"):
            ev.kallsyms.setdefault(symbol.name, symbol.module)
    sec = sections.get("kdiag_tools")
    if sec is not None and sec.complete:
        ev.tools = set(_records(parsed, "kdiag_tools"))
    sec = sections.get("os_release")
    if sec is not None:
        values = os_release_parser.as_dict(parsed["os_release"]) if "os_release" in parsed else {}
        ev.openwrt = os_release_parser.openwrt_release(values) or ""
    sec = sections.get("ss")
    if sockets is None:
        if sec is None:
            ev.ss_note = "ss did not run"
        elif ss_parser.not_installed(sec.rc, sec.stderr):
            ev.ss_note = "ss is not installed on the device"
        else:
            ev.ss_note = "ss gave no socket list" + (f" ({first_line(sec.stderr)})" if sec.stderr else "")
    return ev


def first_line(text: str, limit: int = 120) -> str:
    for ln in (text or "").splitlines():
        if ln.strip() and not ln.startswith(MARKER.rstrip()):
            return ln.strip()[:limit]
    return ""


def _gather_config(sections: Mapping[str, SectionOutput], parsed: Mapping[str, Parsed[Any]], ev: Evidence) -> None:
    sec = sections.get("kconfig")
    files = sections.get("kdiag_config_files")
    listing: list[ListedFile] = _records(parsed, "kdiag_config_files") if files is not None else []
    if files is not None and files.complete:
        if any(f.path == "/proc/config.gz" for f in listing):
            ev.proc_config = "exists"
        elif proc_config_absent(files.stderr):
            ev.proc_config = "absent"
    if sec is not None:
        source = kconfig_parser.source(sec.stderr)
        text = sec.text
        config = parsed.get("kconfig")
        if text.strip() and config is not None and config.records:
            ev.config = kconfig_parser.as_dict(config)
            ev.config_source = source if source is not None else "kernel config (source not recorded)"
            ev.config_dialect = kconfig_parser.dialect(text)
            if ev.config_source == "/proc/config.gz":
                ev.proc_config = "read"
            if not sec.complete or sec.truncated:
                ev.config_cut = True
                ev.notes.append(f"{ev.config_source} was cut short: options after the cut are unknown")
            if ev.config_source != "/proc/config.gz":
                ev.notes.append(
                    f"config read from {ev.config_source}: it may belong to another build "
                    "than the running kernel; the live evidence decides where they disagree"
                )
            return
    # No config: say why, file by file (the kconfig section hides zcat's complaint).
    reasons = []
    listed = {f.path: list(f.fields) for f in listing if len(f.fields) >= 5}
    err = (files.stderr if files is not None else "") + "\n" + (sec.stderr if sec is not None else "")
    for path in ("/proc/config.gz", "/boot/config-", "/lib/modules/"):
        hit = next((p for p in listed if p.startswith(path)), None)
        if hit is not None:
            fields = listed[hit]
            size = fields[4] if len(fields) > 4 and is_digits(fields[4]) else None
            if size == "0" and not hit.startswith("/proc/"):
                reasons.append(f"{hit} is empty")
            elif refused(hit, err):
                reasons.append(f"{hit}: permission denied")
            elif not fields[0][1:].count("r"):
                reasons.append(f"{hit}: not readable (mode {fields[0]})")
            elif hit == "/proc/config.gz":
                reasons.append("/proc/config.gz exists but could not be read (zcat missing or failed?)")
            else:
                reasons.append(f"{hit} exists ({' '.join(fields[:1])}) but could not be read")
            continue
        error = file_error(path, err)
        if error is not None:
            reasons.append(f"{error[0]}: {error[1]}")
        elif path == "/proc/config.gz" and files is not None:
            reasons.append("/proc/config.gz: absent (CONFIG_IKCONFIG_PROC not set)")
    if sec is None:
        reasons.insert(0, "the capture has no kernel config section")
    elif not reasons:
        reasons.append(f"no config file could be read ({first_line(sec.stderr) or 'nothing printed'})")
    ev.notes.append("no kernel config read: " + "; ".join(reasons))
