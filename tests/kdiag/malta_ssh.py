"""The qemu MIPS router as an SSH device: Debian's mipsel Malta kernel, busybox, ss and dropbear.

    dev = start()            # boots (about a minute under emulation), returns once dropbear answers
    devicelib.kit_args(dev)  # root@127.0.0.1 -p PORT --known-hosts ... -i KEY, as for the x86 device
    stop(dev)

The same Debian material as qemu_malta.py (the kernel, busybox-static, ss and
its libraries, fetched by material.py's private apt), plus Debian's mipsel
dropbear-bin and its libraries, the kernel's pcnet32 driver (qemu's Malta
NIC) and every socket diag module loaded at boot (the "loaded" scenario: a
router whose ss shows socket memory). qemu's user-mode network forwards
127.0.0.1:PORT on this machine to the guest's port 22; nothing else reaches
the guest. Root logs in by key only (dropbear -s); the host key is made here
with dropbearkey and pinned in a known_hosts file.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import material
import qemu_malta

SSH_PACKAGES = ["dropbear-bin", "libcrypt1", "libtomcrypt1", "libtommath1", "libgmp10"]
NIC_MODULES = ("kernel/drivers/net/mii.ko", "kernel/drivers/net/ethernet/amd/pcnet32.ko")
READY = "=====KIT-SSH-READY====="

INIT = r"""#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /var/run /var/log /root
mount -t devpts devpts /dev/pts
echo kit-malta >/proc/sys/kernel/hostname
rel=$(uname -r)
m=/lib/modules/$rel/kernel
for ko in net/ipv4/inet_diag net/ipv4/tcp_diag net/ipv4/udp_diag net/ipv4/raw_diag net/unix/unix_diag \
    net/netlink/netlink_diag net/packet/af_packet_diag drivers/net/mii drivers/net/ethernet/amd/pcnet32; do
    insmod $m/$ko.ko
done
echo /nonexistent >/proc/sys/kernel/modprobe
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
sleep 600000 | nc -l -p 5000 >/dev/null &
sleep 1
sleep 600000 | nc 127.0.0.1 5000 >/dev/null &
syslogd -n -O /tmp/messages -L -R 127.0.0.1:5140 &
sleep 1
logger kit-probe-test
echo "=====KIT-SSH-READY====="
dropbear -F -E -s -p 22 -r /etc/dropbear/dropbear_ed25519_host_key
poweroff -f
"""


@dataclass
class MaltaDevice:
    host: str
    port: int
    root_key: Path
    known_hosts: Path
    log: Path
    proc: subprocess.Popen
    work: Path


def _sysroot() -> Path:
    """qemu_malta's sysroot with dropbear's packages extracted into it too."""
    root = qemu_malta._sysroot()
    done = root / ".ssh-done"
    if done.exists() and done.read_text() == " ".join(SSH_PACKAGES):
        return root
    debs = material.CACHE / "malta" / "debs"
    missing = [p for p in SSH_PACKAGES if not list(debs.glob(f"{p}_*_mipsel.deb"))]
    if missing:
        material._run(
            ["apt-get", "-qq", *material._apt_options(), "download", *(f"{p}:mipsel" for p in missing)], cwd=debs
        )
    for p in SSH_PACKAGES:
        for deb in debs.glob(f"{p}_*_mipsel.deb"):
            material._run(["dpkg-deb", "-x", str(deb), str(root)])
    done.write_text(" ".join(SSH_PACKAGES))
    return root


def _nic_modules(kernel_release: str) -> dict[str, bytes]:
    """pcnet32.ko and mii.ko from the kernel package (material keeps only the diag modules)."""
    debs = list((material.CACHE / "debs").glob(f"linux-image-{kernel_release}_*_mipsel.deb"))
    if not debs:
        raise material.Unavailable(f"linux-image-{kernel_release} mipsel package not in the cache")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        material._run(["dpkg-deb", "-x", str(debs[0]), tmp])
        for rel in NIC_MODULES:
            out[f"lib/modules/{kernel_release}/{rel}"] = (
                Path(tmp) / f"lib/modules/{kernel_release}" / rel
            ).read_bytes()
    return out


def initramfs(authorized_key: str, host_key: bytes) -> bytes:
    """qemu_malta's probe initramfs, with dropbear, its libraries, keys and the SSH init instead of the probe."""
    root = _sysroot()
    kernel = material.debian_kernel("mipsel")
    rel = next((kernel / "lib/modules").iterdir()).name
    extra: dict[str, tuple[bytes, int]] = {}
    extra["usr/sbin/dropbear"] = ((root / "usr/sbin/dropbear").read_bytes(), 0o755)
    todo, seen = qemu_malta._needed(root / "usr/sbin/dropbear"), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        lib = qemu_malta._find_lib(root, name)
        if lib is None:
            raise material.Unavailable(f"{name} (needed by dropbear) not in the mipsel packages")
        extra[f"lib/{name}"] = (lib.resolve().read_bytes(), 0o755)
        todo.extend(qemu_malta._needed(lib.resolve()))
    for path, data in _nic_modules(rel).items():
        extra[path] = (data, 0o644)
    extra["etc/passwd"] = (b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
    extra["etc/shadow"] = (b"root:*:19000:0:99999:7:::\n", 0o600)
    extra["etc/group"] = (b"root:x:0:\n", 0o644)
    extra["etc/shells"] = (b"/bin/sh\n", 0o644)
    extra["root/.ssh/authorized_keys"] = (authorized_key.encode() + b"\n", 0o600)
    extra["etc/dropbear/dropbear_ed25519_host_key"] = (host_key, 0o600)
    return qemu_malta.initramfs("", extra=extra, init=INIT, applets=("ip", "mkdir", "poweroff"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(5)
            return s.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def start(work: Path, timeout: float = 600) -> MaltaDevice:
    """Boot the router and wait until dropbear answers on 127.0.0.1:PORT."""
    for tool in ("qemu-system-mipsel", "dropbearkey", "ssh-keygen", "readelf", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise material.Unavailable(f"{tool} is not installed")
    work.mkdir(parents=True, exist_ok=True)
    key = work / "root_ed25519"
    if not key.exists():
        material._run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kit-malta", "-f", str(key)])
    host_key = work / "host_ed25519"
    if not host_key.exists():
        material._run(["dropbearkey", "-t", "ed25519", "-f", str(host_key)])
    host_pub = next(
        ln
        for ln in material._run(["dropbearkey", "-y", "-f", str(host_key)]).stdout.decode().splitlines()
        if ln.startswith("ssh-ed25519 ")
    )
    port = _free_port()
    known_hosts = work / f"known_hosts-{port}"
    known_hosts.write_text(f"[127.0.0.1]:{port} {' '.join(host_pub.split()[:2])}\n")
    initrd = work / "initrd-ssh.gz"
    initrd.write_bytes(initramfs((work / "root_ed25519.pub").read_text().strip(), host_key.read_bytes()))
    log = work / f"console-{port}.log"
    proc = subprocess.Popen(
        [
            "qemu-system-mipsel",
            "-M",
            "malta",
            "-m",
            "256",
            "-kernel",
            str(material.vmlinuz("mipsel")),
            "-initrd",
            str(initrd),
            "-append",
            "console=ttyS0 quiet panic=-1",
            "-nographic",
            "-no-reboot",
            "-vga",
            "none",
            "-nic",
            "none",
            "-netdev",
            f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
            # No option ROM: the guest boots from -kernel (Debian ships efi-pcnet.rom in ipxe-qemu).
            "-device",
            "pcnet,netdev=n0,romfile=",
        ],
        stdin=subprocess.DEVNULL,
        stdout=open(log, "wb"),  # noqa: SIM115 - qemu keeps writing it; closed with the process
        stderr=subprocess.STDOUT,
    )
    dev = MaltaDevice("127.0.0.1", port, key, known_hosts, log, proc, work)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise material.Unavailable(f"qemu exited {proc.returncode}: {log.read_text(errors='replace')[-1500:]}")
        if READY in log.read_text(errors="replace") and _banner(port):
            return dev
        time.sleep(1)
    stop(dev)
    raise material.Unavailable(f"dropbear on the MIPS guest did not answer in {timeout:.0f} s")


def stop(dev: MaltaDevice) -> None:
    if dev.proc.poll() is None:
        dev.proc.terminate()
        try:
            dev.proc.wait(10)
        except subprocess.TimeoutExpired:
            dev.proc.kill()
            dev.proc.wait()
    if dev.proc.stdout:
        dev.proc.stdout.close()
    os.environ.get("KIT_KEEP_MALTA") or (dev.work / "initrd-ssh.gz").unlink(missing_ok=True)
