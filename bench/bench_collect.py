"""Benchmark: what one `kit collect` costs on the wire and on the clock, against OpenSSH.

    sudo .venv/bin/python bench/bench_collect.py [--runs 7] [--keep DIR]

Starts the real test device (tests/devicelib.py: dropbear serving a busybox
root with ss, in namespaces on 127.0.0.1) and measures:

- SSH connections and channels per collect, twice: kit's own counters
  (SshTransport.connections / .channels, in this process) and dropbear's log
  ("Child connection from" lines: one per TCP connection it accepted);
- wall time of `kit collect` (the console script, in a subprocess: Python
  start, connect, probe, save, parse, render HTML and JSON) against
  `ssh root@device 'ss -napm' > /dev/null` with OpenSSH (same key, same
  device), median of --runs; and kit's transport alone (SshTransport.run
  of the full probe, in this process) to show where the time goes.

It prints figures and never asserts a time. Needs root (namespaces).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import devicelib  # noqa: E402
from run_all import kit_collect_argv, ssh_argv  # noqa: E402  (bench/ is the script's folder)

from kit.probe import new_token, render_probe  # noqa: E402
from kit.transport.ssh import SshTransport  # noqa: E402
from kit.transport.sshconfig import Target  # noqa: E402


def connections_in_log(dev) -> int:
    return Path(dev.log).read_text(errors="replace").count("Child connection from")


def timed(argv, env=None) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env
    )
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", metavar="DIR", help="work directory (default: a temporary one)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="kit-bench-collect."))
    dev = devicelib.start_device(work / "devices")
    home = work / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(home))
    env.pop("SSH_AUTH_SOCK", None)
    try:
        # -- connections and channels
        target = Target(
            host=dev.host,
            port=dev.port,
            user="root",
            key_files=(dev.root_key,),
            known_hosts=dev.known_hosts,
            use_agent=False,
        )
        transport = SshTransport(target)
        before = connections_in_log(dev)
        result = transport.run(render_probe(new_token()).encode(), timeout=300)
        time.sleep(0.2)
        print(f"probe output: {len(result.stdout)} bytes stdout, exit status {result.exit_status}")
        print(
            f"per collect: kit counted {transport.connections} connection(s), {transport.channels} channel(s); "
            f"dropbear logged {connections_in_log(dev) - before} connection(s)"
        )

        kit = kit_collect_argv(dev, work)
        ssh = ssh_argv(dev, "ss -napm")
        before = connections_in_log(dev)
        timed(kit, env)
        time.sleep(0.2)
        print(f"kit collect (console script): dropbear logged {connections_in_log(dev) - before} connection(s)")

        # -- wall time, interleaved so both see the same machine state
        kit_times, ssh_times, transport_times = [], [], []
        for _ in range(args.runs):
            kit_times.append(timed(kit, env))
            ssh_times.append(timed(ssh, env))
            start = time.perf_counter()
            SshTransport(target).run(render_probe(new_token()).encode(), timeout=300)
            transport_times.append(time.perf_counter() - start)
        k, s, t = (statistics.median(x) for x in (kit_times, ssh_times, transport_times))
        print(f"wall time, median of {args.runs}:")
        print(f"  ssh root@device 'ss -napm'      {s * 1000:7.0f} ms")
        print(f"  kit collect (whole command)     {k * 1000:7.0f} ms   {k / s:.2f}x ssh")
        print(f"  kit transport + full probe only {t * 1000:7.0f} ms   {t / s:.2f}x ssh")
    finally:
        devicelib.stop_device(dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
