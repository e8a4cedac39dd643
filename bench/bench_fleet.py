"""Benchmark: `kit collect -f` over 6 devices with -j 6, against one `kit collect`, with and without latency.

    sudo .venv/bin/python bench/bench_fleet.py [--devices 6] [--runs 3] [--delay 0.1] [--keep DIR]

Starts N real test devices (tests/devicelib.py: dropbear serving a busybox root
with ss, one per port on 127.0.0.1) and times whole user commands, each in a
subprocess (Python start, connect, probe, save, parse, render, index):

- one `kit collect` of one device, and `kit collect -f` of all N with -j N;
- the same through a TCP proxy per device that holds every chunk `--delay`
  seconds each way (tests/netproxy.py; 100 ms stands for a real router link),
  where the connections open at once are also counted at the proxies;
- the anchor: OpenSSH running the same probe (`ssh ... sh -s < probe`) on one
  device, and on all N at once (N ssh processes in parallel).

Target (issue 12): the fleet takes at most 3x one collect behind the delayed
link. On plain loopback the devices share this machine's cores with kit, so
the fleet is CPU-bound there: that figure is printed too, with the cores.
Medians of --runs. It prints figures and never asserts a time. Needs root.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import devicelib  # noqa: E402
import netproxy  # noqa: E402

from kit.probe import render_probe  # noqa: E402

KIT = str(Path(sys.executable).with_name("kit"))


def timed(argv: list[str], cwd: Path, stdin: Path | None = None) -> float:
    """Wall time of one command; a command that failed (kit: above 1) stops the benchmark, never counts."""
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as fh:
        run = subprocess.run(argv, cwd=cwd, stdin=fh, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    if run.returncode not in (0, 1):
        raise SystemExit(
            f"{' '.join(argv[:3])}... exited {run.returncode}: {run.stderr.decode(errors='replace')[-500:]}"
        )
    return took


def parallel(commands: list[list[str]], cwd: Path, stdin: Path) -> float:
    start = time.perf_counter()
    procs = []
    for argv in commands:
        with open(stdin, "rb") as fh:
            procs.append(
                subprocess.Popen(argv, cwd=cwd, stdin=fh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
    codes = [proc.wait() for proc in procs]
    if any(codes):
        raise SystemExit(f"ssh exited {codes}")
    return time.perf_counter() - start


def measure(label: str, ports: list[int], key: str, work: Path, runs: int, probe: Path, gauge: netproxy.Gauge | None):
    slug = "".join(c if c.isalnum() else "-" for c in label)  # ssh -o splits a path at spaces
    known = work / f"known_hosts-{slug}"
    known.write_text("".join(f"[127.0.0.1]:{p} {key}\n" for p in ports))
    devices = work / f"devices-{slug}.txt"
    devices.write_text("".join(f"ssh://root@127.0.0.1:{p}\n" for p in ports))
    common = ["-F", "none", "-i", str(ROOT_KEY[0]), "--known-hosts", str(known)]
    common += ["--captures", str(work / "captures"), "--reports", str(work / "reports")]
    ssh = ["ssh", "-F", "/dev/null", "-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null"]
    ssh += ["-o", "BatchMode=yes", "-i", str(ROOT_KEY[0]), "-l", "root"]
    one, fleet, ssh_one, ssh_all, peaks = [], [], [], [], []
    for _ in range(runs):
        one.append(timed([KIT, "collect", "root@127.0.0.1", "-p", str(ports[0]), *common], work))
        if gauge is not None:
            gauge.peak = gauge.open
        fleet.append(timed([KIT, "collect", "-f", str(devices), "-j", str(len(ports)), *common], work))
        if gauge is not None:
            peaks.append(gauge.peak)
        ssh_one.append(timed([*ssh, "-p", str(ports[0]), "127.0.0.1", "sh -s"], work, probe))
        ssh_all.append(parallel([[*ssh, "-p", str(p), "127.0.0.1", "sh -s"] for p in ports], work, probe))
    m = {
        k: statistics.median(v) for k, v in (("one", one), ("fleet", fleet), ("ssh_one", ssh_one), ("ssh_all", ssh_all))
    }
    print(f"\n{label}: {len(ports)} devices, -j {len(ports)}, median of {runs}")
    print(f"  kit collect (one device)          {m['one']:6.2f} s")
    print(
        f"  kit collect -f (all, -j {len(ports)})        {m['fleet']:6.2f} s   = {m['fleet'] / m['one']:.2f}x one collect"
    )
    print(f"  ssh ... sh -s < probe (one)       {m['ssh_one']:6.2f} s")
    print(
        f"  ssh ... sh -s < probe ({len(ports)} at once) {m['ssh_all']:6.2f} s   = {m['ssh_all'] / m['ssh_one']:.2f}x one ssh"
    )
    if peaks:
        print(f"  connections open at once during kit collect -f (at the proxies): max {max(peaks)}")
    return m


ROOT_KEY: list[Path] = []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=6)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delay", type=float, default=0.1, help="seconds each way through the proxy (default 0.1)")
    ap.add_argument("--keep", metavar="DIR", help="work directory (default: a temporary one)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="kit-bench-fleet."))
    probe = work / "probe.sh"
    probe.write_text(render_probe())
    with ExitStack() as stack:
        devs = []
        for _ in range(args.devices):
            dev = devicelib.start_device(work / "devices")
            stack.callback(devicelib.stop_device, dev)
            devs.append(dev)
        ROOT_KEY.append(devs[0].root_key)
        key = devs[0].known_hosts.read_text().split(None, 1)[1].strip()
        print(f"kit {KIT}; {os.cpu_count()} CPUs; devices on 127.0.0.1 ports {[d.port for d in devs]}")
        loop = measure("plain loopback", [d.port for d in devs], key, work, args.runs, probe, None)
        gauge = netproxy.Gauge()
        proxies = [stack.enter_context(netproxy.Proxy(d.port, delay=args.delay, gauge=gauge)) for d in devs]
        late = measure(
            f"through a proxy adding {args.delay * 1000:.0f} ms each way",
            [p.port for p in proxies], key, work, args.runs, probe, gauge,
        )  # fmt: skip
    print(
        f"\ntarget: fleet <= 3x one collect behind the delayed link: {late['fleet'] / late['one']:.2f}x "
        f"({'met' if late['fleet'] <= 3 * late['one'] else 'NOT met'}); on plain loopback "
        f"{loop['fleet'] / loop['one']:.2f}x ({os.cpu_count()} CPUs shared by kit and {args.devices} devices)"
    )
    print(
        f"command: sudo .venv/bin/python bench/bench_fleet.py --devices {args.devices} --runs {args.runs} --delay {args.delay}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
