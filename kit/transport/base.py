"""The transport contract: run one script, get one result (the invoke/fabric shape)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# progress(message) -> None; the CLI decides whether and where it is shown.
Progress = Callable[[str], None]


def no_progress(_message: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class RunResult:
    stdout: bytes
    stderr: bytes
    exit_status: int | None  # None: the remote side never reported one
    started: float  # time.time()
    finished: float
    timed_out: bool = False
    error: str = ""  # why the run stopped early, if it did
    host_key: str = ""  # "ssh-ed25519 SHA256:..." for SSH runs
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out and not self.error


class Transport(Protocol):
    target: str

    def run(self, script: bytes, timeout: float, progress: Progress = no_progress) -> RunResult:
        """Feed `script` to `sh -s` on the target and collect everything it prints.

        Returns a RunResult even when the script exits non-zero. Raises
        ConnectError/AuthError/HostKeyError before the script starts, and
        ProbeIncomplete (carrying the partial RunResult) when it is cut short.
        """
        ...
