"""`kit kconfig PATH... [--require OPT[,OPT...]] [--format text|json]`: gate a kernel build.

Each PATH may be a plain .config or defconfig, a gzip'ed one (config.gz, a
copy of /proc/config.gz), or a kernel image built with CONFIG_IKCONFIG
(vmlinux, zImage, bzImage, uImage, FIT, Image.gz, configs.ko ...; see
kit.kconfig.image). Every file gets the same per-option states as a live
device (`module` for =m) and a checklist of the required options.

Exit codes (docs/design.md): 0 every required option is =y or =m in every file;
1 one is missing somewhere; 2 a file cannot be read, is not a config, or is
an image without IKCONFIG (raised as kit.errors.InputError, before any
output, so a CI log never shows half a result). The check logic is
kit.analyse.kdiag.diagnose_config; this module only loads and reports.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from kit.analyse import kdiag
from kit.bounded_read import read_file
from kit.diag_options import OPTIONS, REQUIRED
from kit.errors import ExitStatus, InputError, UsageError
from kit.kconfig import image as kconfig_image
from kit.parsers import kconfig as kconfig_parser
from kit.records import KconfigOption, Parsed
from kit.render.kdiag_text import describe_remedy, kdiag_json, summary_text
from kit.terminal_text import visible

SCHEMA = "kit.kconfig/1"
_CONFIG_LINE = re.compile(rb"^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)", re.M)
_OPTION_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
BUILD_HINT = (
    "rebuild with CONFIG_IKCONFIG=y (and CONFIG_IKCONFIG_PROC=y for /proc/config.gz on the "
    "device), or pass the build tree's .config instead"
)


@dataclass(frozen=True)
class Loaded:
    path: str
    kind: str  # "config", "config.gz", or the image's description
    where: str  # how the config was reached inside an image ("" for a plain file)
    text: str


MIB = 1024 * 1024
# Limits on what `kit kconfig` reads (docs/safety.md): a kernel image with its
# config is 2-80 MiB (a vmlinux with debug info a few hundred); a .config is
# about 300 KiB, so a config.gz unpacking past 64 MiB is a bomb, not a config.
MAX_INPUT = 1024 * MIB
MAX_CONFIG = 64 * MIB


def _looks_like_config(data: bytes) -> bool:
    head = data[:65536]
    return b"\x00" not in head[:4096] and _CONFIG_LINE.search(head) is not None


def load(path: str) -> Loaded:
    """Read one PATH into config text; InputError when it cannot be done."""
    if Path(path).is_dir():
        raise InputError(f"{path} is a directory, not a kernel config or image", "pass the .config inside a build tree")
    data = read_file(path, MAX_INPUT, "kernel config or image")
    if not data.strip():
        raise InputError(f"{path} is empty", "pass a kernel .config, config.gz or kernel image")
    if _looks_like_config(data):
        return Loaded(path, "config", "", data.decode("utf-8", errors="replace"))
    if data[:2] == b"\x1f\x8b":
        try:
            inner = kconfig_image.gunzip(data, MAX_CONFIG)
        except kconfig_image.TooLarge:
            raise InputError(
                f"{path}: gzip data that unpacks to more than {MAX_CONFIG // MIB} MiB: not a kernel config"
            ) from None
        except (OSError, EOFError, zlib.error):
            inner = b""
        if _looks_like_config(inner):
            return Loaded(path, "config.gz", "", inner.decode("utf-8", errors="replace"))
    kind = kconfig_image.describe(data)
    try:
        found = kconfig_image.find(data)
    except kconfig_image.NeedsExtra as exc:
        raise InputError(f"{path} ({kind}): {exc}") from None
    if found is None:
        if kind in ("data",) and not re.search(rb"[\x00-\x08\x0e-\x1f]", data[:4096]):
            raise InputError(
                f"{path}: not a kernel config (no CONFIG_ lines) and not a kernel image",
                "pass a .config, config.gz or a kernel image",
            )
        raise InputError(
            f"{path} ({kind}): no embedded kernel config: the kernel was built without CONFIG_IKCONFIG", BUILD_HINT
        )
    return Loaded(path, kind, found.where, found.text)


def _normalise(require: list[str]) -> list[str]:
    names: list[str] = []
    for item in require:
        for raw in item.split(","):
            name = raw.strip()
            if not name:
                continue
            if not name.startswith("CONFIG_"):
                name = "CONFIG_" + name
            if not _OPTION_NAME.match(name):
                raise UsageError(
                    f"--require: {raw.strip()!r} is not a kernel config option name",
                    "e.g. --require CONFIG_INET_DIAG,CONFIG_INET_UDP_DIAG",
                )
            if name not in names:
                names.append(name)
    return names or list(REQUIRED)


@dataclass(frozen=True)
class _Check:
    name: str
    value: str | None  # as written (y, m, "str"), None: not set / not there
    state: str
    ok: bool
    remedy: str | None


def _required(name: str, options: dict[str, KconfigOption], diag: kdiag.KernelDiag, dialect: str) -> _Check:
    option = options.get(name)
    value = option.value if option is not None else None
    if name in diag.options:
        ov = diag.options[name]
        ok = ov.state in ("builtin", "module", "loaded")
        return _Check(name, value, ov.state, ok, None if ok or ov.remedy is None else describe_remedy(ov.remedy))
    if option is None and dialect == "defconfig":
        return _Check(
            name,
            None,
            "unknown",
            False,
            f"not mentioned in this defconfig and kit does not know its Kconfig default: add {name}=y to be sure",
        )
    v = kconfig_parser.unquote(value) if value is not None else "n"
    state = {"y": "builtin", "m": "module"}.get(v, "absent")
    ok = state in ("builtin", "module")
    fix = kdiag.Remedy("config_rebuild", config_lines=(f"{name}=y",))  # worded as the diag options' remedies
    return _Check(name, value, state, ok, None if ok else describe_remedy(fix))


@dataclass(frozen=True)
class _Result:
    loaded: Loaded
    dialect: str
    parsed: Parsed[KconfigOption]
    diag: kdiag.KernelDiag
    checks: list[_Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def check(loaded: Loaded, require: list[str]) -> _Result:
    parsed = kconfig_parser.parse(loaded.text)
    dialect = kconfig_parser.dialect(loaded.text)
    options = kconfig_parser.as_dict(parsed)
    source = loaded.path if not loaded.where else f"{loaded.path} (embedded)"
    diag = kdiag.diagnose_config(options, source, dialect=dialect, required=require)
    return _Result(loaded, dialect, parsed, diag, [_required(n, options, diag, dialect) for n in require])


def run(paths: list[str], require: list[str], fmt: str, out: TextIO) -> int:
    """Check every path; write the report to `out`; return the exit code (0 ok, 1 a required option missing)."""
    if fmt not in ("text", "json"):
        raise UsageError(f"--format {fmt!r}: use text or json")
    if not paths:
        raise UsageError("kit kconfig needs at least one PATH", "a .config, config.gz or kernel image")
    names = _normalise(require)
    # Load everything first: an unreadable file fails the run before any output.
    results = [check(load(p), names) for p in paths]
    if fmt == "json":
        json.dump(_json(results, names), out, indent=2, sort_keys=False)
        out.write("\n")
    else:
        out.write(visible(_text(results), keep_newlines=True))  # config values are file text
    return ExitStatus.OK if all(r.ok for r in results) else ExitStatus.CHECK_FAILED


# ------------------------------------------------------------------ output


def _value_text(value: str | None) -> str:
    return "not set" if value is None else f"={value}"


_STATE_TEXT = {
    "builtin": "built in",
    "module": "module",
    "absent": "absent",
    "unknown": "unknown",
    "loaded": "loaded",
    "available": "available",
}


def _text(results: list[_Result]) -> str:
    lines: list[str] = []
    for r in results:
        kind = r.loaded.kind + (f": {r.loaded.where}" if r.loaded.where else "")
        style = (
            "full .config" if r.dialect == "config" else "defconfig/fragment (unlisted options take Kconfig defaults)"
        )
        lines.append(f"{r.loaded.path} ({kind}; {style}; {len(r.parsed.records)} options)")
        required = {c.name for c in r.checks}
        width = max(len(n) for n in list(required) + list(OPTIONS)) + 2
        for c in r.checks:
            mark = "ok  " if c.ok else "FAIL"
            lines.append(f"  [{mark}] {c.name:<{width}}{_value_text(c.value):<12}{_STATE_TEXT[c.state]}")
            if c.remedy:
                lines.append(f"         -> {c.remedy}")
        for name, ov in r.diag.options.items():
            if name in required:
                continue
            option = kconfig_parser.as_dict(r.parsed).get(name)
            value = option.value if option is not None else None
            lines.append(f"  [ -- ] {name:<{width}}{_value_text(value):<12}{_STATE_TEXT[ov.state]}")
        if r.parsed.problems:
            lines.append(f"  {len(r.parsed.problems)} line(s) skipped, as kconfig would:")
            for p in r.parsed.problems[:10]:
                lines.append(f"    line {p.line}: {p.reason}: {p.text[:80]!r}")
            if len(r.parsed.problems) > 10:
                lines.append(f"    ... and {len(r.parsed.problems) - 10} more (--format json lists all)")
        lines.append(f"  verdict: {r.diag.verdict} - {summary_text(r.diag)}")
        lines.append(
            f"  result: {'PASS' if r.ok else 'FAIL'} "
            f"({sum(c.ok for c in r.checks)} of {len(r.checks)} required options set)"
        )
        lines.append("")
    return "\n".join(lines)


def _json(results: list[_Result], names: list[str]) -> dict[str, Any]:
    files = []
    for r in results:
        files.append(
            {
                "path": r.loaded.path,
                "kind": r.loaded.kind,
                "embedded": r.loaded.where or None,
                "dialect": r.dialect,
                "options_read": len(r.parsed.records),
                "ok": r.ok,
                "required": {
                    c.name: {
                        "value": c.value,
                        "state": c.state,
                        "ok": c.ok,
                        **({"remedy": c.remedy} if c.remedy else {}),
                    }
                    for c in r.checks
                },
                "kernel_diag": kdiag_json(r.diag),
                "parse_problems": [{"line": p.line, "text": p.text, "reason": p.reason} for p in r.parsed.problems],
            }
        )
    return {"schema": SCHEMA, "ok": all(r.ok for r in results), "require": names, "files": files}
