"""Fixtures for the hostile-device tests: kit as a subprocess, its stderr bytes inspected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_support import KIT, Ran  # noqa: E402


@pytest.fixture
def kit_run(tmp_path):
    """kit_run(*argv, stdin=b"") runs the installed `kit` with HOME in tmp_path; returns Ran."""

    def run(*argv, stdin: bytes = b"", env: dict | None = None, timeout: float = 120) -> Ran:
        full_env = dict(os.environ, HOME=str(tmp_path / "home"), KIT_EVIL_PW="evil-pw", **(env or {}))
        full_env.pop("SSH_AUTH_SOCK", None)
        proc = subprocess.run(
            [KIT, *map(str, argv)], input=stdin, capture_output=True, cwd=tmp_path, env=full_env, timeout=timeout
        )
        return Ran(proc.returncode, proc.stdout, proc.stderr)

    return run
