"""Kernel diag verdicts in words: evidence, notes, remedies, the summary line, the JSON `kernel_diag` object.

kit.analyse.kdiag chooses states, evidence, notes, remedies and the summary's
facts as data (kit.analyse.kdiag_facts); this is the one place they become
words. The renderers (JSON, text, HTML, `kit kconfig`) and the kernel-diag
finding's wording (kit.render.finding_text) call it. The JSON contract
(docs/design.md) keeps evidence, notes, remedy and summary as strings: these
functions give them.
"""

from __future__ import annotations

from typing import Any

from kit.analyse import kdiag_facts as f
from kit.analyse.kdiag_facts import KernelDiag, Remedy

_SS_NOTE = {"not_run": "ss did not run", "not_installed": "ss is not installed on the device"}
_PROC_MODULES = {
    "autoloaded": "ss autoloaded {m} (in /proc/modules after ss ran, not before)",
    "loaded": "/proc/modules: {m} loaded",
    "not_loaded": "/proc/modules: {m} not loaded (before or after ss)",
}
_PROC_CONFIG = {
    "read": "/proc/config.gz was read",
    "exists": "/proc/config.gz exists (unreadable here)",
    "absent": "no /proc/config.gz",
}
_DISAGREES = {
    "ss": "the config disagrees with what ss showed: trust ss ({s} may belong to another build)",
    "builtin_but_loaded": "{s} says built in, but it is a loaded module: the config belongs to another build",
    "unset_but_there": "{s} says not set, but the module is there: the config belongs to another build",
}


def _ss_note(note: f.NoSocketList) -> str:
    if note.why == "no_list":
        return "ss gave no socket list" + (f" ({note.said})" if note.said else "")
    return _SS_NOTE.get(note.why, "ss did not run")


def _skmem_missing(e: f.SkmemMissing) -> str:
    return f"ss printed no skmem for {e.eligible} {e.label} sockets ({', '.join(e.states)}): it fell back to /proc"


def _config_line(e: f.ConfigLine) -> str:
    if not e.present:
        return f"{e.name} not in the config"
    if e.value is None:
        return f"# {e.name} is not set"
    return f"{e.name}={e.value}"


def evidence_text(e: f.EvidenceItem) -> str:
    """One evidence item as the report says it (JSON `kernel_diag.options.*.evidence`)."""
    if isinstance(e, f.NoSocketList):
        return f"{_ss_note(e)}: no functional proof"
    if isinstance(e, f.NoEligibleSocket):
        extra = f" ({e.skipped} in TIME-WAIT/SYN-RECV, which never carry it)" if e.skipped else ""
        return f"no {e.label} socket that can carry memory in the capture{extra}"
    if isinstance(e, f.SkmemShown):
        return f"ss printed skmem for {e.with_skmem} of {e.eligible} {e.label} sockets"
    if isinstance(e, f.SkmemMissing):
        return _skmem_missing(e)
    if isinstance(e, f.EveryFamilyFailed):
        return "; ".join(_skmem_missing(p) for p in e.parts)
    if isinstance(e, f.ProcConfig):
        return _PROC_CONFIG[e.state]
    if isinstance(e, f.InProcModules):
        return _PROC_MODULES[e.state].format(m=e.module)
    if isinstance(e, f.NoModuleSupport):
        return "no /proc/modules: the kernel has no loadable module support"
    if isinstance(e, f.InModulesBuiltin):
        return f"modules.builtin lists {e.module}.ko"
    if isinstance(e, f.InKallsyms):
        return f"/proc/kallsyms: {e.symbol} " + (f"[{e.module}]" if e.module else "(built in)")
    if isinstance(e, f.NotInKallsyms):
        return f"/proc/kallsyms has no {e.symbol}: not built in, no module loaded"
    if isinstance(e, f.ModuleFileFound):
        return f"module file {e.path}"
    if isinstance(e, f.NoModuleDir):
        return f"no module directory {e.path}"
    if isinstance(e, f.NoModuleFile):
        return f"no {e.module}.ko* under {e.where or '/lib/modules/$(uname -r)'}"
    if isinstance(e, f.ConfigLine):
        return f"{e.source}: {_config_line(e)}"
    if isinstance(e, f.ConfigDefault):
        return f"{e.source}: not mentioned, so the Kconfig default applies: {e.name}={e.value}"
    if isinstance(e, f.ConfigDepsUnmet):
        return f"{e.source}: {e.name} not in the config (its dependencies are not met)"
    if isinstance(e, f.BuiltAsModule):
        return f"built as {e.module}.ko: loaded on demand (ss autoloads it where modprobe works)"
    if isinstance(e, f.UnexpectedValue):
        return f"unexpected value {e.value!r} for a tristate option"
    if isinstance(e, f.ConfigDisagrees):
        return _DISAGREES[e.kind].format(s=e.source)
    if isinstance(e, f.BuiltInOrLoaded):
        return "no module list or config in the capture: built in, or a loaded module"
    if isinstance(e, f.LoadedWithoutMemory):
        return f"{e.module} is loaded, yet ss printed no memory"
    return f"needs {e.dependency}, which is {e.state or 'not set either'}"


def evidence_texts(verdict: f.OptionVerdict) -> list[str]:
    """An option's evidence, each item in words."""
    return [evidence_text(e) for e in verdict.evidence]


def _reason_text(r: f.NoConfigReason) -> str:
    if r.kind == "no_section":
        return "the capture has no kernel config section"
    if r.kind == "empty":
        return f"{r.path} is empty"
    if r.kind == "denied":
        return f"{r.path}: permission denied"
    if r.kind == "mode":
        return f"{r.path}: not readable (mode {r.detail})"
    if r.kind == "proc_unread":
        return "/proc/config.gz exists but could not be read (zcat missing or failed?)"
    if r.kind == "unread":
        return f"{r.path} exists ({r.detail}) but could not be read"
    if r.kind == "error":
        return f"{r.path}: {r.detail}"
    if r.kind == "proc_absent":
        return "/proc/config.gz: absent (CONFIG_IKCONFIG_PROC not set)"
    return f"no config file could be read ({r.detail or 'nothing printed'})"


def note_text(note: f.Note) -> str:
    """One note about the evidence (JSON `kernel_diag.notes`)."""
    if isinstance(note, f.ConfigCut):
        return f"{note.source} was cut short: options after the cut are unknown"
    if isinstance(note, f.ConfigFromFile):
        return (
            f"config read from {note.source}: it may belong to another build "
            "than the running kernel; the live evidence decides where they disagree"
        )
    return "no kernel config read: " + "; ".join(_reason_text(r) for r in note.reasons)


def note_texts(diag: KernelDiag) -> list[str]:
    return [note_text(n) for n in diag.notes]


def summary_text(diag: KernelDiag) -> str:
    """The one-line kernel diag summary (JSON `kernel_diag.summary`, the report's first screen)."""
    facts, verdict = diag.summary, diag.verdict
    yes = [p for p, v in facts.capabilities if v is True]
    no = [p for p, v in facts.capabilities if v is False]
    unk = [p for p, v in facts.capabilities if v is None]
    states = ", ".join(f"{module} {state}" for module, state in facts.states)
    fix = describe_remedy(facts.fix) if facts.fix is not None else None
    offline = facts.offline
    can = "this kernel can give" if offline else "ss can show"
    if verdict == "ok":
        return f"{can} socket memory for TCP and UDP ({states})"
    if verdict == "unknown":
        why = (
            "no TCP or UDP socket to test on and no config or module evidence"
            if not offline
            else "the config does not say"
        )
        return f"cannot tell whether {can.split(' ', 1)[1] if offline else 'ss can show'} socket memory: {why}" + (
            f" — {fix}" if fix else ""
        )
    parts = []
    if yes:
        parts.append(f"memory for {' and '.join(yes)} only")
    if no:
        parts.append(f"no memory for {' and '.join(no)}")
    if unk:
        parts.append(f"{' and '.join(unk)} unknown")
    text = ("kernel config: " if offline else "ss: ") + ", ".join(parts) + f" ({states})"
    if facts.fell_back:
        text += "; ss fell back to /proc (queue bytes only)"
    if fix:
        text += f" — fix: {fix}"
    return text


def describe_remedy(remedy: Remedy) -> str:
    """The remedy in words, as the report, the JSON `remedy` and `kit kconfig` say it."""
    lines = " ".join(remedy.config_lines)
    module = remedy.modules[0] if remedy.modules else ""
    if remedy.kind == "modprobe":
        return ("modprobe -a " if len(remedy.modules) > 1 else "modprobe ") + " ".join(remedy.modules)
    if remedy.kind == "insmod":
        cmds = " && ".join(f"insmod {p}" for p in remedy.paths)
        if any(p.endswith((".xz", ".gz", ".zst")) for p in remedy.paths):
            cmds += "  (compressed: needs an insmod that reads them, e.g. kmod's)"
        return cmds
    if remedy.kind == "modprobe_or_insmod":
        return f"modprobe {module}  (or insmod the .ko file)"
    if remedy.kind == "probe_first" and remedy.then is not None:
        return f"modprobe {module}; if there is no such module: {describe_remedy(remedy.then)}"
    if remedy.kind == "modules_missing":
        where = (
            f"install the modules that belong to this kernel (OpenWrt: opkg install {remedy.package}; "
            "Debian: the linux-image package of $(uname -r))"
            if remedy.package
            else "install the modules that belong to this kernel"
        )
        return (
            f"{remedy.source} says {remedy.option}=m but there is no {module}.ko under {remedy.where}: "
            f"{where}, or rebuild with: {lines}"
        )
    if remedy.kind == "install":
        return (
            f"{remedy.package_manager} {remedy.package}  (OpenWrt {remedy.source}; a custom build: enable "
            f"{remedy.package} under Kernel modules > Network Support)"
        )
    if remedy.kind == "openwrt_rebuild":
        return f"no OpenWrt package known to kit ships it: add to the target's kernel config and rebuild: {lines}"
    if remedy.kind == "rebuild":
        return f"rebuild the kernel with: {lines}"
    if remedy.kind == "config_rebuild":
        return f"add to the config and rebuild: {lines}"
    if remedy.kind == "recollect":
        return (
            "the kernel config in the capture stops before this option: run kit collect again "
            "(a complete capture decides), or check the build's .config with `kit kconfig`"
        )
    return (
        "no evidence either way: make the kernel's config readable (CONFIG_IKCONFIG=y and "
        "CONFIG_IKCONFIG_PROC=y give /proc/config.gz), or check the build's .config with "
        "`kit kconfig` (OpenWrt: build_dir/target-*/linux-*/linux-*/.config)"
    )


def kdiag_json(diag: KernelDiag) -> dict[str, Any]:
    """The JSON `kernel_diag` object (docs/design.md): evidence as a list of strings, the remedy in words."""
    options = {}
    for name, ov in diag.options.items():
        entry: dict[str, Any] = {
            "state": ov.state,
            "evidence": evidence_texts(ov),
            "required": name in diag.required,
        }
        if ov.remedy:
            entry["remedy"] = describe_remedy(ov.remedy)
        options[name] = entry
    out: dict[str, Any] = {"verdict": diag.verdict, "summary": summary_text(diag), "options": options}
    if diag.notes:
        out["notes"] = note_texts(diag)
    return out
