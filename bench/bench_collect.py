"""Benchmark: one whole `kit collect` against OpenSSH on the same device, and where kit's time goes.

    sudo .venv/bin/python bench/bench_collect.py [--runs 7] [--mips] [--keep DIR]

Starts the real test device (tests/devicelib.py: dropbear serving a busybox
root with ss, in namespaces on 127.0.0.1) and, with --mips, the qemu MIPS
router too (tests/kdiag/malta_ssh.py), and on each measures:

- SSH connections and channels per collect, twice: kit's own counters
  (SshTransport.connections / .channels, in this process) and dropbear's log
  ("Child connection from" lines: one per TCP connection it accepted);
- PIDs one probe run allocates on the device (run_all.probe_pids);
- wall time, process start to exit, of `ssh dev 'ss -napm'`, `ssh dev sh -s
  < probe.sh > file` (OpenSSH) and `kit collect` (the console script: start,
  connect, probe, capture saved, parse, HTML and JSON written), interleaved
  round by round so all three see the same machine load; medians of --runs,
  and kit's CPU time (user + sys of the process, from wait4);
- where kit's wall time goes: the same command in a fresh interpreter with
  time stamps at the link, the probe, the capture and the reports (medians).

It prints figures and the commands, never asserts a time. Needs root (namespaces).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import devicelib  # noqa: E402
from run_all import kit_collect_argv, probe_pids, run, ssh_argv  # noqa: E402  (bench/ is the script's folder)

from kit.probe import new_token, render_probe  # noqa: E402
from kit.transport.ssh import SshTransport  # noqa: E402

# `kit collect ARGS` in a fresh interpreter, printing time.time() at each step as one JSON line on stderr.
PHASES = """
import json, sys, time
stamps = {"interpreter": time.time()}
import kit.collect
from kit.transport import ssh

def stamped(before, after, call):
    def wrapper(*args, **kwargs):
        stamps.setdefault(before, time.time())
        try:
            return call(*args, **kwargs)
        finally:
            stamps[after] = time.time()
    return wrapper

def main_then_report(main):
    def wrapper():
        try:
            return main()
        finally:
            sys.stdout.flush()
            stamps["main_returned"] = time.time()
            print(json.dumps(stamps), file=sys.stderr)
    return wrapper

import kit.cli
ssh.SshTransport.connect = stamped("connect", "logged_in", ssh.SshTransport.connect)
ssh.SshConnection.run = stamped("probe", "probe_done", ssh.SshConnection.run)
kit.collect.render_files = stamped("captured", "reports_written", kit.collect.render_files)
kit.cli.main = main_then_report(kit.cli.main)
kit.cli.entry()  # as the console script: main(), then the exit
"""
STEPS = [  # (label, from, to)
    ("interpreter start", "spawn", "interpreter"),
    ("imports, arguments, ssh_config", "interpreter", "connect"),
    ("TCP, handshake, host key, login", "connect", "logged_in"),
    ("channel, probe on the device", "logged_in", "probe_done"),
    ("capture saved, import thread joined", "probe_done", "captured"),
    ("parse, analyse, HTML + JSON written", "captured", "reports_written"),
    ("paths printed", "reports_written", "main_returned"),
    ("interpreter exit", "main_returned", "exited"),
]


def dropbear_connections(log: Path | None) -> int:
    return Path(log).read_text(errors="replace").count("Child connection from") if log else 0


def phases(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    spawn = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", PHASES, *argv[1:]], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    exited = time.time()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"kit collect exit {proc.returncode}: {proc.stderr[-500:]}")
    stamps = json.loads(proc.stderr.strip().splitlines()[-1])
    return dict(stamps, spawn=spawn, exited=exited)


def bench(dev, label: str, work: Path, runs: int) -> None:
    home = work / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(home))
    env.pop("SSH_AUTH_SOCK", None)
    print(f"{label}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}:")

    # -- connections and channels
    transport = SshTransport(devicelib.root_target(dev))
    before = dropbear_connections(dev.log)
    result = transport.run(render_probe(new_token()).encode(), timeout=300)
    time.sleep(0.5)
    print(f"  probe output: {len(result.stdout)} bytes stdout, exit status {result.exit_status}")
    print(
        f"  per collect: kit counted {transport.connections} connection(s), {transport.channels} channel(s); "
        f"dropbear logged {dropbear_connections(dev.log) - before} connection(s)"
    )
    probe = work / "probe.sh"
    probe.write_text(render_probe())
    print(f"  PIDs one probe run allocates: {statistics.median(probe_pids(dev, probe) for _ in range(3)):.0f}")

    # -- whole commands, interleaved
    ss, probe_cmd = ssh_argv(dev, "ss -napm"), ssh_argv(dev, "sh -s")
    kit = kit_collect_argv(dev, work)
    t_ss, t_probe, t_kit, split = [], [], [], []
    for _ in range(runs):
        t_ss.append(run(ss, env=env))
        t_probe.append(run(probe_cmd, stdin=probe, stdout=work / "probe.out", env=env))
        t_kit.append(run(kit, env=env))
        split.append(phases(kit, env))
    s, p, k = (statistics.median(r.wall for r in rs) for rs in (t_ss, t_probe, t_kit))
    cpu = statistics.median(r.cpu for r in t_kit)
    print(f"  wall time, process start to exit, median of {runs} (min):")
    print(f"    ssh dev 'ss -napm'                 {s:6.3f} s ({min(r.wall for r in t_ss):.3f})")
    print(
        f"    ssh dev sh -s < probe.sh > file    {p:6.3f} s ({min(r.wall for r in t_probe):.3f})  {p / s:.1f}x ssh ss"
    )
    print(
        f"    kit collect                        {k:6.3f} s ({min(r.wall for r in t_kit):.3f})  "
        f"{k / p:.2f}x ssh probe, {k / s:.1f}x ssh ss; kit's CPU {cpu:.3f} s, kit - ssh probe {k - p:+.3f} s"
    )
    print("  where kit collect's wall time goes (a fresh interpreter with time stamps; medians):")
    for what, start, end in STEPS:
        print(f"    {what:<38} {statistics.median(x[end] - x[start] for x in split) * 1000:6.0f} ms")
    print(f"    {'whole command':<38} {statistics.median(x['exited'] - x['spawn'] for x in split) * 1000:6.0f} ms")
    print("  commands:")
    for argv, extra in ((ss, ""), (probe_cmd, " < probe.sh > probe.out   (probe.sh: kit probe)"), (kit, "")):
        print(f"    {shlex.join(argv)}{extra}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--mips", action="store_true", help="the qemu MIPS router too (boots in ~20 s)")
    ap.add_argument("--keep", metavar="DIR", help="work directory (default: a temporary one)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="kit-bench-collect."))
    dev = devicelib.start_device(work / "devices")
    try:
        bench(dev, "busybox device (x86, dropbear, busybox ash, ss)", work, args.runs)
    finally:
        devicelib.stop_device(dev)
    if args.mips:
        sys.path.insert(0, str(ROOT / "tests" / "kdiag"))
        import malta_ssh

        router = malta_ssh.start(work / "malta")
        try:
            bench(router, "qemu MIPS router (mipsel Malta, dropbear, busybox ash, ss)", work, args.runs)
        finally:
            malta_ssh.stop(router)
    return 0


if __name__ == "__main__":
    sys.exit(main())
