"""A real kernel with loadable diag modules: Debian's mipsel Malta kernel under qemu-system-mipsel.

    capture = run_scenario("autoload", token, probe_script)   # the probe's stdout bytes

Built from Debian packages only (fetched through material.py's private apt):
linux-image-4kc-malta (the kernel and its diag modules), busybox-static,
iproute2's ss with the shared libraries it needs (found with readelf -d).
The initramfs (a newc cpio written here) holds them plus /init, which
prepares one scenario, runs the kit probe exactly as a serial console user
would (`sh probe.sh`), prints its stdout base64-encoded between two marker
lines (a serial console turns \\n into \\r\\n; base64 keeps the bytes exact)
and powers off. No network, no disk: qemu's stdout is the console.

Scenarios (kernel command line `kit=<name>`):
  loaded     insmod inet_diag, tcp_diag, udp_diag (and the other diag modules) before the probe
  available  the module files are there, but the kernel cannot autoload them
             (/proc/sys/kernel/modprobe points nowhere), so ss falls back to /proc
  autoload   module files, busybox depmod + modprobe: ss makes the kernel load them
  absent     no diag module files at all
  stale      as absent, but /boot/config-$(uname -r) is the package's real config
             (CONFIG_INET_DIAG=m ...): a config that no longer matches the system
In every scenario a TCP connection is open
(busybox nc), and syslogd holds /dev/log (unix) and, once `logger` has
written, a UDP socket for its -R remote target: so ss has TCP, UDP and
unix sockets on which the functional proof can be judged.
"""

from __future__ import annotations

import base64
import gzip
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import material

PACKAGES = [
    "busybox-static",
    "iproute2",
    "libc6",
    "libbpf1",
    "libbsd0",
    "libcap2",
    "libdb5.3",
    "libelf1",
    "libmnl0",
    "libselinux1",
    "libtirpc3",
    "libxtables12",
    "libmd0",
    "zlib1g",
    "libpcre2-8-0",
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libk5crypto3",
    "libkrb5support0",
    "libcom-err2",
    "libkeyutils1",
    "libssl3",
    "libgcc-s1",
]
SCENARIOS = ("loaded", "available", "autoload", "absent", "stale")
BEGIN, END = "=====KIT-CAPTURE-BEGIN=====", "=====KIT-CAPTURE-END====="

INIT = r"""#!/bin/sh
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo kit-malta >/proc/sys/kernel/hostname
ip link set lo up
scenario=$(sed -n 's/.*kit=\([a-z]*\).*/\1/p' /proc/cmdline)
rel=$(uname -r)
mods=/lib/modules/$rel/kernel/net
case $scenario in
loaded)
    insmod $mods/ipv4/inet_diag.ko && insmod $mods/ipv4/tcp_diag.ko && insmod $mods/ipv4/udp_diag.ko
    insmod $mods/ipv4/raw_diag.ko; insmod $mods/unix/unix_diag.ko; insmod $mods/netlink/netlink_diag.ko
    insmod $mods/packet/af_packet_diag.ko
    echo /nonexistent >/proc/sys/kernel/modprobe ;;
available)
    echo /nonexistent >/proc/sys/kernel/modprobe ;;
autoload)
    depmod -a
    echo /sbin/modprobe >/proc/sys/kernel/modprobe ;;
absent|stale)
    rm -f $mods/*/*diag.ko
    echo /nonexistent >/proc/sys/kernel/modprobe ;;
esac
sleep 600 | nc -l -p 5000 >/dev/null &
sleep 1
sleep 600 | nc 127.0.0.1 5000 >/dev/null &
syslogd -n -O /tmp/messages -L -R 127.0.0.1:5140 &
sleep 1
logger kit-probe-test
sleep 1
sh /probe.sh >/tmp/capture 2>/tmp/probe.err
echo
echo "=====KIT-CAPTURE-BEGIN====="
base64 /tmp/capture
echo "=====KIT-CAPTURE-END====="
poweroff -f
"""


class _Cpio:
    """A newc cpio archive, as the kernel's initramfs unpacker reads it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 1

    def add(self, name: str, mode: int, data: bytes = b"") -> None:
        self.ino += 1
        name_b = name.lstrip("/").encode() + b"\0"
        header = "070701" + "".join(
            f"{v:08x}" for v in (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0)
        )
        blob = header.encode() + name_b
        blob += b"\0" * (-len(blob) % 4) + data + b"\0" * (-len(data) % 4)
        self.parts.append(blob)

    def dir(self, name: str) -> None:
        self.add(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.add(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self.add(name, stat.S_IFLNK | 0o777, target.encode())

    def bytes(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return b"".join(self.parts)


def _sysroot() -> Path:
    root = material.CACHE / "malta" / "sysroot"
    if (root / ".done").exists():
        return root
    debs = material.CACHE / "malta" / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    material._apt_update()
    missing = [p for p in PACKAGES if not list(debs.glob(f"{p}_*_mipsel.deb"))]
    if missing:
        material._run(
            ["apt-get", "-qq", *material._apt_options(), "download", *(f"{p}:mipsel" for p in missing)], cwd=debs
        )
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for deb in debs.glob("*.deb"):
        material._run(["dpkg-deb", "-x", str(deb), str(root)])
    (root / ".done").write_text("ok\n")
    return root


def _needed(path: Path) -> list[str]:
    out = material._run(["readelf", "-d", str(path)]).stdout.decode()
    return re.findall(r"\(NEEDED\).*\[(.+)\]", out)


def _find_lib(root: Path, name: str) -> Path | None:
    for d in ("lib/mipsel-linux-gnu", "usr/lib/mipsel-linux-gnu", "lib", "usr/lib"):
        p = root / d / name
        if p.exists():
            return p
    return None


def initramfs(
    probe: str,
    boot_config: bytes | None = None,
    extra: dict[str, tuple[bytes, int]] | None = None,
    init: str = INIT,
    applets: tuple[str, ...] = (),
) -> bytes:
    """The guest's root: busybox, ss, the diag modules, the probe and /init.

    `extra` adds files (path -> (bytes, mode), parent directories made),
    `init` replaces /init and `applets` adds busybox links (malta_ssh.py
    makes the SSH router this way).
    """
    if shutil.which("readelf") is None:
        raise material.Unavailable("readelf (binutils) is not installed")
    kernel = material.debian_kernel("mipsel")
    root = _sysroot()
    cpio = _Cpio()
    for d in ("bin", "sbin", "lib", "proc", "sys", "dev", "tmp", "etc", "usr", "usr/bin", "usr/sbin"):
        cpio.dir(d)
    cpio.file("bin/busybox", (root / "bin/busybox").read_bytes(), 0o755)
    for applet in (
        "sh",
        "mount",
        "sed",
        "ip",
        "insmod",
        "modprobe",
        "depmod",
        "rm",
        "nc",
        "sleep",
        "base64",
        "poweroff",
        "echo",
        "cat",
        "ls",
        "head",
        "uname",
        "grep",
        "zcat",
        "id",
        "awk",
        "od",
        "getconf",
        "hostname",
        "true",
        "false",
        "kill",
        "command",
        "lsmod",
        "printf",
        "test",
        "[",
        "syslogd",
        "logger",
        *applets,
    ):
        cpio.symlink(f"bin/{applet}", "busybox")
    cpio.symlink("sbin/modprobe", "../bin/busybox")  # where the kernel's request_module looks
    # ss and the libraries it needs, recursively.
    cpio.file("bin/ss", (root / "bin/ss").read_bytes(), 0o755)
    todo, seen = _needed(root / "bin/ss"), set()
    interp = "ld.so.1"
    todo.append(interp)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        lib = _find_lib(root, name)
        if lib is None:
            raise material.Unavailable(f"{name} (needed by ss) not in the mipsel packages")
        real = lib.resolve()
        cpio.file(f"lib/{name}", real.read_bytes(), 0o755)
        todo.extend(_needed(real))
    # The kernel's diag modules, where the probe looks for them.
    rel = next((kernel / "lib/modules").iterdir()).name
    base = f"lib/modules/{rel}"
    cpio.dir("lib/modules")
    made = {"lib/modules", "bin", "sbin", "lib", "proc", "sys", "dev", "tmp", "etc", "usr", "usr/bin", "usr/sbin"}
    for ko in sorted((kernel / base).glob("kernel/net/*/*diag.ko")):
        rel_path = ko.relative_to(kernel).as_posix()
        parts = rel_path.split("/")
        for i in range(2, len(parts)):
            d = "/".join(parts[:i])
            if d not in made:
                cpio.dir(d)
                made.add(d)
        cpio.file(rel_path, ko.read_bytes())
    for meta in ("modules.builtin", "modules.order", "modules.builtin.modinfo"):
        if (kernel / base / meta).exists():
            cpio.file(f"{base}/{meta}", (kernel / base / meta).read_bytes())
    cpio.file("etc/openwrt_release", b"")  # (empty: this is not OpenWrt; the probe cats it)
    if boot_config is not None:
        cpio.dir("boot")
        cpio.file(f"boot/config-{rel}", boot_config)
    for path, (data, mode) in sorted((extra or {}).items()):
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in made:
                cpio.dir(d)
                made.add(d)
        cpio.file(path, data, mode)
    cpio.file("probe.sh", probe.encode(), 0o755)
    cpio.file("init", init.encode(), 0o755)
    return gzip.compress(cpio.bytes(), 6, mtime=0)


def run_scenario(scenario: str, probe: str, timeout: float = 240) -> bytes:
    """Boot, run the probe in `scenario`, return the probe's stdout bytes."""
    if shutil.which("qemu-system-mipsel") is None:
        raise material.Unavailable("qemu-system-mipsel is not installed (Debian package qemu-system-mips)")
    work = material.CACHE / "malta" / "run"
    work.mkdir(parents=True, exist_ok=True)
    initrd = work / f"initrd-{scenario}-{os.getpid()}.gz"
    initrd.write_bytes(initramfs(probe, material.config("mipsel").read_bytes() if scenario == "stale" else None))
    kernel = material.vmlinuz("mipsel")
    try:
        proc = subprocess.run(
            [
                "qemu-system-mipsel",
                "-M",
                "malta",
                "-m",
                "256",
                "-kernel",
                str(kernel),
                "-initrd",
                str(initrd),
                "-append",
                f"console=ttyS0 quiet panic=-1 kit={scenario}",
                "-nographic",
                "-no-reboot",
                "-vga",
                "none",
                "-nic",
                "none",
            ],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    finally:
        initrd.unlink(missing_ok=True)
    console = proc.stdout.decode(errors="replace").replace("\r", "")
    if BEGIN not in console or END not in console:
        raise material.Unavailable(f"the guest did not print a capture (qemu rc {proc.returncode}): " + console[-1500:])
    b64 = console.split(BEGIN, 1)[1].split(END, 1)[0]
    return base64.b64decode("".join(b64.split()))
