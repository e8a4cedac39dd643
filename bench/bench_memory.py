"""Peak RSS of `kit render` on big and hostile inputs, for every --format.

    .venv/bin/python bench/bench_memory.py [--paste-mb 200] [--junk-mb 20] [--keep DIR]

Target (issue 15, docs/safety.md): peak RSS at most 10x the input and at most
1 GB for any input up to 200 MB, for every --format. Inputs:

- a real-shaped `ss -napm` paste of --paste-mb MB: the lines of the real
  capture tests/fixtures/debian-12/ss-napm.out repeated with every port and
  inode renumbered, so no two sockets are the same;
- --junk-mb MB of junk lines (printable noise of varied length, no socket in
  them): every line becomes an unread-line problem;
- the same junk with one real socket on top, so it renders instead of exit 2.

Each run is `kit render FILE --format F -o OUT` in a fresh process; its peak
RSS is ru_maxrss from wait4(). Prints the figures and the commands, never
asserts.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT = str(Path(sys.executable).parent / "kit")
REAL = ROOT / "tests" / "fixtures" / "debian-12" / "ss-napm.out"
MB = 1000 * 1000


def real_shaped_paste(path: Path, size: int) -> int:
    """Repeat the real paste's socket lines, renumbering ports and inodes, until `size` bytes."""
    lines = REAL.read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    number = re.compile(r"(?<=:)\d+(?=\s)|(?<=\s)\d{5,}(?=\s)")
    written = 0
    n = 0
    with open(path, "w") as fh:
        fh.write(header)
        written += len(header)
        while written < size:
            n += 1
            shift = n * 7919
            for line in body:
                line = number.sub(lambda m, shift=shift: str((int(m.group()) + shift) % 4_000_000_000), line)
                fh.write(line)
                written += len(line)
    return written


def junk(path: Path, size: int, with_socket: bool) -> int:
    rng = random.Random(15)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789:.()[]/,=-_ \t"
    written = 0
    with open(path, "w") as fh:
        if with_socket:
            lines = REAL.read_text().splitlines(keepends=True)
            fh.write(lines[0] + lines[1])
        while written < size:
            line = "".join(rng.choices(alphabet, k=rng.randint(1, 200))) + "\n"
            fh.write(line)
            written += len(line)
    return written


def measure(argv: list[str]) -> tuple[int, float, float, bytes]:
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.monotonic() - start, usage.ru_maxrss / 1024, err


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paste-mb", type=int, default=200)
    ap.add_argument("--junk-mb", type=int, default=20)
    ap.add_argument("--formats", default="text,json,html")
    ap.add_argument("--keep", type=Path, help="keep the inputs here")
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="kit-bench-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = []
    paste = work / f"paste-{args.paste_mb}mb.txt"
    inputs.append(("real-shaped ss -napm paste", paste, real_shaped_paste(paste, args.paste_mb * MB)))
    j = work / f"junk-{args.junk_mb}mb.txt"
    inputs.append(("junk lines", j, junk(j, args.junk_mb * MB, with_socket=False)))
    j1 = work / f"junk-{args.junk_mb}mb-one-socket.txt"
    inputs.append(("junk lines + 1 socket", j1, junk(j1, args.junk_mb * MB, with_socket=True)))
    print(f"kit {subprocess.run([KIT, '--version'], capture_output=True, text=True).stdout.strip()}, "
          f"python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'input':28} {'MB':>6} {'format':6} {'exit':>4} {'s':>7} {'RSS MB':>7} {'RSS/in':>6}  target")
    for label, path, size in inputs:
        for fmt in args.formats.split(","):
            out = work / f"out.{fmt}"
            code, wall, rss, err = measure([KIT, "render", str(path), "--format", fmt, "-o", str(out)])
            ratio = rss * 1024 * 1024 / size
            met = rss * 1024 * 1024 <= min(10 * size, 1e9)
            print(
                f"{label:28} {size / MB:6.1f} {fmt:6} {code:4} {wall:7.1f} {rss:7.0f} {ratio:6.1f}  "
                f"{'met' if met else 'NOT met'}"
                + (f"  ({err.decode(errors='replace').strip()[:90]})" if code not in (0, 4) else "")
            )
            out.unlink(missing_ok=True)
    print(f"\ncommand: {KIT} render FILE --format F -o OUT   (inputs in {work})")
    if not args.keep:
        for _, path, _ in inputs:
            path.unlink()
        work.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
