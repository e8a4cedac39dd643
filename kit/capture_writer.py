"""Stream a run's output to disk as it arrives, then save it as a capture file.

A device may send without end (a runaway command, a crafted server): nothing
it sends is held whole in memory. `CaptureWriter` is the transport's sink:
stdout and stderr go to two temporary files in the captures directory as they
arrive, and past `limit` bytes (both together) it raises CaptureLimitReached,
on which the transport closes the link and reports a partial run. `save()`
then assembles the usual capture file (kit.capture: magic line, header line,
stdout bytes, stderr bytes) with a streaming copy, fsyncs it and links it to
a new name, so a capture is still written atomically and never overwrites.

One writer per run: `kit collect --every` repeats runs over one connection
with a new writer each time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from kit import capture
from kit.errors import CaptureLimitReached, CaptureWriteError

MIB = 1024 * 1024
# The default bound on one run's output. The sections' own limits add up to
# more (kit.sections: ss alone may print 256 MiB), but a real router's whole
# capture is a few MB; 512 MiB is far beyond any real one and still renders.
DEFAULT_LIMIT = 512 * MIB


class CaptureWriter:
    """The sink a transport writes a run's output to (see kit.transport.base.Sink)."""

    def __init__(self, directory: Path, limit: int = DEFAULT_LIMIT) -> None:
        self.directory = Path(directory)
        self.limit = limit
        self.stdout_bytes = 0
        self.stderr_bytes = 0
        self._names: list[str] = []
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._out = _temp(self.directory, self._names)
            self._err = _temp(self.directory, self._names)
        except OSError as exc:
            self.close()
            raise CaptureWriteError(exc) from None

    @property
    def size(self) -> int:
        return self.stdout_bytes + self.stderr_bytes

    def out(self, data: bytes) -> None:
        kept = data[: max(self.limit - self.size, 0)]
        self._write(self._out, kept)
        self.stdout_bytes += len(kept)
        if len(kept) < len(data):
            raise CaptureLimitReached(self.limit)

    def err(self, data: bytes) -> None:
        kept = data[: max(self.limit - self.size, 0)]
        self._write(self._err, kept)
        self.stderr_bytes += len(kept)
        if len(kept) < len(data):
            raise CaptureLimitReached(self.limit)

    @staticmethod
    def _write(fh: BinaryIO, data: bytes) -> None:
        try:
            fh.write(data)
        except OSError as exc:
            raise CaptureWriteError(exc) from None

    def save(self, stem: str, header: dict[str, Any]) -> Path:
        """Write the capture file (header + stdout + stderr) under a new name; returns its path."""
        header = dict(header, stdout_bytes=self.stdout_bytes, stderr_bytes=self.stderr_bytes)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".kit-", suffix=".tmp", dir=self.directory)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(capture.header_bytes(header))
                    for part in (self._out, self._err):
                        part.flush()
                        part.seek(0)
                        shutil.copyfileobj(part, fh, 1 * MIB)
                    fh.flush()
                    os.fsync(fh.fileno())
                return capture.link_new(Path(tmp), self.directory, stem, ".cap")
            finally:
                _unlink(tmp)
        except OSError as exc:
            raise CaptureWriteError(exc) from None

    def close(self) -> None:
        """Remove the temporary files (the saved capture, if any, stays)."""
        for fh in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if fh is not None:
                try:
                    fh.close()
                except OSError:
                    pass  # a flush on a full disk: these bytes are being thrown away anyway
        while self._names:
            _unlink(self._names.pop())

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _temp(directory: Path, names: list[str]) -> BinaryIO:
    # mkstemp: O_EXCL, mode 0600, never follows a planted symlink.
    fd, name = tempfile.mkstemp(prefix=".kit-run-", suffix=".tmp", dir=directory)
    names.append(name)
    return os.fdopen(fd, "w+b")


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
