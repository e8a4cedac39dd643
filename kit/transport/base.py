"""The transport contract: run one script, get one result (the invoke/fabric shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from kit.errors import CaptureLimitReached
from kit.frozen import frozen

# progress(message) -> None; the CLI decides whether and where it is shown.
Progress = Callable[[str], None]


def no_progress(_message: str) -> None:
    pass


class Sink(Protocol):
    """Where a run's output goes as it arrives (kit.capture_writer.CaptureWriter writes it to disk).

    `out`/`err` raise CaptureLimitReached when the sink's bound is passed (the
    transport then closes the link: a partial run) and CaptureWriteError when
    it cannot store the bytes.
    """

    def out(self, data: bytes) -> None: ...

    def err(self, data: bytes) -> None: ...


# The bound of a MemorySink when the caller gives none (tests, bench, kdiag).
MEMORY_LIMIT = 256 * 1024 * 1024


class MemorySink:
    """Keep the output in memory, bounded; what `run()` uses when the caller passes no sink."""

    def __init__(self, limit: int = MEMORY_LIMIT) -> None:
        self.limit = limit
        self.stdout = bytearray()
        self.stderr = bytearray()

    def out(self, data: bytes) -> None:
        self._add(self.stdout, data)

    def err(self, data: bytes) -> None:
        self._add(self.stderr, data)

    def _add(self, buf: bytearray, data: bytes) -> None:
        room = max(self.limit - len(self.stdout) - len(self.stderr), 0)
        buf += data[:room]
        if len(data) > room:
            raise CaptureLimitReached(self.limit)


@frozen
class RunResult:
    # The output, when the run kept it in memory (no sink given); with a sink
    # the bytes went there and these are empty.
    stdout: bytes
    stderr: bytes
    exit_status: int | None  # None: the remote side never reported one
    started: float  # time.time()
    finished: float
    timed_out: bool = False
    error: str = ""  # why the run stopped early, if it did
    host_key: str = ""  # "ssh-ed25519 SHA256:..." for SSH runs

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out and not self.error


@runtime_checkable
class Transport(Protocol):
    target: str

    def connect(self, progress: Progress = no_progress) -> Connection:
        """Open the link (and log in) once; runs over it follow. Raises ConnectError and its kin."""
        ...

    def run(
        self, script: bytes, timeout: float, progress: Progress = no_progress, sink: Sink | None = None
    ) -> RunResult:
        """connect(), one Connection.run(), close."""
        ...


class Connection(Protocol):
    """An open link to the target; each run() is one `sh -s` (one SSH exec channel)."""

    target: str

    def run(
        self, script: bytes, timeout: float, progress: Progress = no_progress, sink: Sink | None = None
    ) -> RunResult:
        """Feed `script` to `sh -s` on the target; everything it prints goes to `sink` as it arrives.

        Without a sink the output is kept in a MemorySink and returned in the
        RunResult. Returns a RunResult even when the script exits non-zero.
        Raises ProbeIncomplete (carrying the partial RunResult) when the run is
        cut short: link lost, timeout, Ctrl-C, or the sink's limit reached (the
        link is then closed). CaptureWriteError from the sink propagates.
        """
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Connection: ...

    def __exit__(self, *exc: object) -> None: ...


def kept(sink: Sink) -> tuple[bytes, bytes]:
    """The output a RunResult carries: a MemorySink's bytes, nothing for any other sink."""
    if isinstance(sink, MemorySink):
        return bytes(sink.stdout), bytes(sink.stderr)
    return b"", b""


def limit_message(exc: CaptureLimitReached) -> str:
    return f"{exc}: link closed, the capture stops there"
