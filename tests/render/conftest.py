"""Real captures for the render tests: the real probe, run in fresh namespaces on sockets we make.

Each capture is made once per session by situations.py under
`unshare --net --uts --mount` (root only). Without root or unshare the tests
that need one are skipped, or fail when CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import HOSTILE_HOSTNAME  # tests/ is on sys.path (tests/conftest.py)
from support import unavailable as skip_or_fail

HERE = Path(__file__).resolve().parent


def _can_unshare() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--net", "--uts", "--mount", "true"], capture_output=True).returncode == 0


class Captures:
    """Makes each named capture once: make('idle', 'idle') -> Path."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._made: dict[str, Path] = {}
        self.usable = _can_unshare()

    def make(self, name: str, *args: str) -> Path:
        if name in self._made:
            return self._made[name]
        self._run(self.directory / f"{name}.cap", args)
        self._made[name] = self.directory / f"{name}.cap"
        return self._made[name]

    def series(self, name: str, samples: int, every: float, *args: str) -> list[Path]:
        """`samples` captures of one namespace, `every` seconds apart, while its situations go on."""
        out = self.directory / f"{name}.cap"
        paths = [self.directory / f"{name}-{n}.cap" for n in range(1, samples + 1)]
        if name not in self._made:
            self._run(out, ("--samples", str(samples), "--every", str(every), *args))
            self._made[name] = out
        return paths

    def _run(self, out: Path, args) -> None:
        if not self.usable:
            skip_or_fail("making real socket situations needs root and unshare (network namespaces)")
        run = subprocess.run(
            [
                "unshare",
                "--net",
                "--uts",
                "--mount",
                "--",
                sys.executable,
                str(HERE / "situations.py"),
                str(out),
                *args,
            ],
            capture_output=True,
            timeout=300,
        )
        if run.returncode != 0:
            raise RuntimeError(f"situations.py {args} failed: {run.stderr.decode(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def captures(tmp_path_factory) -> Captures:
    return Captures(tmp_path_factory.mktemp("captures"))


@pytest.fixture(scope="session")
def situations_cap(captures) -> Path:
    """Every trouble at once, plus hostile names, on a device with a hostile hostname."""
    return captures.make(
        "situations",
        "--hostname",
        HOSTILE_HOSTNAME,
        "idle",
        "noread",
        "udpdrop",
        "closewait",
        "acceptq",
        "hostile",
        "addresses",
        "shared",
    )


@pytest.fixture(scope="session")
def idle_cap(captures) -> Path:
    return captures.make("idle", "--hostname", "idle-router", "idle")


@pytest.fixture(scope="session")
def nonroot_cap(captures) -> Path:
    return captures.make("nonroot", "--user", "65534", "idle", "noread")


@pytest.fixture(scope="session")
def noss_cap(captures) -> Path:
    return captures.make("noss", "--no-ss", "idle")


@pytest.fixture(scope="session")
def growing_series(captures) -> list[Path]:
    """Four captures a second apart of one namespace where a receiver never reads ("leak") and
    CLOSE-WAIT sockets with unread data pile up ("cwpile"), a UDP socket keeps dropping ("udpflood"),
    beside an idle listener."""
    return captures.series("growing", 4, 1.0, "--hostname", "grow-router", "idle", "leak", "cwpile", "udpflood")


@pytest.fixture(scope="session")
def local_cap(tmp_path_factory) -> Path:
    """The probe on this machine as it is (host network namespace: tcp_mem is readable here)."""
    from kit import capture
    from kit.probe import new_token, render_probe

    token = new_token()
    proc = subprocess.run(["sh", "-s"], input=render_probe(token).encode(), capture_output=True, timeout=300)
    header = {
        "kit_version": "test",
        "target": "local",
        "token": token,
        "exit_status": proc.returncode,
        "started": "2026-01-01T00:00:00+00:00",
        "partial": False,
    }
    return capture.save(tmp_path_factory.mktemp("local"), "local", header, proc.stdout, proc.stderr)
