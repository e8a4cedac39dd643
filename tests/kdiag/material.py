"""Real test material for the kernel diag tests, fetched and built on first use.

Everything lands in tests/kdiag/.cache/ (gitignored) and is reused:

* Debian 12 kernel packages of three architectures, fetched with
  `apt-get download` through a private apt state (its own lists directory,
  with APT::Architectures amd64, mipsel and armel), so the machine's dpkg
  architectures and apt lists are left alone:
    linux-image-cloud-amd64  -> x86 bzImage (lz4 payload), config
    linux-image-4kc-malta    -> MIPS vmlinuz (an ELF around an xz payload), config
    linux-image-marvell      -> ARM zImage (xz payload), config (Kirkwood/Orion NAS and routers)
  The metapackage names are resolved to today's ABI (linux-image-6.1.0-NN-...)
  with apt-cache, so the tests follow Debian's security updates.
  None of these kernels has CONFIG_IKCONFIG: their vmlinuz are the
  "image without a config" inputs (exit 2).

* Images that do carry a config, built from those real inputs exactly the
  way kernel/configs.c lays it out: `IKCFG_ST` + the config compressed by
  `gzip -n -9` (the kernel's cmd_gzip) + `IKCFG_ED`, spliced into the real
  kernel bytes just before the `Linux version ` banner (which sits in
  .rodata, where configs.c puts the blob). The kernels are the decompressed
  payloads of Debian's images (MIPS: an ELF vmlinux; ARM: a raw Image), and
  the config is the same package's /boot/config-*. Then compressed with the
  real tools as scripts/Makefile.lib does (gzip -n -9, xz --check=crc32,
  lzma -9, bzip2 -9, zstd -22 --ultra, lz4 -l -12, lzop -9) and wrapped:
    vmlinux-ikconfig            uncompressed MIPS ELF with the config
    vmlinux-ikconfig.<codec>    the raw compressed payloads
    uImage-lzma                 mkimage -A mips -C lzma (OpenWrt's MIPS layout)
    uImage-gzip                 mkimage -A arm -C gzip of the ARM Image
    fit.itb                     mkimage -f auto, ARM Image gzip'ed inside a FIT
    zImage-ikconfig             Debian's ARM zImage, its xz payload swapped for
                                the xz of Image+config (decompressor bytes kept)
    bzImage-ikconfig            Debian's x86 bzImage, its lz4 payload swapped for
                                lz4 -l of vmlinux+config
  These images are for reading, not booting: splicing shifts the kernel's
  own offsets. What they prove is that the config is found wherever the
  kernel's own build would have put it, under each container and codec.

Run `python tests/kdiag/material.py` to build everything and list it.
Standard library only.
"""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("KIT_KDIAG_CACHE", HERE / ".cache"))
ARCHES = {
    # arch: (metapackage, what the vmlinuz is)
    "amd64": "linux-image-cloud-amd64",
    "mipsel": "linux-image-4kc-malta",
    "armel": "linux-image-marvell",
}
START, END = b"IKCFG_ST", b"IKCFG_ED"


class Unavailable(RuntimeError):
    """The material cannot be had here (no apt, no network, a tool missing)."""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, **kw)
    except FileNotFoundError as exc:
        raise Unavailable(f"{cmd[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise Unavailable(f"{' '.join(cmd[:4])}... failed: {exc.stderr.decode(errors='replace')[-400:]}") from exc


# ---------------------------------------------------------------- apt, privately


def _apt_options() -> list[str]:
    state = CACHE / "apt"
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    opts = [
        f"-oDir::State::Lists={state / 'lists'}",
        f"-oDir::Cache={state / 'cache'}",
        f"-oDir::Cache::Archives={state / 'archives'}",
        "-oAPT::Architecture=amd64",
        "-oDebug::NoLocking=1",
        "-oAPT::Sandbox::User=root",
    ]
    opts += [f"-oAPT::Architectures::={a}" for a in ARCHES]
    return opts


def _apt_update() -> None:
    stamp = CACHE / "apt" / "updated"
    if stamp.exists():
        return
    _run(["apt-get", "-qq", *_apt_options(), "update"])
    stamp.write_text("ok\n")


def _resolve(meta: str, arch: str) -> str:
    out = _run(["apt-cache", *_apt_options(), "depends", f"{meta}:{arch}"]).stdout.decode()
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-"):
            return line.split()[1].split(":")[0]
    raise Unavailable(f"cannot resolve {meta}:{arch}: {out[:200]}")


def debian_kernel(arch: str) -> Path:
    """The extracted linux-image package of `arch` (boot/ and lib/modules/), cached."""
    done = CACHE / "debian" / arch / ".done"
    root = done.parent
    if done.exists():
        return root
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise Unavailable("apt-get / dpkg-deb not available")
    _apt_update()
    package = _resolve(ARCHES[arch], arch)
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    have = list(debs.glob(f"{package}_*_{arch}.deb"))
    if not have:
        _run(["apt-get", "-qq", *_apt_options(), "download", f"{package}:{arch}"], cwd=debs)
        have = list(debs.glob(f"{package}_*_{arch}.deb"))
    if not have:
        raise Unavailable(f"apt-get download {package}:{arch} left no .deb")
    tmp = root.with_name(arch + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(have[0]), str(tmp)])
    # Keep what the tests read: boot/, modules.builtin and the socket diag modules.
    for ko in tmp.glob("lib/modules/*/kernel/**/*.ko*"):
        if "diag" not in ko.name and ko.name not in ("configs.ko",):
            ko.unlink()
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    (root / ".done").write_text(have[0].name + "\n")
    return root


def vmlinuz(arch: str) -> Path:
    return next((debian_kernel(arch) / "boot").glob("vmlinuz-*"))


def config(arch: str) -> Path:
    return next((debian_kernel(arch) / "boot").glob("config-*"))


# ---------------------------------------------------------------- images with a config


def _payload(image: bytes, magic: bytes, decompress) -> tuple[int, int, bytes]:
    """(offset, compressed length, decompressed bytes) of the kernel payload in a real image."""
    offset = image.find(magic)
    while offset >= 0:  # the decompressor's own code may hold the magic too: take the one that works
        try:
            data, consumed = decompress(image[offset:])
            if len(data) > 1 << 20:
                return offset, consumed, data
        except (lzma.LZMAError, Unavailable):
            pass
        offset = image.find(magic, offset + 1)
    raise Unavailable("no payload decompresses")


def _unxz(buf: bytes) -> tuple[bytes, int]:
    d = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    out = d.decompress(buf)
    return out, len(buf) - len(d.unused_data)


def _unlz4_legacy(buf: bytes) -> tuple[bytes, int]:
    """Via the lz4 tool: it stops at the end of the legacy stream (`lz4 -d` of the payload)."""
    proc = subprocess.run(["lz4", "-dc"], input=buf, capture_output=True)
    if not proc.stdout:
        raise Unavailable("lz4 -d gave nothing: " + proc.stderr.decode(errors="replace")[:200])
    # Walk the legacy blocks to find where the stream ends.
    pos = 4
    while pos + 4 <= len(buf):
        size = int.from_bytes(buf[pos : pos + 4], "little")
        if size == 0x184C2102:
            pos += 4
            continue
        if size == 0 or size > 8 << 20 or pos + 4 + size > len(buf):
            break
        pos += 4 + size
    return proc.stdout, pos


def ikconfig_blob(config_text: bytes) -> bytes:
    """IKCFG_ST + gzip -n -9 of the config + IKCFG_ED, as kernel/configs.c + kernel/Makefile make it."""
    if shutil.which("gzip"):
        gz = _run(["gzip", "-n", "-9"], input=config_text).stdout
    else:  # pragma: no cover
        gz = gzip.compress(config_text, 9, mtime=0)
    return START + gz + END


def splice(kernel: bytes, blob: bytes) -> bytes:
    """Put the blob in the kernel's .rodata: just before the 'Linux version ' banner."""
    at = kernel.find(b"Linux version ")
    if at < 0:
        raise Unavailable("no 'Linux version' banner in the kernel bytes")
    return kernel[:at] + blob + kernel[at:]


COMPRESSORS = {
    # codec: command (stdin -> stdout), as scripts/Makefile.lib runs them
    "gzip": ["gzip", "-n", "-9"],
    "xz": ["xz", "--check=crc32", "-6"],
    "lzma": ["lzma", "-9"],
    "bzip2": ["bzip2", "-9"],
    "zstd": ["zstd", "-q", "-22", "--ultra"],
    "lz4": ["lz4", "-q", "-l", "-12"],
    "lzo": ["lzop", "-9"],
}


def compress(codec: str, data: bytes) -> bytes:
    return _run(COMPRESSORS[codec], input=data).stdout


def images() -> dict[str, Path]:
    """Build (once) every image that carries a config; name -> path."""
    out_dir = CACHE / "images"
    done = out_dir / ".done"
    names = [
        "vmlinux-ikconfig",
        *(f"vmlinux-ikconfig.{c}" for c in COMPRESSORS),
        "uImage-lzma",
        "uImage-gzip",
        "fit.itb",
        "zImage-ikconfig",
        "bzImage-ikconfig",
    ]
    if done.exists():
        return {n: out_dir / n for n in names if (out_dir / n).exists()}
    tmp = out_dir.with_name("images.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    built: dict[str, Path] = {}

    def write(name: str, data: bytes) -> None:
        (tmp / name).write_bytes(data)
        built[name] = out_dir / name

    # MIPS: the ELF vmlinux inside Debian's malta vmlinuz, with the malta config.
    mips = vmlinuz("mipsel").read_bytes()
    _, _, mips_vmlinux = _payload(mips, b"\xfd7zXZ\x00", _unxz)
    vml = splice(mips_vmlinux, ikconfig_blob(config("mipsel").read_bytes()))
    write("vmlinux-ikconfig", vml)
    for codec in COMPRESSORS:
        if shutil.which(COMPRESSORS[codec][0]):
            write(f"vmlinux-ikconfig.{codec}", compress(codec, vml))
    # ARM: the raw Image inside Debian's marvell zImage, with the marvell config.
    zimage = vmlinuz("armel").read_bytes()
    off, n, arm_image = _payload(zimage, b"\xfd7zXZ\x00", _unxz)
    arm = splice(arm_image, ikconfig_blob(config("armel").read_bytes()))
    write("zImage-ikconfig", zimage[:off] + compress("xz", arm) + zimage[off + n :])
    if shutil.which("mkimage"):
        for name, arch, codec, data in (("uImage-lzma", "mips", "lzma", vml), ("uImage-gzip", "arm", "gzip", arm)):
            src = tmp / f"{name}.payload"
            src.write_bytes(compress(codec, data))
            _run(
                [
                    "mkimage",
                    "-A",
                    arch,
                    "-O",
                    "linux",
                    "-T",
                    "kernel",
                    "-C",
                    codec,
                    "-a",
                    "0x80008000",
                    "-e",
                    "0x80008000",
                    "-n",
                    f"kit test {codec}",
                    "-d",
                    str(src),
                    str(tmp / name),
                ]
            )
            src.unlink()
            built[name] = out_dir / name
        if shutil.which("dtc"):
            src = tmp / "Image.gz"
            src.write_bytes(compress("gzip", arm))
            _run(
                [
                    "mkimage",
                    "-f",
                    "auto",
                    "-A",
                    "arm",
                    "-O",
                    "linux",
                    "-T",
                    "kernel",
                    "-C",
                    "gzip",
                    "-a",
                    "0x8000",
                    "-e",
                    "0x8000",
                    "-n",
                    "kit test FIT",
                    "-d",
                    str(src),
                    str(tmp / "fit.itb"),
                ]
            )
            src.unlink()
            built["fit.itb"] = out_dir / "fit.itb"
    # x86: the ELF vmlinux inside Debian's cloud-amd64 bzImage (lz4), with its config.
    if shutil.which("lz4"):
        bz = vmlinuz("amd64").read_bytes()
        off, n, x86 = _payload(bz, b"\x02\x21\x4c\x18", _unlz4_legacy)
        x86 = splice(x86, ikconfig_blob(config("amd64").read_bytes()))
        write("bzImage-ikconfig", bz[:off] + compress("lz4", x86) + bz[off + n :])
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    (out_dir / ".done").write_text("\n".join(sorted(built)) + "\n")
    return built


if __name__ == "__main__":
    try:
        for arch in ARCHES:
            print(arch, debian_kernel(arch))
        for _name, path in sorted(images().items()):
            print(f"{path.stat().st_size:>10}  {path}")
    except Unavailable as exc:
        print(f"unavailable: {exc}", file=sys.stderr)
        sys.exit(1)
