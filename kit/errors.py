"""Typed errors. Each carries its exit code (DESIGN.md); only kit.cli turns them into exits."""

from __future__ import annotations


class KitError(Exception):
    """An expected failure: one line for the user, and what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(KitError):
    exit_code = 2


class InputError(KitError):
    """A file given to kit cannot be read as what it should be."""

    exit_code = 2


class ConnectError(KitError):
    """The device could not be reached (refused, timeout, no route, no banner)."""

    exit_code = 3


class AuthError(ConnectError):
    """The device answered but would not let us log in."""


class HostKeyError(ConnectError):
    """The host key is unknown or changed: refused, as OpenSSH does."""


class ProbeIncomplete(KitError):
    """The probe started but did not finish; the partial capture is saved.

    `result` is the partial RunResult (what arrived before the failure).
    """

    exit_code = 4

    def __init__(self, message: str, result, hint: str = "") -> None:
        super().__init__(message, hint)
        self.result = result


class LegacyAlgorithmsError(ConnectError):
    """The server and kit share no key exchange, host key, cipher or MAC (see --legacy)."""
