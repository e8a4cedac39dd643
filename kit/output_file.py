"""Where kit writes what it makes, safely: never onto an input, never through a link, 0600.

Rules (docs/safety.md):

- `-o FILE` may replace a regular file only. A symlink, a device, a FIFO or a
  directory there is refused (exit 2), and so is the input itself (compared
  by device and inode, so a hard link or `./x` for `x` is caught too).
- The output is written to a new temporary file beside FILE (O_EXCL, mode
  0600) and renamed over it when complete: rename(2) replaces the name, never
  what a link planted meanwhile points to, and a reader never sees half a file.
- Reports in --reports and captures are new files (kit.capture.write_new:
  link(2) to a free name), 0600 like the capture they are made from.
- A directory flag (--reports, --captures) naming something that is not a
  directory, or any write that fails (disk full, /dev/full on stdout), is one
  line and exit 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from kit.errors import ExitStatus, KitError


class OutputError(KitError):
    """kit cannot write where it was told to (or must not: an input, a link, a device)."""

    exit_code = ExitStatus.USAGE


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _input_identities(inputs: Iterable[str | Path]) -> dict[tuple[int, int], str]:
    seen = {}
    for name in inputs:
        try:
            st = os.fstat(0) if str(name) == "-" else os.stat(name)
        except (OSError, ValueError):
            continue
        seen[_identity(st)] = "stdin" if str(name) == "-" else str(name)
    return seen


def refuse_unsafe(dest: Path, inputs: Iterable[str | Path] = ()) -> None:
    """Raise OutputError unless `dest` is absent or a regular file that is not one of `inputs`."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(
            f"-o {dest}: is a symbolic link; kit does not write through links", hint="name the file itself"
        )
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OutputError(f"-o {dest}: {kind}; kit only replaces regular files", hint="use -o - for stdout")
    source = _input_identities(inputs).get(_identity(st))
    if source is not None:
        raise OutputError(f"-o {dest} is the input {source}: kit never replaces what it reads")


@contextlib.contextmanager
def replacing(dest: Path, inputs: Iterable[str | Path] = ()) -> Iterator[TextIO]:
    """A text stream whose content replaces `dest` (UTF-8) once the block ends without error."""
    inputs = list(inputs)
    refuse_unsafe(dest, inputs)
    import tempfile  # here: only -o FILE needs it

    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".kit-", suffix=".tmp", dir=dest.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        refuse_unsafe(dest, inputs)  # again, just before the rename
        os.replace(tmp, dest)
        tmp = None
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def directory(path: Path, flag: str) -> Path:
    """`path` as a directory kit may write new files in (created if missing); OutputError if it cannot be."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag} {path}: cannot create it ({exc.strerror or exc})") from None
    return path


def new_file(
    where: Path, stem: str, suffix: str, data: bytes | Callable[[BinaryIO], object], flag: str = "--reports"
) -> Path:
    """kit.capture.write_new (a new 0600 file, never an existing name), failures as OutputError."""
    from kit import capture

    directory(where, flag)
    try:
        return capture.write_new(where, stem, suffix, data)
    except OSError as exc:
        raise OutputError(f"cannot write a report in {where}: {exc.strerror or exc}") from None


def to_stdout(emit: Callable[[TextIO], object]) -> None:
    """emit(sys.stdout) and flush; a stdout that fails (/dev/full) is an OutputError, a closed pipe is not."""
    try:
        emit(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()
        raise OutputError(f"cannot write to stdout: {exc.strerror or exc}") from None


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush finds nothing to fail on
    (the recipe in the Python docs, "Note on SIGPIPE")."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (io.UnsupportedOperation is both)
        pass
