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
means for the verdict is kit.analyse.kdiag_evidence's to say. Each takes the
section's SectionStatus (kit.report.parse_section passes it): what the
command said on stderr about a missing or unreadable file, and whether it
finished, are read here, into the result beside the listing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from kit.diag_options import kallsyms_symbols
from kit.parsers.command_stderr import FileComplaints, says_missing
from kit.records import Parsed, ParseProblem, SectionStatus
from kit.sections import SKIPPED_MARKER

T = TypeVar("T")

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


@dataclass(slots=True)
class ConfigFiles(Parsed[ListedFile]):
    """kdiag_config_files: the ls -l lines, and what ls said about the files it could not list."""

    looked: bool = False  # the section finished: a file not listed is not there
    proc_config_absent: bool = False  # ls said there is no /proc/config.gz
    complaints: FileComplaints = FileComplaints()


@dataclass(slots=True)
class ModuleFiles(Parsed[ModuleFile]):
    """kdiag_module_files: the module directory and its diag module files."""

    looked: bool = False  # finished, and listed files, exited 0, or said the directory is not there
    missing_dir: str | None = None  # the module directory ls said does not exist


@dataclass(slots=True)
class Listing(Parsed[T]):
    """kdiag_modules_builtin, kdiag_kallsyms, kdiag_tools: the names, and whether the list was read at all."""

    read: bool = False  # False: the command failed or was cut off, so a name missing here says nothing


def parse_config_files(text: str, status: SectionStatus | None = None) -> ConfigFiles:
    status = status or SectionStatus()
    result = ConfigFiles(
        looked=status.complete,
        proc_config_absent=bool(_NO_PROC_CONFIG.search(status.stderr)),
        complaints=FileComplaints.of(status.stderr),
    )
    for line in text.splitlines():
        words = line.split()
        if words:
            result.records.append(ListedFile(words[-1], tuple(words)))
    return result


def parse_module_files(text: str, status: SectionStatus | None = None) -> ModuleFiles:
    status = status or SectionStatus()
    result = ModuleFiles()
    for line in text.splitlines():
        path = line.strip()
        if path:
            result.records.append(ModuleFile(path, module_name(path)))
    if status.complete and (result.records or status.ok or says_missing(status.stderr)):
        result.looked = True
        if not result.records:
            m = _NO_MODULES_DIR.search(status.stderr)
            result.missing_dir = m.group(1) if m else None
    return result


def parse_modules_builtin(text: str, status: SectionStatus | None = None) -> Listing[str]:
    status = status or SectionStatus()
    result: Listing[str] = Listing(read=bool(text.strip()) or status.ok)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name = module_name(line.strip())
        if name is None:
            result.problems.append(ParseProblem(number, line[:300], "not a module path"))
        else:
            result.records.append(name)
    return result


def parse_kallsyms(text: str, status: SectionStatus | None = None) -> Listing[Symbol]:
    """The diag symbols (kit.diag_options) among the lines; the probe's fixed-string grep also matches others.

    Not read (`read` False) when the probe skipped it: every diag module was
    loaded or built in already (kit.sections, kdiag_kallsyms).
    """
    status = status or SectionStatus()
    wanted = set(kallsyms_symbols())
    skipped = SKIPPED_MARKER in status.stderr
    result: Listing[Symbol] = Listing(read=status.complete and not skipped and not says_missing(status.stderr))
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            result.problems.append(ParseProblem(number, line[:300], "not 'address type name [module]'"))
            continue
        if parts[2] in wanted:
            result.records.append(Symbol(parts[2], parts[3].strip("[]") if len(parts) > 3 else ""))
    return result


def parse_tools(text: str, status: SectionStatus | None = None) -> Listing[str]:
    status = status or SectionStatus()
    result: Listing[str] = Listing(read=status.complete)
    for line in text.splitlines():
        if line.strip():
            result.records.append(line.strip().rsplit("/", 1)[-1])
    return result


_NO_MODULES_DIR = re.compile(r"(/lib/modules/\S+?)'?: No such file")
_NO_PROC_CONFIG = re.compile(r"/proc/config\.gz'?: No such file")
