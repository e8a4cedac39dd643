"""Benchmark: kit's ss parser (+ totals) against the awk one-liner and jc, on real captures.

    sudo .venv/bin/python bench/bench_parse.py [--sizes 1000,10000,100000] [--keep DIR]

For each size N it opens about N real sockets in a fresh network namespace
(`unshare -n`, loopback only): TCP connections on 127.0.0.1 (both ends;
every tenth with 1000 unread bytes), unconnected UDP sockets (every tenth
with a datagram waiting), unix socketpairs, spread over owner processes of
10k sockets each; then runs `ss -napm` there and keeps its stdout. On each
capture it times, in one run:

- kit: kit.parsers.ss.parse(text) and kit.analyse.totals.totals(records)
  (best of 3, in this process, text already in memory);
- awk: the one-liner from the field, `awk -F '[\\(|,]' '/skmem/ {print $2}'
  FILE | cut -c 2- | awk '{a+=$1}END{print a}'`, run by sh (best of 3, wall);
- jc: jc.parse("ss", text) (jc from PyPI, a bench-only dependency; one run
  at the largest size, it is slow);
- kit's peak RSS: a fresh python that reads the file, parses it and takes
  totals, reporting its own ru_maxrss.

It prints figures and never asserts a time. Needs root (network namespace,
RLIMIT_NOFILE above 100k).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AWK_R = r"""awk -F '[\(|,]' '/skmem/ {print $2}' "$1" | cut -c 2- | awk '{a+=$1}END{print a}'"""
PER_PROCESS = 10_000


# --- making a capture (runs inside `unshare -n`) ------------------------------------


def _own(n: int, port: int, ready_w: int) -> None:
    """In a child: open about n sockets, say so on ready_w, then wait to be killed."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(4096)
    keep = [lst]
    n_tcp = n * 4 // 10 // 2  # connections; two sockets each
    n_udp = n * 2 // 10
    n_unix = (n - 2 * n_tcp - n_udp) // 2
    for i in range(n_tcp):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = lst.accept()
        if i % 10 == 0:
            c.send(b"x" * 1000)
        keep += [c, s]
    target = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keep.append(target)
    for i in range(n_udp):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        if i % 10 == 0:
            target.sendto(b"y" * 200, u.getsockname())
        keep.append(u)
    for _ in range(n_unix):
        keep += list(socket.socketpair())
    os.write(ready_w, b"x")
    signal.pause()


def make_capture(n: int, out: Path) -> None:
    """Runs in a fresh network namespace: open ~n sockets, write `ss -napm` to out."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (PER_PROCESS + 1000, PER_PROCESS + 1000))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    pids = []
    r, w = os.pipe()
    left, port = n, 20000
    while left > 0:
        chunk = min(PER_PROCESS, left)
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _own(chunk, port, w)
            os._exit(0)
        pids.append(pid)
        left -= chunk
        port += 1
    os.close(w)
    for _ in pids:
        os.read(r, 1)
    with open(out, "wb") as fh:
        subprocess.run(["ss", "-napm"], stdout=fh, stderr=subprocess.DEVNULL, check=False)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# --- timing ---------------------------------------------------------------------


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (user + sys)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def best(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall and best CPU seconds of `repeat` runs, and the last result.

    CPU time is the fairer figure on a shared machine; wall is what a user waits.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), _cpu()
        result = fn()
        cpus.append(_cpu() - c0)
        walls.append(time.perf_counter() - w0)
    return min(walls), min(cpus), result


def time_kit(text: str, repeat: int):
    """kit's parse, and parse + kit.analyse.totals."""
    from kit.analyse.totals import totals
    from kit.parsers import ss

    def run():
        parsed = ss.parse(text)
        return parsed, totals(parsed.records)

    parse_only = best(lambda: ss.parse(text), repeat)
    return parse_only, best(run, repeat)


def time_awk(path: Path, repeat: int):
    return best(
        lambda: subprocess.run(
            ["sh", "-c", AWK_R, "sh", str(path)], capture_output=True, text=True, check=True
        ).stdout.strip(),
        repeat,
    )


def time_jc(text: str):
    import jc

    return best(lambda: jc.parse("ss", text, quiet=True), 1)


PEAK = """
import sys
from kit.analyse.totals import totals
from kit.parsers import ss
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
totals(ss.parse(text).records)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec from the parent
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def peak_rss_mb(path: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return int(out.strip()) / 1024


def time_render(path: Path, out: Path):
    """The whole `kit render FILE -o out.html` as a user runs it (a fresh process:
    start-up, parse, analyse, HTML), and the size of the HTML it wrote."""
    kit = str(Path(sys.executable).with_name("kit"))
    w, c, _ = best(
        lambda: subprocess.run([kit, "render", str(path), "-o", str(out)], check=True, capture_output=True), 1
    )
    return w, c, out.stat().st_size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--keep", type=Path, help="keep the captures in this directory")
    ap.add_argument("--no-jc", action="store_true")
    ap.add_argument("--make", nargs=2, metavar=("N", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.make:
        make_capture(int(args.make[0]), Path(args.make[1]))
        return 0
    if os.geteuid() != 0:
        print("bench_parse: needs root (unshare -n)", file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="kit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"python {sys.version.split()[0]}, {subprocess.run(['ss', '-V'], capture_output=True, text=True).stdout.strip()}, "
        f"{os.cpu_count()} cpus, kernel {os.uname().release}"
    )
    print(
        "times: best of 3 (jc: 1 run), CPU seconds (user+sys) / wall seconds; "
        "kit = parse + totals, ratios on CPU time (parse only in brackets)"
    )
    print(
        f"{'sockets':>8} {'lines':>7} {'MB':>5} {'kit parse':>13} {'kit +totals':>13} {'awk':>13} "
        f"{'jc':>13} {'kit/awk':>11} {'jc/kit':>11} {'kit RSS MB':>10} {'kit render':>13} {'HTML MB':>7}"
        "  r total: kit awk"
    )
    try:
        for n in sizes:
            path = work / f"ss-napm-{n}.out"
            if not path.exists():
                subprocess.run(
                    ["unshare", "-n", sys.executable, __file__, "--make", str(n), str(path)], check=True, cwd=ROOT
                )
            data = path.read_bytes()
            text = data.decode("utf-8", errors="replace")
            (w_p, c_p, _), (w_kit, c_kit, (parsed, tot)) = time_kit(text, 3)
            w_awk, c_awk, awk_r = time_awk(path, 3)
            jc_txt, ratio = f"{'-':>13}", f"{'-':>11}"
            if not args.no_jc:
                w_jc, c_jc, _ = time_jc(text)
                jc_txt = f"{c_jc:6.3f}/{w_jc:6.3f}"
                ratio = f"{c_jc / c_kit:4.1f} ({c_jc / c_p:4.1f})"
            rss = peak_rss_mb(path)
            w_html, c_html, html_bytes = time_render(path, work / f"ss-napm-{n}.html")
            kit_r = tot.rmem_alloc
            print(
                f"{len(parsed.records):>8} {text.count(chr(10)):>7} {len(data) / 1e6:5.1f} "
                f"{c_p:6.3f}/{w_p:6.3f} {c_kit:6.3f}/{w_kit:6.3f} {c_awk:6.3f}/{w_awk:6.3f} {jc_txt} "
                f"{c_kit / c_awk:4.1f} ({c_p / c_awk:4.1f}) {ratio} {rss:10.0f} "
                f"{c_html:6.3f}/{w_html:6.3f} {html_bytes / 1e6:7.2f}  {kit_r} {awk_r}"
                f"{'' if not parsed.problems else f' problems={len(parsed.problems)}'}",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
