"""The kernel diag verdict as data: states, evidence, notes, remedies and the summary's facts.

kit.analyse.kdiag chooses them; kit.render.kdiag_text is the one place they
become words (the JSON `kernel_diag` object keeps its evidence, notes,
remedy and summary as strings: the JSON renderer words this data). Each
evidence item is a small frozen dataclass naming what it rests on (a module,
a symbol, a file, a config line, a count of sockets), never a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.diag_options import REQUIRED
from kit.frozen import frozen

STATES = ("builtin", "module", "loaded", "available", "absent", "unknown")
VERDICTS = ("ok", "partial", "missing", "unknown")


# --------------------------------------------------------------------- evidence: what ss showed


@frozen
class NoSocketList:
    """ss gave no socket list, so there is no functional proof; `why` as in Evidence.ss_note."""

    why: str  # "not_run", "not_installed", "no_list"
    said: str = ""  # no_list: the first line ss wrote on stderr


@frozen
class NoEligibleSocket:
    """No socket of this kind that can carry memory; `skipped` in TIME-WAIT/SYN-RECV."""

    label: str  # tcp, udp, raw, unix, netlink, packet
    skipped: int


@frozen
class SkmemShown:
    label: str
    with_skmem: int
    eligible: int


@frozen
class SkmemMissing:
    """ss printed no skmem for any of `eligible` sockets (in `states`): it fell back to /proc."""

    label: str
    eligible: int
    states: tuple[str, ...]


@frozen
class EveryFamilyFailed:
    """CONFIG_INET_DIAG: every inet family ss tried failed."""

    parts: tuple[SkmemMissing, ...]


@frozen
class ProcConfig:
    """/proc/config.gz: "read", "exists" (unreadable here) or "absent"."""

    state: str


# --------------------------------------------------------------------- evidence: modules and symbols


@frozen
class InProcModules:
    """/proc/modules about one module: "autoloaded" (after ss, not before), "loaded", "not_loaded"."""

    module: str
    state: str


@frozen
class NoModuleSupport:
    """No /proc/modules: the kernel has no loadable module support."""


@frozen
class InModulesBuiltin:
    module: str


@frozen
class InKallsyms:
    symbol: str
    module: str  # "" built in, else the module in [brackets]


@frozen
class NotInKallsyms:
    symbol: str


@frozen
class ModuleFileFound:
    path: str


@frozen
class NoModuleDir:
    path: str


@frozen
class NoModuleFile:
    module: str
    where: str  # the module directory searched ("" when the capture did not say which)


# --------------------------------------------------------------------- evidence: the config


@frozen
class ConfigLine:
    """What the config at `source` says of `name`: present=False not in it; value None "is not set"."""

    source: str
    name: str
    present: bool
    value: str | None = None


@frozen
class ConfigDefault:
    """A defconfig that does not mention `name`: the Kconfig default `value` applies."""

    source: str
    name: str
    value: str | None


@frozen
class ConfigDepsUnmet:
    """A full .config without `name`: its dependencies are not met."""

    source: str
    name: str


@frozen
class BuiltAsModule:
    module: str


@frozen
class UnexpectedValue:
    value: str | None


@frozen
class ConfigDisagrees:
    """The config at `source` disagrees with the live evidence: `kind` "ss" (with what ss showed),
    "builtin_but_loaded" (=y, yet a loaded module), "unset_but_there" (not set, yet the module is there)."""

    source: str
    kind: str


# --------------------------------------------------------------------- evidence: the decision


@frozen
class BuiltInOrLoaded:
    """It works, and no module list or config in the capture says which of the two it is."""


@frozen
class LoadedWithoutMemory:
    module: str


@frozen
class Needs:
    """Needs `dependency`, which is `state` (live) or, offline (state ""), not set either."""

    dependency: str
    state: str = ""


EvidenceItem = (
    NoSocketList
    | NoEligibleSocket
    | SkmemShown
    | SkmemMissing
    | EveryFamilyFailed
    | ProcConfig
    | InProcModules
    | NoModuleSupport
    | InModulesBuiltin
    | InKallsyms
    | NotInKallsyms
    | ModuleFileFound
    | NoModuleDir
    | NoModuleFile
    | ConfigLine
    | ConfigDefault
    | ConfigDepsUnmet
    | BuiltAsModule
    | UnexpectedValue
    | ConfigDisagrees
    | BuiltInOrLoaded
    | LoadedWithoutMemory
    | Needs
)


# --------------------------------------------------------------------- notes: evidence about the evidence


@frozen
class ConfigCut:
    """The config at `source` stops early: options after the cut are unknown."""

    source: str


@frozen
class ConfigFromFile:
    """The config was read from `source`, not /proc/config.gz: it may belong to another build."""

    source: str


@frozen
class NoConfigReason:
    """Why one config file was not read. kind: "no_section", "empty", "denied", "mode" (detail: the
    mode), "proc_unread", "unread" (detail: the mode), "error" (detail: absent, permission denied,
    operation not permitted), "proc_absent", "nothing_read" (detail: what the commands said)."""

    kind: str
    path: str = ""
    detail: str = ""


@frozen
class NoConfig:
    reasons: tuple[NoConfigReason, ...]


Note = ConfigCut | ConfigFromFile | NoConfig


# --------------------------------------------------------------------- remedies and verdicts


@frozen
class Remedy:
    """What to do about one option, as data; kit.render.kdiag_text says it in words.

    kind: "modprobe" (modules), "insmod" (paths, in dependency order),
    "modprobe_or_insmod" (modules), "install" (package with package_manager, on
    OpenWrt release `source`), "modules_missing" (the config at `source` says
    option=m but `modules` are not under `where`; package: the OpenWrt one,
    config_lines: the rebuild instead), "rebuild", "openwrt_rebuild" and
    "config_rebuild" (config_lines), "probe_first" (modprobe modules; if there
    is none, `then`), "recollect" (the config in the capture was cut short),
    "no_evidence" (nothing says: make the config readable).
    """

    kind: str
    modules: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    config_lines: tuple[str, ...] = ()
    package: str = ""
    package_manager: str = ""
    source: str = ""
    where: str = ""
    option: str = ""
    then: Remedy | None = None


@dataclass(frozen=True)
class OptionVerdict:
    state: str
    evidence: tuple[EvidenceItem, ...]
    remedy: Remedy | None


@frozen
class Summary:
    """The facts of the report's one-line kernel diag summary (kit.render.kdiag_text.summary_text)."""

    offline: bool  # judged on a config alone (kit kconfig), not a live capture
    capabilities: tuple[tuple[str, bool | None], ...]  # ("TCP", True), ("UDP", None): memory shown?
    states: tuple[tuple[str, str], ...]  # (module, state) of each required option
    fix: Remedy | None  # one remedy for the required options together
    fell_back: bool = False  # live, missing, with a socket list: ss fell back to /proc


@dataclass(frozen=True)
class KernelDiag:
    verdict: str
    options: dict[str, OptionVerdict]
    summary: Summary  # for the report's first screen, worded by kit.render.kdiag_text
    notes: tuple[Note, ...] = ()  # evidence about the evidence: which config was read, why not
    # The options the user needs (REQUIRED, or `kit kconfig --require`): only they carry a
    # remedy; the others are information (an absent UNIX_DIAG costs nothing asked for).
    required: tuple[str, ...] = REQUIRED
