"""Fixtures for the kernel diag tests: real Debian kernels and images built from them (material.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import material  # noqa: E402
from support import unavailable as _unavailable  # noqa: E402


@pytest.fixture(scope="session")
def debian():
    """arch -> extracted Debian linux-image package (boot/, lib/modules/)."""

    def get(arch: str) -> Path:
        try:
            return material.debian_kernel(arch)
        except material.Unavailable as exc:
            _unavailable(f"Debian {arch} kernel unavailable: {exc}")

    return get


@pytest.fixture(scope="session")
def ikconfig_images(debian):
    for arch in material.ARCHES:
        debian(arch)
    try:
        return material.images()
    except material.Unavailable as exc:
        _unavailable(f"cannot build the IKCONFIG images: {exc}")


@pytest.fixture(scope="module")
def malta_router(tmp_path_factory):
    """The qemu MIPS router as an SSH device (malta_ssh.py), booted once (~20-60 s).

    Module scope: only tests/kdiag/test_malta_ssh.py uses it, so it boots once
    a session and the VM is stopped before the rest of the suite runs (left
    running to the end, the two Ctrl-C tests of the suite's top level timed
    out in the full run; not understood yet, not seen with it stopped).
    """
    import malta_ssh

    try:
        dev = malta_ssh.start(tmp_path_factory.mktemp("malta-ssh"))
    except material.Unavailable as exc:
        _unavailable(f"qemu MIPS SSH router unavailable: {exc}")
    yield dev
    malta_ssh.stop(dev)
