"""The kernel options behind `ss -m`, and what kit knows about each: one table.

`ss -m` prints skmem only through the kernel's sock_diag netlink families:
inet_diag with tcp_diag, udp_diag and raw_diag, and unix_diag, netlink_diag and
af_packet_diag; IKCONFIG makes the config readable. For each option: the module
it builds when =m, a /proc/kallsyms symbol that exists only when its code is
in, the ss netids whose skmem proves it works, its Kconfig dependencies and
default, and the OpenWrt package that ships it.

Read by the probe's kdiag_kallsyms section (kit.sections, the symbols to grep
for), by the kernel diag check (kit.analyse.kdiag), by `kit kconfig` (the
default --require) and by the findings and renderers (REQUIRED).
"""

from __future__ import annotations

from kit.frozen import frozen

OPTIONS: tuple[str, ...] = (
    "CONFIG_INET_DIAG",
    "CONFIG_INET_TCP_DIAG",
    "CONFIG_INET_UDP_DIAG",
    "CONFIG_INET_RAW_DIAG",
    "CONFIG_UNIX_DIAG",
    "CONFIG_NETLINK_DIAG",
    "CONFIG_PACKET_DIAG",
    "CONFIG_IKCONFIG",
    "CONFIG_IKCONFIG_PROC",
)
REQUIRED: tuple[str, ...] = ("CONFIG_INET_DIAG", "CONFIG_INET_TCP_DIAG", "CONFIG_INET_UDP_DIAG")


@frozen
class DiagOption:
    """What kit knows about one option (from the kernel's Kconfig and Makefiles)."""

    name: str
    module: str | None  # the .ko it builds when =m (None: bool option)
    symbol: str  # a /proc/kallsyms text symbol that exists only when the code is in
    netids: tuple[str, ...]  # ss netids whose skmem proves it works
    depends: tuple[str, ...]  # config options it depends on (for the remedy's config lines)
    default: str  # Kconfig default: 'y', 'n', or '=NAME' (follows NAME)
    openwrt: str | None  # the OpenWrt package that ships the module
    label: str


SPECS: dict[str, DiagOption] = {
    s.name: s
    for s in (
        # net/ipv4/Kconfig: menuconfig INET_DIAG tristate, default y;
        # INET_TCP_DIAG def_tristate INET_DIAG; UDP and RAW default n.
        DiagOption(
            "CONFIG_INET_DIAG",
            "inet_diag",
            "inet_diag_register",
            ("tcp", "udp", "raw"),
            ("CONFIG_INET",),
            "y",
            "kmod-inet-diag",
            "INET socket monitoring",
        ),
        DiagOption(
            "CONFIG_INET_TCP_DIAG",
            "tcp_diag",
            "tcp_diag_get_info",
            ("tcp",),
            ("CONFIG_INET_DIAG",),
            "=CONFIG_INET_DIAG",
            "kmod-inet-diag",
            "TCP socket monitoring",
        ),
        DiagOption(
            "CONFIG_INET_UDP_DIAG",
            "udp_diag",
            "udp_diag_dump",
            ("udp",),
            ("CONFIG_INET_DIAG",),
            "n",
            "kmod-inet-diag",
            "UDP socket monitoring",
        ),
        DiagOption(
            "CONFIG_INET_RAW_DIAG",
            "raw_diag",
            "raw_diag_dump",
            ("raw",),
            ("CONFIG_INET_DIAG",),
            "n",
            "kmod-inet-diag",
            "RAW socket monitoring",
        ),
        # net/unix/Kconfig, net/netlink/Kconfig, net/packet/Kconfig: default n.
        DiagOption(
            "CONFIG_UNIX_DIAG",
            "unix_diag",
            "unix_diag_dump",
            ("u_str", "u_dgr", "u_seq"),
            ("CONFIG_UNIX",),
            "n",
            None,
            "UNIX socket monitoring",
        ),
        DiagOption(
            "CONFIG_NETLINK_DIAG",
            "netlink_diag",
            "netlink_diag_dump",
            ("nl",),
            ("CONFIG_NET",),
            "n",
            "kmod-netlink-diag",
            "netlink socket monitoring",
        ),
        DiagOption(
            "CONFIG_PACKET_DIAG",
            "af_packet_diag",
            "packet_diag_dump",
            ("p_raw", "p_dgr"),
            ("CONFIG_PACKET",),
            "n",
            None,
            "packet socket monitoring",
        ),
        # init/Kconfig: IKCONFIG tristate (=m builds configs.ko), default n;
        # IKCONFIG_PROC bool, depends on IKCONFIG && PROC_FS, default y.
        DiagOption(
            "CONFIG_IKCONFIG",
            "configs",
            "ikconfig_read_current",
            (),
            (),
            "n",
            None,
            "kernel .config embedded in the kernel",
        ),
        DiagOption(
            "CONFIG_IKCONFIG_PROC",
            None,
            "ikconfig_read_current",
            (),
            ("CONFIG_IKCONFIG", "CONFIG_PROC_FS"),
            "=CONFIG_IKCONFIG",
            None,
            "/proc/config.gz",
        ),
    )
}
# A second symbol proving IKCONFIG (data: only with CONFIG_KALLSYMS_ALL).
EXTRA_SYMBOLS = {"kernel_config_data": "CONFIG_IKCONFIG"}


def kallsyms_symbols() -> tuple[str, ...]:
    """The symbols whose presence in /proc/kallsyms says an option's code is in the kernel, each once."""
    return tuple(dict.fromkeys([s.symbol for s in SPECS.values()] + list(EXTRA_SYMBOLS)))
