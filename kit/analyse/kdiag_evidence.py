"""The kernel diag evidence in a capture: what each kdiag section, the config and /proc/modules say.

kit.analyse.kdiag judges the options on this; here what the sections'
parsers returned (each reads its own section's stderr and exit status:
kit.report.parse_section) is gathered, once, into one Evidence: the config
(and which file it came from: kit.parsers.kconfig.ConfigText.source),
/proc/modules before and after ss, the module files, modules.builtin,
/proc/kallsyms, the tools a remedy can use, OpenWrt, and why no config or no
ss list was there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.analyse.kdiag_facts import ConfigCut, ConfigFromFile, NoConfig, NoConfigReason, NoSocketList, Note
from kit.numbers import is_digits
from kit.parsers import kconfig as kconfig_parser
from kit.parsers import os_release as os_release_parser
from kit.parsers import proc_modules
from kit.parsers.kconfig import ConfigText
from kit.parsers.kdiag_listings import ConfigFiles, Listing, ModuleFiles
from kit.parsers.proc_modules import ModuleList
from kit.parsers.ss import SsOutput
from kit.records import KconfigOption, Parsed, Socket


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
    ss_note: NoSocketList | None = None  # why ss gave no socket list (when it gave none)
    notes: list[Note] = field(default_factory=list)


def gather(parsed: Mapping[str, Parsed[Any]], sockets: Sequence[Socket] | None) -> Evidence:
    """The evidence in one capture: what its sections' parsers read (kit.report.build's `parsed`;
    a section missing there is not in the capture), and ss's sockets (None: no socket list from ss)."""
    ev = Evidence(ss_sockets=sockets)
    _gather_config(parsed, ev)
    for name in ("modules_before", "modules_after"):
        modules = parsed.get(name)
        if not isinstance(modules, ModuleList):
            continue
        if modules.absent:
            ev.no_module_support = True
            continue
        if modules.unread:
            continue  # unreadable: says nothing
        setattr(ev, "before" if name == "modules_before" else "after", proc_modules.names(modules))
    module_files = parsed.get("kdiag_module_files")
    if isinstance(module_files, ModuleFiles) and module_files.looked:
        listed = module_files.records
        ev.files = {}
        if listed:
            ev.modules_dir = listed[0].path if listed[0].module is None else ""
            for f in listed:
                if f.module and f.module not in ev.files:
                    ev.files[f.module] = f.path
        else:  # looked: nothing there (or no module directory at all)
            ev.modules_dir = module_files.missing_dir or ""
            ev.modules_dir_missing = module_files.missing_dir is not None
    builtin = parsed.get("kdiag_modules_builtin")
    if isinstance(builtin, Listing) and builtin.read:
        ev.builtin = set(builtin.records)
    kallsyms = parsed.get("kdiag_kallsyms")
    if isinstance(kallsyms, Listing) and kallsyms.read:
        ev.kallsyms = {}
        for symbol in kallsyms.records:
            ev.kallsyms.setdefault(symbol.name, symbol.module)
    tools = parsed.get("kdiag_tools")
    if isinstance(tools, Listing) and tools.read:
        ev.tools = set(tools.records)
    if "os_release" in parsed:
        ev.openwrt = os_release_parser.openwrt_release(os_release_parser.as_dict(parsed["os_release"])) or ""
    ss = parsed.get("ss")
    if sockets is None:
        if not isinstance(ss, SsOutput):
            ev.ss_note = NoSocketList("not_run")
        elif ss.not_installed:
            ev.ss_note = NoSocketList("not_installed")
        else:
            ev.ss_note = NoSocketList("no_list", ss.said)
    return ev


def _gather_config(parsed: Mapping[str, Parsed[Any]], ev: Evidence) -> None:
    config = parsed.get("kconfig")
    files = parsed.get("kdiag_config_files")
    listing = files if isinstance(files, ConfigFiles) else None
    if listing is not None and listing.looked:
        if any(f.path == "/proc/config.gz" for f in listing.records):
            ev.proc_config = "exists"
        elif listing.proc_config_absent:
            ev.proc_config = "absent"
    if isinstance(config, ConfigText) and config.records:
        ev.config = kconfig_parser.as_dict(config)
        ev.config_source = config.source if config.source is not None else "kernel config (source not recorded)"
        ev.config_dialect = config.dialect
        if ev.config_source == "/proc/config.gz":
            ev.proc_config = "read"
        if config.cut:
            ev.config_cut = True
            ev.notes.append(ConfigCut(ev.config_source))
        if ev.config_source != "/proc/config.gz":
            ev.notes.append(ConfigFromFile(ev.config_source))
        return
    # No config: say why, file by file (the kconfig section hides zcat's complaint).
    reasons: list[NoConfigReason] = []
    listed = {f.path: list(f.fields) for f in (listing.records if listing else []) if len(f.fields) >= 5}
    complaints = [c.complaints for c in (listing, config) if isinstance(c, (ConfigFiles, ConfigText))]
    for path in ("/proc/config.gz", "/boot/config-", "/lib/modules/"):
        hit = next((p for p in listed if p.startswith(path)), None)
        if hit is not None:
            fields = listed[hit]
            size = fields[4] if len(fields) > 4 and is_digits(fields[4]) else None
            if size == "0" and not hit.startswith("/proc/"):
                reasons.append(NoConfigReason("empty", hit))
            elif any(c.refuses(hit) for c in complaints):
                reasons.append(NoConfigReason("denied", hit))
            elif not fields[0][1:].count("r"):
                reasons.append(NoConfigReason("mode", hit, fields[0]))
            elif hit == "/proc/config.gz":
                reasons.append(NoConfigReason("proc_unread", hit))
            else:
                reasons.append(NoConfigReason("unread", hit, " ".join(fields[:1])))
            continue
        error = next((e for e in (c.error(path) for c in complaints) if e is not None), None)
        if error is not None:
            reasons.append(NoConfigReason("error", error[0], error[1]))
        elif path == "/proc/config.gz" and files is not None:
            reasons.append(NoConfigReason("proc_absent", path))
    if not isinstance(config, ConfigText):
        reasons.insert(0, NoConfigReason("no_section"))
    elif not reasons:
        reasons.append(NoConfigReason("nothing_read", detail=config.said))
    ev.notes.append(NoConfig(tuple(reasons)))
