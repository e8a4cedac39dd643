"""Exit statuses and typed errors. Each error carries its exit status (docs/design.md, "Exit codes");
only kit.cli turns them into exits."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.transport.base import RunResult


class ExitStatus(IntEnum):
    """Every exit code kit uses, for all commands (httpie's ExitStatus shape)."""

    OK = 0
    CHECK_FAILED = 1  # done, and the check failed (kconfig: option missing; collect: verdict not ok)
    USAGE = 2  # usage error or unreadable input
    UNREACHABLE = 3  # could not reach or log in to the device
    INCOMPLETE = 4  # the probe ran but something was lost (partial capture saved)
    INTERNAL = 70  # unexpected error: one line naming the log with the traceback
    INTERRUPTED = 130  # Ctrl-C


class KitError(Exception):
    """An expected failure: one line for the user, and what to do about it."""

    exit_code: ExitStatus = ExitStatus.CHECK_FAILED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(KitError):
    exit_code = ExitStatus.USAGE


class InputError(KitError):
    """A file given to kit cannot be read as what it should be."""

    exit_code = ExitStatus.USAGE


class ConnectError(KitError):
    """The device could not be reached (refused, timeout, no route, no banner)."""

    exit_code = ExitStatus.UNREACHABLE


class AuthError(ConnectError):
    """The device answered but would not let us log in."""


class HostKeyError(ConnectError):
    """The host key is unknown or changed: refused, as OpenSSH does."""


class ProbeIncomplete(KitError):
    """The probe started but did not finish; the partial capture is saved.

    `result` is the partial RunResult (what arrived before the failure), or
    None when there is none to give (the capture itself could not be written).
    """

    exit_code = ExitStatus.INCOMPLETE

    def __init__(self, message: str, result: RunResult | None, hint: str = "") -> None:
        super().__init__(message, hint)
        self.result = result


class LegacyAlgorithmsError(ConnectError):
    """The server and kit share no key exchange, host key, cipher or MAC (see --legacy)."""


class CaptureLimitReached(Exception):
    """A sink took all the bytes it may hold; the transport closes the link and keeps them.

    Not a KitError: the transport turns it into ProbeIncomplete (exit 4).
    """

    def __init__(self, limit: int) -> None:
        mib, rest = divmod(limit, 1024 * 1024)
        size = f"{mib} MiB" if mib and not rest else f"{limit} bytes"
        super().__init__(f"the device sent more than {size}")
        self.limit = limit


class CaptureWriteError(Exception):
    """The sink could not write what arrived (disk full, directory gone); wraps the OSError.

    Not an OSError on purpose: transports read the link's OSErrors as a lost connection.
    """

    def __init__(self, cause: OSError) -> None:
        super().__init__(cause.strerror or str(cause))
        self.cause = cause
