"""The kernel diag evidence sections of the probe (kit.sections, kdiag_*): file listings and symbols.

    kdiag_config_files     ls -l of /proc/config.gz, /boot/config-$(uname -r), /lib/modules/$(uname -r)/config
        -r--r--r--    1 root     root         31306 Nov 26 05:41 /proc/config.gz
    kdiag_module_files     the module directory, then each diag / configs module file in it
        /lib/modules/6.1.0-18-4kc-malta
        /lib/modules/6.1.0-18-4kc-malta/kernel/net/ipv4/tcp_diag.ko.xz
    kdiag_modules_builtin  modules.builtin: modules built into the kernel
        kernel/net/ipv4/inet_diag.ko
    kdiag_kallsyms         /proc/kallsyms lines of the diag symbols (kit.diag_options)
        ffffffffc0a2d010 t tcp_diag_get_info	[tcp_diag]
    kdiag_tools            command -v of modprobe, insmod, opkg, apk
        /sbin/modprobe

One parse_<section> per section; records are typed, and what each listing
means for the verdict is kit.analyse.kdiag_evidence's to say. What the
sections' commands say on stderr about a missing file is read here too
(says_missing, missing_modules_dir, proc_config_absent, refused,
file_error), with the listings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kit.records import Parsed, ParseProblem

_MODULE_FILE = re.compile(r"(.+)\.ko(\.(xz|gz|zst))?$")


def module_name(path: str) -> str | None:
    """`.../tcp_diag.ko.xz` -> "tcp_diag" (the kernel treats - and _ alike; /proc/modules prints _); None: not a module file."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    m = _MODULE_FILE.match(base)
    return m.group(1).replace("-", "_") if m else None


@dataclass(frozen=True, slots=True)
class ListedFile:
    path: str  # the last word of the ls -l line
    fields: tuple[str, ...]  # every word: mode, links, owner, group, size, date..., path


@dataclass(frozen=True, slots=True)
class ModuleFile:
    path: str
    module: str | None  # None: not a module file (the module directory itself)


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    module: str  # "" when built in, else the module in [brackets]


def parse_config_files(text: str) -> Parsed[ListedFile]:
    result: Parsed[ListedFile] = Parsed()
    for line in text.splitlines():
        words = line.split()
        if words:
            result.records.append(ListedFile(words[-1], tuple(words)))
    return result


def parse_module_files(text: str) -> Parsed[ModuleFile]:
    result: Parsed[ModuleFile] = Parsed()
    for line in text.splitlines():
        path = line.strip()
        if path:
            result.records.append(ModuleFile(path, module_name(path)))
    return result


def parse_modules_builtin(text: str) -> Parsed[str]:
    result: Parsed[str] = Parsed()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name = module_name(line.strip())
        if name is None:
            result.problems.append(ParseProblem(number, line[:300], "not a module path"))
        else:
            result.records.append(name)
    return result


def parse_kallsyms(text: str) -> Parsed[Symbol]:
    result: Parsed[Symbol] = Parsed()
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            result.problems.append(ParseProblem(number, line[:300], "not 'address type name [module]'"))
            continue
        result.records.append(Symbol(parts[2], parts[3].strip("[]") if len(parts) > 3 else ""))
    return result


def parse_tools(text: str) -> Parsed[str]:
    result: Parsed[str] = Parsed()
    for line in text.splitlines():
        if line.strip():
            result.records.append(line.strip().rsplit("/", 1)[-1])
    return result


_MISSING = re.compile(r"No such file|not found|can't open", re.I)
_NO_MODULES_DIR = re.compile(r"(/lib/modules/\S+?)'?: No such file")
_NO_PROC_CONFIG = re.compile(r"/proc/config\.gz'?: No such file")


def says_missing(stderr: str | None) -> bool:
    """A command's stderr says the file (or the command) is not there: ls, cat, grep, busybox and GNU wording."""
    return bool(_MISSING.search(stderr or ""))


def missing_modules_dir(stderr: str | None) -> str | None:
    """kdiag_module_files: the module directory ls said does not exist; None: it did not say so."""
    m = _NO_MODULES_DIR.search(stderr or "")
    return m.group(1) if m else None


def proc_config_absent(stderr: str | None) -> bool:
    """kdiag_config_files: ls said there is no /proc/config.gz."""
    return bool(_NO_PROC_CONFIG.search(stderr or ""))


def refused(path: str, stderr: str) -> bool:
    """A command's stderr says it may not read `path` (Permission denied, Operation not permitted)."""
    return bool(re.search(re.escape(path) + r".*(Permission denied|Operation not permitted)", stderr))


def file_error(prefix: str, stderr: str) -> tuple[str, str] | None:
    """The first file starting with `prefix` a command's stderr says it could not read, and why:
    "absent", "permission denied" or "operation not permitted"; None: it names none."""
    m = re.search(
        r"(" + re.escape(prefix) + r"\S*)[^\n]*?(No such file|Permission denied|Operation not permitted)", stderr
    )
    if m is None:
        return None
    return m.group(1).rstrip(":"), "absent" if m.group(2) == "No such file" else m.group(2).lower()
