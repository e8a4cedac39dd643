"""Kernel diag verdicts in words: each Remedy as a command or a sentence, and the JSON `kernel_diag` object.

kit.analyse.kdiag chooses states and remedies as data (Remedy); this is the
one place a Remedy becomes words. The renderers (JSON, HTML, `kit kconfig`)
call it; so, for now, do the two places that still keep words in the
analysis because their contract is text: the kernel diag summary line
(KernelDiag.summary) and the kernel-diag finding (Finding.remedy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kit.analyse.kdiag import KernelDiag, Remedy


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
        entry: dict[str, Any] = {"state": ov.state, "evidence": list(ov.evidence), "required": name in diag.required}
        if ov.remedy:
            entry["remedy"] = describe_remedy(ov.remedy)
        options[name] = entry
    out: dict[str, Any] = {"verdict": diag.verdict, "summary": diag.summary, "options": options}
    if diag.notes:
        out["notes"] = list(diag.notes)
    return out
