"""Can this kernel give `ss` per-socket memory? A verdict per option, with the evidence named.

`ss -m` gets skmem:(...) only through the sock_diag netlink families:
inet_diag plus tcp_diag / udp_diag / raw_diag for TCP, UDP and raw sockets,
unix_diag, netlink_diag and af_packet_diag for the others. Where a family is
missing, ss quietly falls back to /proc/net/{tcp,udp,raw,unix,netlink,packet}
and prints the sockets without any memory.

Live (`diagnose_live`), the evidence is ranked:

1. the functional proof: did ss print skmem for sockets that can carry it
   (TIME-WAIT and SYN-RECV never do)? A working family is built in, or a
   loaded module; a failing one is absent, or a module that is not loaded;
2. /proc/modules before and after ss (ss can make the kernel autoload
   inet_diag and friends: named when it did);
3. modules.builtin and /proc/kallsyms (`tcp_diag_get_info [tcp_diag]` is a
   module, without the bracket it is built in);
4. the module files under /lib/modules/$(uname -r) (.ko, .ko.xz/.gz/.zst);
5. the config file the probe could read (/proc/config.gz is this kernel's;
   /boot/config-* and /lib/modules/*/config may belong to another build, and
   a disagreement with 1-4 is said).

Offline (`diagnose_config`) only the config speaks: =y builtin, =m module,
not set absent; a defconfig that does not mention an option gets the
Kconfig default, said as such.

States and verdicts are the report contract (docs/design.md, "Kernel diag states").

Why ~500 lines in one module: each option's state, evidence and remedy are
chosen together from the same Evidence (kit.analyse.kdiag_evidence gathers
it from what the parsers read), and the live and offline verdicts share the
protocol rules and the summary. States, evidence, notes, remedies and the
summary are data (kit.analyse.kdiag_facts); kit.render.kdiag_text is the one
place they become words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit.analyse.kdiag_evidence import Evidence, NetidTally, gather
from kit.analyse.kdiag_facts import (
    STATES,
    VERDICTS,
    BuiltAsModule,
    BuiltInOrLoaded,
    ConfigDefault,
    ConfigDepsUnmet,
    ConfigDisagrees,
    ConfigLine,
    EveryFamilyFailed,
    EvidenceItem,
    InKallsyms,
    InModulesBuiltin,
    InProcModules,
    KernelDiag,
    LoadedWithoutMemory,
    ModuleFileFound,
    Needs,
    NoEligibleSocket,
    NoModuleDir,
    NoModuleFile,
    NoModuleSupport,
    NoSocketList,
    NotInKallsyms,
    OptionVerdict,
    ProcConfig,
    Remedy,
    SkmemMissing,
    SkmemShown,
    Summary,
    UnexpectedValue,
)
from kit.analyse.totals import Totals, breakdown
from kit.diag_options import EXTRA_SYMBOLS, OPTIONS, REQUIRED, SPECS, DiagOption
from kit.parsers import kconfig as kconfig_parser
from kit.records import KconfigOption, Parsed, Socket

__all__ = ["STATES", "VERDICTS", "KernelDiag", "OptionVerdict", "Remedy", "diagnose_config", "diagnose_live"]

OK_STATES = ("builtin", "loaded")
# TIME-WAIT and SYN-RECV sockets are minisocks: the kernel has no sk_buff
# accounting for them, so ss never prints skmem there, whatever the kernel.
NO_MEMORY_STATES = frozenset({"TIME-WAIT", "SYN-RECV"})


PROTOCOLS = (("TCP", "tcp", "CONFIG_INET_TCP_DIAG"), ("UDP", "udp", "CONFIG_INET_UDP_DIAG"))


# --------------------------------------------------------------------- live


@dataclass
class _Functional:
    works: bool | None  # None: nothing to judge on
    evidence: EvidenceItem | None


def _tally(sums: Mapping[tuple[str | None, str | None], Totals]) -> dict[str | None, NetidTally]:
    """Every option's proof from the sums per (netid, state) (kit.analyse.totals.breakdown's
    by_netid_state): the report has them already, so no walk of the socket list here."""
    tally: dict[str | None, NetidTally] = {}
    for (netid, state), cell in sums.items():
        t = tally.get(netid)
        if t is None:
            t = tally[netid] = NetidTally()
        t.sockets += cell.sockets
        if state not in NO_MEMORY_STATES:
            t.eligible += cell.sockets
            t.states.add(state or "?")
            t.with_skmem += cell.with_skmem
    return tally


def _functional(ev: Evidence, netids: tuple[str, ...], label: str) -> _Functional:
    if not netids:
        return _Functional(None, None)
    if ev.ss_sockets is None:
        return _Functional(None, ev.ss_note or NoSocketList("not_run"))
    if ev.ss_tally is None:
        ev.ss_tally = _tally(breakdown(ev.ss_sockets).by_netid_state)
    tallies = [ev.ss_tally[n] for n in netids if n in ev.ss_tally]
    eligible = sum(t.eligible for t in tallies)
    if not eligible:
        return _Functional(None, NoEligibleSocket(label, sum(t.sockets for t in tallies)))
    with_mem = sum(t.with_skmem for t in tallies)
    if with_mem:
        return _Functional(True, SkmemShown(label, with_mem, eligible))
    states = tuple(sorted(set().union(*(t.states for t in tallies))))
    return _Functional(False, SkmemMissing(label, eligible, states))


def _config_line(source: str, option: KconfigOption | None, name: str) -> ConfigLine:
    return ConfigLine(source, name, option is not None, option.value if option is not None else None)


def _config_value(ev: Evidence, name: str) -> str | None:
    """'y', 'm', 'n', or None when the config does not say (or there is none)."""
    if ev.config is None:
        return None
    option = ev.config.get(name)
    if option is None:
        if ev.config_dialect == "config" and not ev.config_cut:
            return "n"  # a full .config omits options whose dependencies are not met
        return None
    return "n" if option.value is None else kconfig_parser.unquote(option.value)


def _option_live(spec: DiagOption, ev: Evidence, verdicts: dict[str, OptionVerdict]) -> OptionVerdict:
    evidence: list[EvidenceItem] = []
    name, mod = spec.name, spec.module
    # --- functional proof
    func = _Functional(None, None)
    if name == "CONFIG_INET_DIAG":
        parts = [_functional(ev, (n,), n) for n in spec.netids]
        if any(p.works for p in parts):
            func = next(p for p in parts if p.works)
        elif any(p.works is False for p in parts):
            # Every inet family failed: inet_diag itself, or each protocol module.
            failed = tuple(p.evidence for p in parts if p.works is False and isinstance(p.evidence, SkmemMissing))
            func = _Functional(False, EveryFamilyFailed(failed))
        else:
            func = parts[0]
    elif name in ("CONFIG_IKCONFIG", "CONFIG_IKCONFIG_PROC"):
        if ev.proc_config in ("read", "exists"):
            func = _Functional(True, ProcConfig(ev.proc_config))
        elif ev.proc_config == "absent" and name == "CONFIG_IKCONFIG_PROC":
            func = _Functional(False, ProcConfig("absent"))
    else:
        func = _functional(
            ev,
            spec.netids,
            spec.netids[0]
            if len(spec.netids) == 1
            else {"u_str": "unix", "nl": "netlink", "p_raw": "packet"}.get(spec.netids[0], "?"),
        )
    if func.evidence is not None:
        evidence.append(func.evidence)
    # --- modules
    loaded_before = mod is not None and ev.before is not None and mod in ev.before
    loaded_after = mod is not None and ev.after is not None and mod in ev.after
    loaded = loaded_before or loaded_after
    lists_known = ev.before is not None or ev.after is not None
    if mod is not None:
        if loaded_after and not loaded_before and ev.before is not None:
            evidence.append(InProcModules(mod, "autoloaded"))
        elif loaded:
            evidence.append(InProcModules(mod, "loaded"))
        elif lists_known:
            evidence.append(InProcModules(mod, "not_loaded"))
    if ev.no_module_support and not lists_known:
        evidence.append(NoModuleSupport())
    # --- built in / kallsyms / files
    in_builtin = mod is not None and ev.builtin is not None and mod in ev.builtin
    if in_builtin and mod is not None:
        evidence.append(InModulesBuiltin(mod))
    sym_module: str | None = None  # '' built in, name: module, None: not seen / not read
    if ev.kallsyms is not None:
        symbols = [spec.symbol] + [s for s, o in EXTRA_SYMBOLS.items() if o == name]
        for sym in symbols:
            if sym in ev.kallsyms:
                sym_module = ev.kallsyms[sym]
                evidence.append(InKallsyms(sym, sym_module))
                break
    if ev.kallsyms is not None and sym_module is None and not loaded and name != "CONFIG_IKCONFIG":
        evidence.append(NotInKallsyms(spec.symbol))
    path = ev.files.get(mod) if (ev.files is not None and mod) else None
    if path:
        evidence.append(ModuleFileFound(path))
    elif ev.files is not None and mod and not loaded and not in_builtin and not ev.no_module_support:
        if ev.modules_dir_missing:
            evidence.append(NoModuleDir(ev.modules_dir))
        else:
            evidence.append(NoModuleFile(mod, ev.modules_dir))
    # --- config
    value = _config_value(ev, name)
    if ev.config is not None:
        evidence.append(_config_line(ev.config_source, ev.config.get(name), name))
    # --- decide
    strong_builtin = in_builtin or sym_module == ""
    if func.works:
        if loaded or sym_module:
            state = "loaded"
        elif lists_known or ev.no_module_support or strong_builtin or not (value == "m" or path):
            state = "builtin"
        else:
            state = "loaded"  # works, is a module (=m / file), no module list to confirm
        if not (lists_known or ev.no_module_support or strong_builtin or value):
            evidence.append(BuiltInOrLoaded())
    elif func.works is False:
        if loaded:
            state = "loaded"
            evidence.append(LoadedWithoutMemory(mod or ""))
        elif path:
            state = "available"
        else:
            state = "absent"
    elif loaded or sym_module:
        state = "loaded"
    elif strong_builtin:
        state = "builtin"
    elif path:
        state = "available"
    elif value == "y":
        state = "builtin"
    elif value == "m":
        state = "absent" if (lists_known and ev.files is not None) else "module"
    elif value == "n":
        state = "absent"
    elif (
        ev.kallsyms is not None
        and sym_module is None
        and name != "CONFIG_IKCONFIG"
        and (ev.no_module_support or ev.files is not None)
    ):
        # Readable kallsyms without its code, and no module file to load: not there.
        state = "absent"
    else:
        state = "unknown"
    # --- disagreements (the config may be from another build)
    if ev.config is not None and value is not None:
        says_in = value in ("y", "m")
        is_in = state in ("builtin", "loaded", "available")
        if func.works is not None and says_in != bool(func.works) and is_in != says_in:
            evidence.append(ConfigDisagrees(ev.config_source, "ss"))
        elif value == "y" and state == "loaded":
            evidence.append(ConfigDisagrees(ev.config_source, "builtin_but_loaded"))
        elif value in ("n",) and state in ("loaded", "available") and ev.config.get(name) is not None:
            evidence.append(ConfigDisagrees(ev.config_source, "unset_but_there"))
    remedy = None if state in OK_STATES else _remedy_live(spec, state, ev, verdicts)
    return OptionVerdict(state, tuple(evidence), remedy)


def _remedy_live(spec: DiagOption, state: str, ev: Evidence, verdicts: dict[str, OptionVerdict]) -> Remedy:
    if state in ("available", "module"):
        return _load_command(spec, ev, verdicts)
    if state == "absent":
        fix = _install_or_build(spec, ev, verdicts)
        if spec.module and ev.files is None and not ev.no_module_support and ev.before is None and ev.after is None:
            # Only ss spoke: a module may yet be there, unloaded.
            return Remedy("probe_first", modules=(spec.module,), then=fix)
        return fix
    # unknown
    if ev.config_cut:
        return Remedy("recollect")
    if ev.config is None:
        return Remedy("no_evidence")
    return _install_or_build(spec, ev, verdicts)


def _load_command(spec: DiagOption, ev: Evidence, verdicts: dict[str, OptionVerdict]) -> Remedy:
    chain = []
    for dep in spec.depends:
        dspec = SPECS.get(dep)
        if dspec and dspec.module and verdicts.get(dep) and verdicts[dep].state not in OK_STATES:
            chain.append(dspec)
    chain.append(spec)
    modules = (spec.module,) if spec.module else ()
    if ev.tools is None or "modprobe" in ev.tools:
        return Remedy("modprobe", modules=modules)  # modprobe loads the dependencies itself
    if "insmod" in ev.tools and ev.files is not None:
        files = ev.files
        paths = tuple(files[s.module] for s in chain if s.module and s.module in files)
        if len(paths) == len(chain):
            return Remedy("insmod", modules=modules, paths=paths)
    return Remedy("modprobe_or_insmod", modules=modules)


def _install_or_build(spec: DiagOption, ev: Evidence, verdicts: Mapping[str, OptionVerdict]) -> Remedy:
    def value_of(dep: str) -> str | None:
        if dep in verdicts:
            return {"absent": "n", "builtin": "y", "loaded": "y"}.get(verdicts[dep].state)
        return _config_value(ev, dep)

    lines = _config_lines(spec, value_of)
    if _config_value(ev, spec.name) == "m" and spec.module and ev.files is not None:
        return Remedy(
            "modules_missing",
            modules=(spec.module,),
            config_lines=lines,
            package=spec.openwrt if ev.openwrt and spec.openwrt else "",
            source=ev.config_source,
            where=ev.modules_dir or "/lib/modules/$(uname -r)",
            option=spec.name,
        )
    if ev.openwrt and spec.openwrt:
        pm = (
            "apk add"
            if ev.tools is not None and "apk" in ev.tools and "opkg" not in ev.tools
            else "opkg update && opkg install"
        )
        return Remedy("install", package=spec.openwrt, package_manager=pm, source=ev.openwrt)
    if ev.openwrt:
        return Remedy("openwrt_rebuild", config_lines=lines)
    return Remedy("rebuild", config_lines=lines)


def _config_lines(spec: DiagOption, value_of: Callable[[str], str | None]) -> tuple[str, ...]:
    """The config lines to add: the option and any dependency the config does not have."""
    wanted = [f"{spec.name}=y"]
    for dep in spec.depends:
        if value_of(dep) == "n":  # known to be off (None: nobody says; leave it out)
            wanted.insert(0, f"{dep}=y")
    return tuple(wanted)


def _protocol_capability(
    options: Mapping[str, OptionVerdict], ev: Evidence | None, netid: str, option: str, offline: bool
) -> bool | None:
    good = ("builtin", "loaded", "module") if offline else OK_STATES
    bad = ("absent",) if offline else ("absent", "available")
    if ev is not None:
        func = _functional(ev, (netid,), netid)
        if func.works is not None:
            return func.works
    states = [options[n].state for n in ("CONFIG_INET_DIAG", option)]
    if all(s in good for s in states):
        return True
    if any(s in bad for s in states):
        return False
    return None


def _verdict(
    options: Mapping[str, OptionVerdict], ev: Evidence | None, offline: bool
) -> tuple[str, dict[str, bool | None]]:
    caps = {label: _protocol_capability(options, ev, netid, opt, offline) for label, netid, opt in PROTOCOLS}
    values = list(caps.values())
    if all(v is True for v in values):
        return "ok", caps
    if any(v is True for v in values):
        return "partial", caps
    if any(v is False for v in values):
        return "missing", caps
    return "unknown", caps


def _summary(
    verdict: str,
    caps: dict[str, bool | None],
    options: Mapping[str, OptionVerdict],
    ev: Evidence | None,
    offline: bool,
) -> Summary:
    """The summary line's facts; kit.render.kdiag_text.summary_text words them."""
    required = [(n, options[n]) for n in REQUIRED]
    return Summary(
        offline=offline,
        capabilities=tuple(caps.items()),
        states=tuple((SPECS[n].module or "", v.state) for n, v in required),
        fix=_combined_fix([v for _, v in required]),
        fell_back=verdict == "missing" and not offline and ev is not None and ev.ss_sockets is not None,
    )


def _combined_fix(verdicts: list[OptionVerdict]) -> Remedy | None:
    """One remedy for the summary line, merging the required options' own remedies."""
    remedies = list(dict.fromkeys(v.remedy for v in verdicts if v.remedy and v.state != "unknown"))
    remedies = remedies or list(dict.fromkeys(v.remedy for v in verdicts if v.remedy))
    if not remedies:
        return None
    if len(remedies) > 1 and all(r.kind == "modprobe" and len(r.modules) == 1 for r in remedies):
        return Remedy("modprobe", modules=tuple(r.modules[0] for r in remedies))
    for kind in ("rebuild", "config_rebuild"):
        if all(r.kind == kind for r in remedies):
            return Remedy(kind, config_lines=tuple(dict.fromkeys(w for r in remedies for w in r.config_lines)))
    return remedies[0]


def _only_required(options: dict[str, OptionVerdict], required: Sequence[str]) -> dict[str, OptionVerdict]:
    """Remedies for the required options only: the extra ones absent are information, not failures."""
    return {
        name: ov if name in required or ov.remedy is None else OptionVerdict(ov.state, ov.evidence, None)
        for name, ov in options.items()
    }


def diagnose_live(
    parsed: Mapping[str, Parsed[Any]],
    sockets: Sequence[Socket] | None,
    required: Sequence[str] = REQUIRED,
    sums: Mapping[tuple[str | None, str | None], Totals] | None = None,
) -> KernelDiag:
    """The running kernel's verdict from one capture: what its sections' parsers read
    (kit.report.build's `parsed`), and ss's sockets (None: ss did not run). Only `required`
    options get a remedy. `sums`: the sockets' breakdown by_netid_state when the caller
    has it (kit.report.build), else it is taken here."""
    ev = gather(parsed, sockets)
    if sums is not None and sockets is not None:
        ev.ss_tally = _tally(sums)
    options: dict[str, OptionVerdict] = {}
    for name in OPTIONS:  # in order: dependencies come before what needs them
        options[name] = _option_live(SPECS[name], ev, options)
    # A dependency that is missing explains its dependants; say it on them.
    for name in OPTIONS:
        spec = SPECS[name]
        for dep in spec.depends:
            if (
                dep in options
                and options[dep].state in ("absent", "available")
                and options[name].state not in OK_STATES
            ):
                ov = options[name]
                options[name] = OptionVerdict(ov.state, ov.evidence + (Needs(dep, options[dep].state),), ov.remedy)
    verdict, caps = _verdict(options, ev, offline=False)
    summary = _summary(verdict, caps, options, ev, offline=False)
    return KernelDiag(verdict, _only_required(options, required), summary, tuple(ev.notes), tuple(required))


# --------------------------------------------------------------------- offline


def _default(spec: DiagOption, value_of: Callable[[str], str | None]) -> str:
    if spec.default.startswith("="):
        return value_of(spec.default[1:]) or "n"
    if spec.default == "y" and any(value_of(d) not in ("y", "m") for d in spec.depends):
        return "n"
    return spec.default


def diagnose_config(
    options: Mapping[str, KconfigOption | None],
    source: str,
    *,
    dialect: str = "config",
    required: Sequence[str] = REQUIRED,
) -> KernelDiag:
    """Offline verdict from a config: =y builtin, =m module, not set (or missing) absent.

    `dialect` 'defconfig': an option the file does not mention takes its Kconfig
    default (savedefconfig leaves out whatever equals the default).
    """

    def value_of(name: str) -> str | None:
        option = options.get(name)
        if option is None:
            if dialect == "defconfig":
                spec = SPECS.get(name)
                return _default(spec, value_of) if spec else None
            return "n"
        return "n" if option.value is None else kconfig_parser.unquote(option.value)

    result: dict[str, OptionVerdict] = {}
    for name in OPTIONS:
        spec = SPECS[name]
        option = options.get(name)
        value = value_of(name)
        evidence: list[EvidenceItem]
        if option is not None:
            evidence = [_config_line(source, option, name)]
        elif dialect == "defconfig":
            evidence = [ConfigDefault(source, name, value)]
        else:
            evidence = [ConfigDepsUnmet(source, name)]
        if value == "y":
            state = "builtin"
        elif value == "m":
            state = "module" if spec.module else "builtin"
            if spec.module:
                evidence.append(BuiltAsModule(spec.module))
        elif value in ("n", None) or value == "":
            state = "absent"
        else:
            state = "unknown"
            evidence.append(UnexpectedValue(value))
        for dep in spec.depends:
            if state == "absent" and value_of(dep) not in ("y", "m"):
                evidence.append(Needs(dep))
        remedy = None
        if state in ("absent", "unknown"):
            remedy = Remedy("config_rebuild", config_lines=_config_lines(spec, value_of))
        result[name] = OptionVerdict(state, tuple(evidence), remedy)
    verdict, caps = _verdict(result, None, offline=True)
    summary = _summary(verdict, caps, result, None, offline=True)
    return KernelDiag(verdict, _only_required(result, required), summary, required=tuple(required))
