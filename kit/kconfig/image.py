"""Find the kernel config embedded in a kernel image (CONFIG_IKCONFIG).

kernel/configs.c puts the gzip'ed .config into .rodata between two markers:

    .ascii "IKCFG_ST"
    kernel_config_data:      .incbin "kernel/config_data.gz"
    kernel_config_data_end:  .ascii "IKCFG_ED"

so in an uncompressed kernel (ELF vmlinux, a raw Image, configs.ko) the bytes
`IKCFG_ST 1f 8b 08` start it, as scripts/extract-ikconfig looks for them.
Bootable images carry the kernel compressed: an ARM zImage or x86 bzImage is
a small decompressor followed by the payload, a MIPS vmlinuz is an ELF around
it, a U-Boot uImage is a 64-byte header before it, a FIT image keeps it in a
flattened device tree property. Rather than trust each container's header,
this module does what extract-ikconfig does: it looks for the signature of
every compression the kernel build supports (scripts/Makefile.lib: gzip,
bzip2, lzma, xz, lzo, lz4, zstd) anywhere in the file, decompresses from
there (trailing data ignored), and looks for the markers in what came out,
one level down again for a payload inside a payload.

gzip, xz, lzma and bzip2 come with Python. zstd, lz4 and lzo need optional
packages (`zstandard`, `lz4`, `python-lzo`: the extras kit[zstd], kit[lz4],
kit[lzo]); when a payload needs one that is missing, `NeedsExtra` says which.
"""

from __future__ import annotations

import bz2
import lzma
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

START = b"IKCFG_ST"
END = b"IKCFG_ED"
MAX_OUTPUT = 256 * 1024 * 1024  # a decompressed kernel is 5-80 MiB; stop well past that (a bomb stops here)
MAX_TRIES = 64  # candidate streams tried per format per level (false signature hits are cheap)
EXTRAS = {"zstd": ("zstandard", "kit[zstd]"), "lz4": ("lz4", "kit[lz4]"), "lzo": ("python-lzo", "kit[lzo]")}


@dataclass(frozen=True)
class Embedded:
    """A config found in an image: the text and how it was reached."""

    text: str
    trail: tuple[str, ...]  # e.g. ("ARM zImage", "gzip payload at 0x3a2c", "IKCFG_ST at 0x5e1f40")

    @property
    def where(self) -> str:
        return " > ".join(self.trail)


class NeedsExtra(Exception):
    """A payload is compressed with a format whose optional package is not installed."""

    def __init__(self, codec: str) -> None:
        package, extra = EXTRAS[codec]
        super().__init__(
            f"the kernel payload is {codec}-compressed: install {extra} (pip install {package}) to look inside it"
        )
        self.codec, self.package, self.extra = codec, package, extra


# ------------------------------------------------------------------ containers


def describe(data: bytes) -> str:
    """A short name for what the file looks like (for messages)."""
    if data[:4] == b"\x7fELF":
        machine = struct.unpack_from("<H" if data[5] == 1 else ">H", data, 18)[0] if len(data) > 20 else 0
        arch = {
            3: "x86",
            8: "MIPS",
            40: "ARM",
            62: "x86-64",
            183: "ARM64",
            243: "RISC-V",
            20: "PowerPC",
            21: "PowerPC64",
        }.get(machine, f"machine {machine}")
        return f"ELF ({arch})"
    if data[:4] == b"\x27\x05\x19\x56":
        comp = data[31] if len(data) > 31 else -1
        names = {0: "none", 1: "gzip", 2: "bzip2", 3: "lzma", 4: "lzo", 5: "lz4", 6: "zstd"}
        return f"U-Boot uImage ({names.get(comp, f'compression {comp}')})"
    if data[:4] == b"\xd0\x0d\xfe\xed":
        return "FIT image (flattened device tree)"
    if len(data) > 0x28 and data[0x24:0x28] == b"\x18\x28\x6f\x01":
        return "ARM zImage"
    if len(data) > 0x206 and data[0x202:0x206] == b"HdrS":
        return "x86 bzImage"
    if len(data) > 0x3C and data[0x38:0x3C] == b"ARM\x64":
        return "ARM64 Image"
    for name, sig in _SIGNATURES:
        if data.startswith(sig.pattern if isinstance(sig, re.Pattern) else sig):
            return f"{name} data"
    return "data"


# ------------------------------------------------------------------ decompressors
# Each takes the bytes from a signature on and returns what it could
# decompress (or raises on garbage); trailing data after the stream is fine.


def _bounded(
    feed: Callable[[bytes, int], bytes], data: bytes, done: Callable[[], bool], leftover: Callable[[], bytes]
) -> bytes:
    out = [feed(data, MAX_OUTPUT)]
    total = len(out[0])
    while not done() and total < MAX_OUTPUT:
        more = feed(leftover(), MAX_OUTPUT - total)
        if not more:
            break
        out.append(more)
        total += len(more)
    return b"".join(out)


class TooLarge(ValueError):
    """A stream decompresses to more than the caller allows."""


def gunzip(data: bytes, limit: int) -> bytes:
    """gzip data decompressed, at most `limit` bytes; TooLarge past that (a gzip bomb stops early)."""
    d = zlib.decompressobj(31)
    out = d.decompress(data, limit + 1)
    if len(out) > limit:
        raise TooLarge(limit)
    return out


def _gzip(data: bytes) -> bytes:
    d = zlib.decompressobj(31)
    return _bounded(d.decompress, data, lambda: d.eof, lambda: d.unconsumed_tail)


def _lzma_like(fmt: int) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        d = lzma.LZMADecompressor(fmt)
        return _bounded(d.decompress, data, lambda: d.eof or d.needs_input, lambda: b"")

    return run


def _bzip2(data: bytes) -> bytes:
    d = bz2.BZ2Decompressor()
    return _bounded(d.decompress, data, lambda: d.eof or d.needs_input, lambda: b"")


def _zstd(data: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:
        raise NeedsExtra("zstd") from None
    reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(data, read_across_frames=False)
    out = []
    total = 0
    try:
        while total < MAX_OUTPUT:
            chunk = reader.read(1 << 20)
            if not chunk:
                break
            out.append(chunk)
            total += len(chunk)
    except zstandard.ZstdError:
        if not out:
            raise
    return b"".join(out)


def _lz4_legacy(data: bytes) -> bytes:
    """lz4 -l (the kernel's format, lib/decompress_unlz4.c): magic, then [LE32 size, block]..."""
    try:
        import lz4.block
    except ImportError:
        raise NeedsExtra("lz4") from None
    pos, total = 4, 0
    out: list[bytes] = []
    while pos + 4 <= len(data) and total < MAX_OUTPUT:
        size = struct.unpack_from("<I", data, pos)[0]
        if size == 0x184C2102:  # another legacy frame follows (lz4 -l of a big input)
            pos += 4
            continue
        if size == 0 or pos + 4 + size > len(data):
            break  # the kernel's appended size, or the end
        try:
            block = lz4.block.decompress(data[pos + 4 : pos + 4 + size], uncompressed_size=8 << 20)
        except lz4.block.LZ4BlockError:
            if not out:
                raise
            break
        out.append(block)
        total += len(block)
        pos += 4 + size
    if not out:
        raise ValueError("no lz4 block")
    return b"".join(out)


def _lzop(data: bytes) -> bytes:
    """lzop's container (the kernel's lzo format, lib/decompress_unlzo.c), blocks via python-lzo."""
    try:
        import lzo
    except ImportError:
        raise NeedsExtra("lzo") from None
    pos = 9
    (version,) = struct.unpack_from(">H", data, pos)
    pos += 4  # version, lib version
    if version >= 0x0940:
        pos += 2  # version needed to extract
    method = data[pos]
    pos += 1
    if method not in (1, 2, 3):  # LZO1X-1, LZO1X-1(15), LZO1X-999
        raise ValueError(f"lzop method {method}")
    if version >= 0x0940:
        pos += 1  # level
    (flags,) = struct.unpack_from(">I", data, pos)
    pos += 4
    if flags & 0x800:
        pos += 4  # filter
    pos += 4 + 4  # mode, mtime low
    if version >= 0x0940:
        pos += 4  # mtime high
    pos += 1 + data[pos] + 4  # name, header checksum
    if flags & 0x40:  # extra field
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4 + n + 4
    out, total = [], 0
    while pos + 4 <= len(data) and total < MAX_OUTPUT:
        (dst_len,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if dst_len == 0:
            break
        (src_len,) = struct.unpack_from(">I", data, pos)
        pos += 4
        pos += 4 * (bool(flags & 0x1) + bool(flags & 0x100))  # checksums of the data
        if src_len < dst_len:
            pos += 4 * (bool(flags & 0x2) + bool(flags & 0x200))  # checksums of the compressed block
        block = data[pos : pos + src_len]
        pos += src_len
        if len(block) < src_len:
            break
        out.append(block if src_len == dst_len else lzo.decompress(block, False, dst_len))
        total += dst_len
    if not out:
        raise ValueError("no lzo block")
    return b"".join(out)


# Signatures, as scripts/extract-vmlinux and extract-ikconfig know them. lzma
# has no magic: its 13-byte header is props (lc/lp/pb: 0x5d for `lzma -9`,
# 0x6d for OpenWrt's lzma-loader builds), a power-of-two dictionary size and
# the size (-1 when streamed, as the kernel build does).
_LZMA_HEADER = re.compile(
    rb"[\x5d\x6d]\x00(?:\x00[\x01-\x80]|[\x01-\x80]\x00|\x00\x00)[\x00-\x04]"
    rb"(?:\xff{8}|[\x00-\xff]{4}\x00{4})",
    re.S,
)
_SIGNATURES: tuple[tuple[str, bytes | re.Pattern[bytes]], ...] = (
    ("gzip", b"\x1f\x8b\x08"),
    ("xz", b"\xfd7zXZ\x00"),
    ("bzip2", b"BZh"),
    ("lzma", _LZMA_HEADER),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("lz4", b"\x02\x21\x4c\x18"),
    ("lzo", b"\x89LZO\x00\r\n\x1a\n"),
)
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gzip,
    "xz": _lzma_like(lzma.FORMAT_XZ),
    "bzip2": _bzip2,
    "lzma": _lzma_like(lzma.FORMAT_ALONE),
    "zstd": _zstd,
    "lz4": _lz4_legacy,
    "lzo": _lzop,
}


def _candidates(data: bytes) -> Iterator[tuple[str, int]]:
    for name, sig in _SIGNATURES:
        found: Iterator[int]
        if isinstance(sig, re.Pattern):
            found = (m.start() for m in sig.finditer(data))
        else:
            found = _find_all(data, sig)
        for n, offset in enumerate(found):
            if n >= MAX_TRIES:
                break
            if name == "bzip2" and not re.match(rb"BZh[1-9]1AY&SY", data[offset : offset + 10]):
                continue
            yield name, offset


def _find_all(data: bytes, sig: bytes) -> Iterator[int]:
    i = data.find(sig)
    while i >= 0:
        yield i
        i = data.find(sig, i + 1)


# ------------------------------------------------------------------ search


def _markers(data: bytes) -> Iterator[tuple[int, str]]:
    """Configs between the markers in an uncompressed blob (offset of IKCFG_ST, text)."""
    for offset in _find_all(data, START + b"\x1f\x8b\x08"):
        d = zlib.decompressobj(31)
        try:
            raw = d.decompress(data[offset + len(START) :], 64 << 20)
        except zlib.error:
            continue
        if not d.eof:
            continue
        # configs.c puts IKCFG_ED right after the gzip stream; tolerate padding.
        if END not in d.unused_data[:64]:
            continue
        yield offset, raw.decode("utf-8", errors="replace")


def find(data: bytes, depth: int = 2) -> Embedded | None:
    """The first embedded config in `data` or in a payload decompressed from it.

    Raises NeedsExtra when nothing was found and a payload needed a missing
    optional package.
    """
    missing: list[NeedsExtra] = []
    found = _find(data, (describe(data),), depth, missing)
    if found is None and missing:
        raise missing[0]
    return found


def _find(data: bytes, trail: tuple[str, ...], depth: int, missing: list[NeedsExtra]) -> Embedded | None:
    for offset, text in _markers(data):
        return Embedded(text, trail + (f"IKCFG_ST at {offset:#x}",))
    if depth <= 0:
        return None
    seen_ends: set[int] = set()
    for codec, offset in _candidates(data):
        if offset in seen_ends:
            continue
        try:
            payload = _DECOMPRESS[codec](data[offset:])
        except NeedsExtra as exc:
            missing.append(exc)
            continue
        except Exception:  # noqa: BLE001
            continue  # a false signature: random bytes that looked like one
        if len(payload) < 1024:
            continue
        found = _find(payload, trail + (f"{codec} payload at {offset:#x} ({len(payload)} bytes)",), depth - 1, missing)
        if found is not None:
            return found
    return None


def payloads(data: bytes) -> list[tuple[str, int, int]]:
    """(codec, offset, decompressed size) of every payload that decompresses (for tests and messages)."""
    out = []
    for codec, offset in _candidates(data):
        try:
            payload = _DECOMPRESS[codec](data[offset:])
        except Exception:  # noqa: BLE001 - false signatures and missing extras alike
            continue
        if len(payload) >= 1024:
            out.append((codec, offset, len(payload)))
    return out
