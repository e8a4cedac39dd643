"""Commands that never talk SSH do not pay for importing paramiko (~0.1 s of every start)."""

from __future__ import annotations

import subprocess
import sys

from support import FIXTURES

CHECK = """
import sys
from kit.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("paramiko", "cryptography", "nacl", "bcrypt"))
print("loaded:", loaded, "exit:", code, file=sys.stderr)
sys.exit(3 if loaded else 0)
"""


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHECK, *argv], capture_output=True, text=True, timeout=120)


def test_render_does_not_import_paramiko(tmp_path):
    ss = str(FIXTURES / "debian-12" / "ss-napm.out")
    for fmt in ("json", "html", "text"):
        proc = run("render", ss, "--format", fmt, "-o", str(tmp_path / f"out.{fmt}"))
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / f"out.{fmt}").stat().st_size > 100


def test_kconfig_does_not_import_paramiko():
    proc = run("kconfig", str(FIXTURES / "kconfig-firecracker-6.18" / "config.gz"))
    assert proc.returncode in (0, 1), proc.stderr
    assert "loaded: []" in proc.stderr
