"""Read a file (or stdin) whole, but never more than a stated limit.

`kit render /dev/zero`, a FIFO that never ends, a 50 GB log given by
mistake: each would otherwise be read into memory until it runs out. Device
files are refused at once (a capture or a config is never one); regular
files larger than the limit are refused before reading; pipes, FIFOs and
stdin are read up to the limit and refused past it. Each is one line, exit 2.

The limits (docs/safety.md) sit well above any real input: a capture is at
most `kit collect --max-capture` (512 MiB by default), a kernel image a few
tens of MiB.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from kit.errors import InputError

MIB = 1024 * 1024
CHUNK = 1 * MIB


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n} bytes"


def read_file(path: str | os.PathLike[str], limit: int, what: str = "input") -> bytes:
    """The bytes of `path`; InputError when it is a device or a directory, or holds more than `limit`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
    except FileNotFoundError:
        raise InputError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb", buffering=0) as fh:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{path}: is a directory, not a {what}")
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise InputError(f"{path}: is a device, not a {what}", hint="save it to a file first")
        if stat.S_ISREG(mode):
            if os.fstat(fd).st_size > limit:
                raise InputError(f"{path}: larger than {_size(limit)}, more than any {what} kit reads")
            try:
                data = fh.readall()  # one buffer of the file's size: no second copy of a big input
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
            if len(data) > limit:  # it grew while we read
                raise InputError(f"{path}: larger than {_size(limit)}, more than any {what} kit reads")
            return data
        return read_stream(fh, limit, str(path), what)


def read_stream(fh: BinaryIO, limit: int, name: str, what: str = "input") -> bytes:
    """Read `fh` to its end, refusing (InputError) once more than `limit` bytes came."""
    parts: list[bytes] = []
    total = 0
    try:
        while True:
            chunk = fh.read(min(CHUNK, limit + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputError(f"{name}: more than {_size(limit)}, more than any {what} kit reads")
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None
    return b"".join(parts)
