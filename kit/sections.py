"""What the probe collects, declared in one place (the sos way).

Each row is one section of the capture: a name, the POSIX sh that produces it
on the device, the parser that reads it, and whether running it may change
kernel state. The probe script is rendered from these rows (kit.probe), and
the capture splitter and the report read sections back by the same names;
nothing else lists commands.

Rules for `command`: read-only, POSIX sh that busybox ash and dash both run,
one short command line. It runs with stdin from /dev/null (the probe itself
arrives on sh's stdin), its stdout and stderr are kept apart, it is killed
after `timeout` seconds and its stdout is cut after `max_bytes`.
Logic that depends on earlier output is shell inside its own section.
The probe runs it in the shell that holds its stderr (kit.probe): a command
may `exec` its last command (one process fewer on the device);
`$(uname -r)` is the run's kernel release, read once. `cat` of /proc files
in consecutive rows is read by one process on the device.
"""

from __future__ import annotations

from kit.diag_options import SPECS, kallsyms_symbols
from kit.frozen import frozen

KIB = 1024
MIB = 1024 * KIB


@frozen
class Section:
    name: str
    command: str
    parser: str | None = None  # module name under kit.parsers, None: kept raw
    why: str = ""  # shown in the report beside the raw output
    changes_kernel: bool = False  # e.g. ss may autoload inet_diag modules
    timeout: int = 15  # seconds
    max_bytes: int = 1 * MIB
    # Parse only a section that finished with exit 0: its output is one value
    # that a failed or cut-off command would leave wrong (a page size of "40").
    only_if_ok: bool = False
    # The kernel or the command itself bounds its output (uname, id, a
    # listing): the probe sends it without a bound process on the device
    # (kit.capture still cuts it at max_bytes).
    self_bounded: bool = False


# Lines a section's shell writes on its stderr for kit to read back. They are
# written by the probe itself (never by the device's commands), read by the
# section's parser (kit.parsers.kconfig.parse: SOURCE_MARKER in kconfig;
# kit.parsers.ss.parse_section: PID_MARKER in ss) and shown as they are in
# the report's raw sections.
MARKER = "# kit: "  # every such line starts so; kit skips them when quoting a command's stderr
SOURCE_MARKER = MARKER + "source "  # kconfig, pagesize: the file or tool the output came from
SKIPPED_MARKER = MARKER + "skipped: "  # socket_owners, netstat: not run, and why
PID_MARKER = MARKER + "pid "  # ss: the pid of ss itself (its own sock_diag socket is this collect's)

# Kernel config: the first of these that reads is the one the report trusts.
# Busybox `[ -r ]` is true for root even where the read then fails, so each
# candidate is judged by the exit status of the read itself; one that does
# not exist is not tried (kdiag_config_files says which exist). zcat's
# complaint about a file that is not gzip is dropped.
_KCONFIG = (
    'for f in /proc/config.gz "/boot/config-$(uname -r)" "/lib/modules/$(uname -r)/config"; do '
    '[ -e "$f" ] || continue; case $f in *.gz) zcat "$f" 2>/dev/null ;; *) cat "$f" ;; esac && '
    f'{{ echo "{SOURCE_MARKER}$f" >&2; exit 0; }}; done; exit 1'
)

# Page size: the kernel says it in /proc/self/smaps (KernelPageSize, in kB;
# Linux 2.6.29+), else getconf (busybox has none) or the aux vector
# (AT_PAGESZ = 6), read with od as 64-bit words first, then 32-bit ones.
# Prints bytes; the source on stderr.
_PAGESIZE = (
    "if awk '/^KernelPageSize:/ { print $2 * 1024; f = 1; exit } END { exit !f }' /proc/self/smaps 2>/dev/null; "
    f"then echo '{SOURCE_MARKER}/proc/self/smaps' >&2; "
    f"elif getconf PAGESIZE 2>/dev/null; then echo '{SOURCE_MARKER}getconf' >&2; "
    "else for w in 8 4; do od -An -v -tu$w /proc/self/auxv 2>/dev/null | "
    "awk '{ for (i = 1; i <= NF; i++) v[n++] = $i } END { for (i = 0; i < n; i += 2) "
    "if (v[i] == 6 && v[i+1] >= 1024 && v[i+1] <= 1048576) { print v[i+1]; exit 0 } exit 1 }' "
    f"&& echo '{SOURCE_MARKER}/proc/self/auxv' >&2 && exit 0; done; exit 1; fi"
)

# A section that only matters without ss starts with this check: whether ss
# runs at all (`ss -V`: present, executable, its libraries load), saying so
# when it skips. The probe (kit.probe) runs such a section without the check,
# and only when its own ss section did not exit 0; else its shell reports
# the same skip without starting a process.
SS_WORKS = SKIPPED_MARKER + "ss works"  # the stderr of a fallback section skipped (also probes/probe.sh's)
UNLESS_SS = f"if ss -V >/dev/null 2>&1; then echo '{SS_WORKS}' >&2; exit 0; fi; "

# Socket owners with shell and one `ls -l` for all processes (no fork per fd).
# Output lines: "<pid> <comm> <inode> <fd>"; comm may hold spaces, so read the
# pid from the first field and inode, fd from the last two. A non-root user
# sees only its own processes' fds (the rest is "Permission denied", dropped).
_SOCKET_OWNERS = UNLESS_SS + (
    "ls -l /proc/[0-9]*/fd 2>/dev/null | while IFS= read -r l; do case $l in "
    '/proc/*/fd:) p=${l#/proc/}; p=${p%/fd:}; c=; { IFS= read -r c < "/proc/$p/comm"; } 2>/dev/null;; '
    "*' -> socket:['*']') i=${l##*socket:[}; f=${l% -> *}; echo \"$p $c ${i%]} ${f##* }\";; "
    "esac; done"
)

# The probe's own process ancestry: from the probe's shell up the PPid
# chain, four lines of each /proc/PID/status (builtins only: no fork per
# step; a file is read up to NSpid, the last line wanted: the shell's `read`
# takes two system calls a byte). It finds the processes carrying this collect (the SSH server session
# above the probe shell) on the device itself, where addresses would mislead
# (jump hosts, NAT). Printed with one printf at the end (not echo: dash's echo
# expands backslashes in Name): coreutils dd, which bounds each section,
# counts reads rather than bytes, and a section printing line by line was
# cut after its first line.
# Last, the Name line of PID 2: kthreadd in the initial PID namespace (Linux
# 2.6.22+), anything else or nothing inside a container's own namespace,
# whose /proc NSpid cannot show the namespaces above it.
_ANCESTRY = (
    'NL=\'\n\'; p=$$; n=0; o=; while [ "$p" -gt 0 ] && [ "$n" -lt 64 ]; do n=$((n + 1)); q=0; '
    "while IFS= read -r l; do case $l in "
    'Name:*|Pid:*|Uid:*) o="$o$l$NL";; NSpid:*) o="$o$l$NL"; break;; '
    'PPid:*) o="$o$l$NL"; q=${l#PPid:}; q=${q#"${q%%[0-9]*}"};; '
    'esac; done < "/proc/$p/status"; p=${q:-0}; done; '
    'l=; { IFS= read -r l < /proc/2/status; } 2>/dev/null; printf \'%spid2 %s\\n\' "$o" "${l:-none}"'
)

# Conntrack fill and the network slab caches (kit.parsers.slab_conntrack),
# in one grep (one fork) that prefixes each line with its file. Not the `read`
# builtin: dash and ash read /proc/sys a byte at a time, and the kernel
# answers a read at offset 1 of nf_conntrack_max with nothing ("262144" reads
# as "2"). /proc/slabinfo is root only (mode 0400): a non-root probe gets
# "Permission denied" on stderr and exit 2.
_SLAB_CONNTRACK = (
    "set --; for f in /proc/sys/net/netfilter/nf_conntrack_count /proc/sys/net/netfilter/nf_conntrack_max "
    "/proc/sys/net/ipv4/netfilter/ip_conntrack_count /proc/sys/net/ipv4/netfilter/ip_conntrack_max; "
    'do [ ! -e "$f" ] || set -- "$@" "$f"; done; '
    "exec grep -HE '^([0-9]|slabinfo|# name|skbuff|TCP|UDP|UNIX|RAW|tw_sock|request_sock|sock_inode_cache|nf_conntrack)' "
    '"$@" /proc/slabinfo'
)

# The probe names the pid of ss: ss's own sock_diag netlink socket (nl
# "4:PID", holding the dump it is reading) is this collect's, not the
# device's. The shell says its own pid (where /proc/self points) and execs ss.
_SS = f'cd -P /proc/self && echo "{PID_MARKER}${{PWD##*/}}" >&2 && cd /; exec ss -napm'

# busybox netstat: -p needs FEATURE_NETSTAT_PRG (Debian's busybox-static has
# none), so fall back to -ane (user and inode), then -an.
_NETSTAT = UNLESS_SS + (
    "command -v netstat >/dev/null 2>&1 || { echo 'netstat: not found' >&2; exit 127; }; "
    "netstat -anpe 2>/dev/null || netstat -ane 2>/dev/null || netstat -an"
)

# The order matters on the device: modules_before is read just before ss and
# modules_after just after it (ss may load modules); consecutive `cat /proc/...`
# rows cost one process together (kit.probe).
# Which kernel config files exist (one ls -l) and whether each that does can
# be opened (the shell's own redirection, no process): the kconfig section
# hides zcat's complaint, so this says why no config was read.
_CONFIG_FILES = (
    'set -- /proc/config.gz "/boot/config-$(uname -r)" "/lib/modules/$(uname -r)/config"; ls -l "$@"; '
    'for f; do [ ! -e "$f" ] || true <"$f"; done'
)

# The diag symbols in /proc/kallsyms (35k lines on a small router): fixed
# strings, the *_diag_* ones as one (grep -E of the nine names took 0.33 s on
# the qemu MIPS router, this 0.08 s); kit.parsers.kdiag_listings keeps the
# exact names.
_KALLSYMS_PATTERNS = ("_diag_", *(s for s in kallsyms_symbols() if "_diag_" not in s))
# Not read when every diag module is loaded (/proc/modules, read after ss, which
# makes the kernel load the families it asks for) or built in (modules.builtin,
# where the kernel has one: kernel/net/ipv4/tcp_diag.ko): the symbols would
# only repeat that, and printing 35k symbols costs a small router ~80 ms (the
# qemu MIPS router: 82 ms of the probe's 0.34 s). What is not learnt then:
# that CONFIG_IKCONFIG is built in, on a kernel without modules.builtin and
# without a readable config. Any doubt (no /proc/modules, awk failing): read.
_DIAG_MODULES = tuple(spec.module for spec in SPECS.values() if spec.module and spec.module.endswith("_diag"))
_ALL_DIAG_MODULES = " && ".join(f'("{module}" in m)' for module in _DIAG_MODULES)
_KALLSYMS = (
    'b="/lib/modules/$(uname -r)/modules.builtin"; set -- /proc/modules; [ ! -e "$b" ] || set -- "$@" "$b"; '
    "awk '"
    'FILENAME == "/proc/modules" { m[$1] = 1; next } { n = $0; sub(".*/", "", n); sub("[.]ko.*", "", n); m[n] = 1 } '
    "END { exit !(" + _ALL_DIAG_MODULES + ") }"
    """' "$@" 2>/dev/null && """
    f"{{ echo '{SKIPPED_MARKER}every diag module is loaded or built in' >&2; exit 0; }}; "
    f"exec grep -F{''.join(f' -e {s}' for s in _KALLSYMS_PATTERNS)} /proc/kallsyms"
)

SECTIONS: tuple[Section, ...] = (
    # uname -a for people; the release and machine (-rm) on a line of their own
    # because a node name with spaces makes the words of `uname -a` ambiguous.
    Section("uname", "uname -a; exec uname -rm", parser="uname", self_bounded=True, why="kernel release and machine"),
    Section(
        "id",
        "exec id",
        parser="user_id",
        only_if_ok=True,
        self_bounded=True,
        why="who ran the probe: ss -p only shows other users' processes to root",
    ),
    Section(
        "ancestry",
        _ANCESTRY,
        parser="ancestry",
        max_bytes=16 * KIB,
        self_bounded=True,
        why="the probe's own process chain (Name, Pid, PPid, Uid, NSpid): the SSH session carrying this "
        "collect, and whether the probe sees every PID namespace",
    ),
    Section(
        "os_release",
        "cat /etc/openwrt_release /etc/os-release",
        parser="os_release",
        why="firmware: OpenWrt or another distribution",
    ),
    Section(
        "pagesize",
        _PAGESIZE,
        parser="pagesize",
        only_if_ok=True,
        max_bytes=64,
        self_bounded=True,
        why="sockstat and tcp_mem count pages",
    ),
    Section(
        "slab_conntrack",
        _SLAB_CONNTRACK,
        parser="slab_conntrack",
        max_bytes=64 * KIB,
        self_bounded=True,
        why="where memory is when sockets are not it: conntrack count against max, skbuff and socket slab caches",
    ),
    Section(
        "kconfig",
        _KCONFIG,
        parser="kconfig",
        max_bytes=4 * MIB,
        why="CONFIG_INET_DIAG and friends, from the running kernel's config",
    ),
    Section(
        "hostname",
        "cat /proc/sys/kernel/hostname",
        parser="hostname",
        only_if_ok=True,
        max_bytes=64 * KIB,
        why="device name",
    ),
    Section(
        "meminfo",
        "cat /proc/meminfo",
        parser="meminfo",
        max_bytes=64 * KIB,
        why="MemTotal / MemAvailable, Slab / SUnreclaim",
    ),
    Section(
        "modules_before",
        "cat /proc/modules",
        parser="proc_modules",
        max_bytes=64 * KIB,
        why="modules loaded before ss ran (ss can autoload inet_diag)",
    ),
    Section(
        "ss",
        _SS,
        parser="ss:parse_section",
        changes_kernel=True,
        timeout=60,
        max_bytes=256 * MIB,
        why="every socket with owner and skmem memory",
    ),
    Section(
        "modules_after",
        "cat /proc/modules",
        parser="proc_modules",
        max_bytes=64 * KIB,
        why="modules loaded after ss ran",
    ),
    Section(
        "sockstat",
        "cat /proc/net/sockstat",
        parser="sockstat",
        max_bytes=64 * KIB,
        why="kernel-wide socket counts and TCP/UDP memory in pages",
    ),
    Section("sockstat6", "cat /proc/net/sockstat6", parser="sockstat", max_bytes=64 * KIB),
    Section(
        "tcp_mem",
        "cat /proc/sys/net/ipv4/tcp_mem",
        parser="sysctl_numbers",
        only_if_ok=True,
        max_bytes=64 * KIB,
        why="TCP memory min/pressure/max in pages",
    ),
    Section(
        "udp_mem",
        "cat /proc/sys/net/ipv4/udp_mem",
        parser="sysctl_numbers",
        only_if_ok=True,
        max_bytes=64 * KIB,
        why="UDP memory min/pressure/max in pages",
    ),
    Section(
        "tcp_rmem", "cat /proc/sys/net/ipv4/tcp_rmem", parser="sysctl_numbers", only_if_ok=True, max_bytes=64 * KIB
    ),
    Section(
        "tcp_wmem", "cat /proc/sys/net/ipv4/tcp_wmem", parser="sysctl_numbers", only_if_ok=True, max_bytes=64 * KIB
    ),
    Section(
        "netstat_counters",
        "cat /proc/net/netstat",
        parser="proc_counters",
        max_bytes=64 * KIB,
        why="TcpExt counters: memory pressure, prunes",
    ),
    Section(
        "snmp", "cat /proc/net/snmp", parser="proc_counters", max_bytes=64 * KIB, why="Udp RcvbufErrors / SndbufErrors"
    ),
    # Without a working ss: the /proc/net tables (queue bytes, states and
    # inodes of every socket), who owns each socket, and busybox netstat's view.
    # Parsed only when ss gave no socket list (kit.report.FALLBACK_SECTIONS),
    # so read only then.
    *(
        Section(
            f"proc_net_{t}",
            f"{UNLESS_SS}cat /proc/net/{t}",
            parser=f"proc_net:parse_{t.rstrip('6')}",
            max_bytes=64 * MIB,
            timeout=30,
            why=f"/proc/net/{t}: sockets with queue bytes and inodes (only when ss does not run)",
        )
        for t in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix")
    ),
    Section(
        "socket_owners",
        _SOCKET_OWNERS,
        parser="socket_owners",
        max_bytes=16 * MIB,
        timeout=30,
        why="pid comm inode fd for every socket fd in /proc/[pid]/fd (only when ss does not run): "
        "joins the /proc/net tables to processes",
    ),
    Section(
        "netstat",
        _NETSTAT,
        parser="netstat",
        max_bytes=64 * MIB,
        timeout=60,
        why="busybox netstat (only when ss does not run)",
    ),
    # Kernel diag evidence (kit.analyse.kdiag). Each is one bounded read; none loads a module.
    Section(
        "kdiag_config_files",
        _CONFIG_FILES,
        parser="kdiag_listings:parse_config_files",
        max_bytes=4 * KIB,
        self_bounded=True,
        why="which kernel config files exist, and the error opening each: why none was read",
    ),
    Section(
        "kdiag_module_files",
        'd="/lib/modules/$(uname -r)"; [ -d "$d" ] || exec ls -d "$d"; echo "$d"; for f in "$d"/*diag.ko* '
        '"$d"/configs.ko* "$d"/kernel/net/*/*diag.ko* "$d"/kernel/kernel/configs.ko*; do [ ! -e "$f" ] || echo "$f"; done',
        parser="kdiag_listings:parse_module_files",
        max_bytes=64 * KIB,
        self_bounded=True,
        why="diag modules on disk (.ko, .ko.xz/.gz/.zst; OpenWrt keeps them flat)",
    ),
    Section(
        "kdiag_modules_builtin",
        'cat "/lib/modules/$(uname -r)/modules.builtin"',
        parser="kdiag_listings:parse_modules_builtin",
        max_bytes=256 * KIB,
        why="modules built into the kernel",
    ),
    Section(
        "kdiag_kallsyms",
        _KALLSYMS,
        parser="kdiag_listings:parse_kallsyms",
        max_bytes=64 * KIB,
        self_bounded=True,
        why="diag code in the running kernel: built in, or [module]",
    ),
    Section(
        "kdiag_tools",
        'for c in modprobe insmod opkg apk; do command -v "$c" || true; done',
        parser="kdiag_listings:parse_tools",
        max_bytes=4 * KIB,
        self_bounded=True,
        why="what the remedy can use: modprobe or insmod, opkg or apk",
    ),
)

BY_NAME = {s.name: s for s in SECTIONS}
