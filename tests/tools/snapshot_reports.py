"""Render every example capture and fixture into a folder, to diff before and after a refactor.

    python tests/tools/snapshot_reports.py /tmp/before     # on the old code
    python tests/tools/snapshot_reports.py /tmp/after      # on the new code
    diff -r /tmp/before /tmp/after                         # empty: no behaviour change

For each capture in captures/ and each *.out / *.cap under tests/fixtures it
writes `kit render X --format json|text|html` (stdout or the -o file, plus the
exit code and stderr), and `kit kconfig` in text and json for every kernel
config fixture, and `kit probe`. Runs kit in-process (kit.cli.main) from the
installed package, so reinstall (`pip install .`) before running it. Paths are
given relative to the checkout, so outputs do not depend on where it lives.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

from kit.cli import main

ROOT = Path(__file__).resolve().parents[2]
# What differs between two runs of the same code: the render time and the probe's per-run token.
_VOLATILE = [
    (re.compile(r"rendered \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"), "rendered TIME"),
    (re.compile(r"KIT[0-9a-f]{24}"), "KITTOKEN"),
]


def _stable(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _write(dest: Path, name: str, argv: list[str]) -> None:
    code, out, err = _run(argv)
    (dest / name).write_text(_stable(f"$ kit {' '.join(argv)}\nexit {code}\nstderr:\n{err}stdout:\n{out}"))


def inputs() -> list[str]:
    found = sorted(ROOT.glob("captures/*.cap"))
    found += sorted(p for p in ROOT.glob("tests/fixtures/**/*") if p.suffix in (".out", ".cap"))
    return [str(p.relative_to(ROOT)) for p in found]


def kconfigs() -> list[str]:
    found = sorted(ROOT.glob("tests/fixtures/kconfig-*/*"))
    return [str(p.relative_to(ROOT)) for p in found if p.suffix in (".config", ".gz")]


def snapshot(dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for rel in inputs():
        stem = rel.replace("/", "__")
        for fmt in ("json", "text"):
            _write(dest, f"{stem}.{fmt}", ["render", rel, "--format", fmt])
        html = dest / f"{stem}.html"
        code, _out, err = _run(["render", rel, "--format", "html", "-o", str(html)])
        if html.exists():  # not written when the render failed (its exit and stderr say why)
            html.write_text(_stable(html.read_text()))
        (dest / f"{stem}.html.exit").write_text(f"exit {code}\nstderr:\n{err.replace(str(dest), 'DEST')}")
        count += 1
    for rel in kconfigs():
        stem = rel.replace("/", "__")
        for fmt in ("json", "text"):
            _write(dest, f"kconfig__{stem}.{fmt}", ["kconfig", rel, "--format", fmt])
    _write(dest, "probe.sh", ["probe"])
    return count


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    import os

    os.chdir(ROOT)
    n = snapshot(Path(sys.argv[1]).resolve())
    print(f"{n} inputs rendered into {sys.argv[1]}", file=sys.stderr)
