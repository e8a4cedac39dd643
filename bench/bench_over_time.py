"""Benchmark: kit diff and kit trend on big real captures, beside kit render of one of them.

    sudo .venv/bin/python bench/bench_over_time.py [--sizes 10000,100000] [--samples 5] [--runs 3] [--keep DIR]

For each size N it makes `--samples` real `ss -napm` outputs of about N
sockets, each in a fresh network namespace (bench/bench_parse.py --make:
TCP connections, UDP sockets, unix socketpairs over several processes), and
times whole user commands, each in a fresh process:

- anchor: `kit render A --format json -o - >/dev/null` (one report);
- `kit diff A A --format json -o - >/dev/null` (a capture with itself: every socket matched);
- `kit diff A B --format json -o - >/dev/null` (two namespaces: new ports and inodes, nearly all new/gone);
- `kit trend S1 ... Sk --format json -o - >/dev/null` (k = --samples).

Wall time is the median of --runs; peak RSS is the child's ru_maxrss (os.wait4).
It prints figures and the commands, never asserts. Needs root (namespaces).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT = str(Path(sys.executable).with_name("kit"))


def make(n: int, out: Path) -> None:
    subprocess.run(
        ["unshare", "-n", sys.executable, str(HERE / "bench_parse.py"), "--make", str(n), str(out)], check=True
    )


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one run of cmd."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{shlex.join(cmd)} failed: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def median_run(cmd: list[str], runs: int) -> tuple[float, float]:
    walls, rss = zip(*(timed(cmd) for _ in range(runs)), strict=True)
    return statistics.median(walls), max(rss)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="kit-bench-time-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.runs} runs each, median wall, peak RSS")
    print(f"{'sockets':>8}  {'command':<44} {'wall s':>8} {'RSS MB':>8}  x render")
    for n in (int(s) for s in args.sizes.split(",")):
        caps = [work / f"ss-{n}-{i}.out" for i in range(args.samples)]
        for cap in caps:
            if not cap.exists():
                make(n, cap)
        a, b = str(caps[0]), str(caps[1])
        rows = [
            ("kit render A --format json", [KIT, "render", a, "--format", "json", "-o", "-"]),
            ("kit diff A A --format json", [KIT, "diff", a, a, "--format", "json", "-o", "-"]),
            ("kit diff A B --format json", [KIT, "diff", a, b, "--format", "json", "-o", "-"]),
            ("kit diff A B --format html", [KIT, "diff", a, b, "--format", "html", "-o", "-"]),
            (
                f"kit trend S1..S{len(caps)} --format json",
                [KIT, "trend", *map(str, caps), "--format", "json", "-o", "-"],
            ),
        ]
        anchor = None
        for label, cmd in rows:
            wall, rss = median_run(cmd, args.runs)
            anchor = anchor or wall
            print(f"{n:>8}  {label:<44} {wall:>8.2f} {rss:>8.0f}  {wall / anchor:>7.1f}")
    print(
        "commands: " + f"{KIT} diff A B --format json -o - >/dev/null; {KIT} trend S1 ... --format json -o - >/dev/null"
    )
    print(f"captures in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
