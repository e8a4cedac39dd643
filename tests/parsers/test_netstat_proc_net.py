"""kit.parsers.netstat and kit.parsers.proc_net on real busybox output and /proc/net tables.

All fixtures of tests/fixtures/debian-12 come from one craft_sockets.py run,
so the same sockets appear in ss, netstat and /proc: each source is checked
against what the owning process measured (measured.json) and against the
raw text, and the sources against each other where they share a field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kit.parsers import netstat, proc_net, ss
from kit.paste import detect

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEBIAN = FIXTURES / "debian-12"
NETSTAT = sorted(FIXTURES.glob("*/busybox*-netstat-*.out"))
PROC = sorted(FIXTURES.glob("*/proc-net-*.out"))


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def measured() -> dict:
    return json.loads(read(DEBIAN / "measured.json"))


def one(records, **want):
    found = [s for s in records if all(getattr(s, k) == v for k, v in want.items())]
    assert len(found) == 1, (want, found)
    return found[0]


# --- busybox netstat --------------------------------------------------------------------


@pytest.mark.parametrize("path", NETSTAT, ids=lambda p: p.name)
def test_netstat_reads_every_row(path):
    text = read(path)
    parsed = netstat.parse(text)
    assert parsed.problems == []
    rows = [ln for ln in text.split("\n") if re.match(r"(tcp|udp|raw|unix)6? ", ln)]
    assert len(parsed.records) == len(rows)
    assert all(s.skmem is None for s in parsed.records)


def test_netstat_queues_and_states(measured):
    recs = netstat.parse(read(DEBIAN / "busybox-1.36.1-netstat-anp.out")).records
    m = measured["sockets"]
    s = one(recs, local=m["never_reads"]["local"], peer=m["never_reads"]["peer"])
    assert (s.netid, s.state, s.recv_q) == ("tcp", "ESTAB", m["never_reads"]["bytes_sent"])
    s = one(recs, local=m["close_wait"]["local"], state="CLOSE-WAIT")
    assert s.recv_q == m["close_wait"]["bytes_sent"] + 1
    s = one(recs, local=m["accept_queue"]["local"], state="LISTEN")
    assert s.recv_q == m["accept_queue"]["pending"]
    # busybox prints IPv6 without brackets, as it comes
    s = one(recs, local="::1:5003", state="ESTAB")
    assert s.recv_q == m["v6_loopback"]["bytes_sent"]
    assert one(recs, local=m["time_wait"]["local"]).state == "TIME-WAIT"
    assert one(recs, local=m["udp_unread"]["local"]).state == "UNCONN"


def test_netstat_programs(measured):
    recs = netstat.parse(read(DEBIAN / "busybox-1.36.1-netstat-anp.out")).records
    m = measured["sockets"]
    # -p names come from /proc/PID/cmdline (argv[0]), not from comm as in ss
    for key in ("named_spaces_commas_quotes", "named_utf8", "named_close_paren"):
        s = one(recs, local=m[key]["local"])
        assert s.processes[0].pid == m[key]["pid"] and s.processes[0].name == measured["argv0"]
        assert s.processes[0].fd is None
    # sockets nobody holds yet (never accepted), and TIME-WAIT: "-"
    assert one(recs, local=m["time_wait"]["local"]).processes == ()
    owners = {p.pid for s in recs for p in s.processes}
    assert owners <= {measured["main_pid"], *measured["pids"]}


def test_netstat_raw_state_is_not_trusted():
    text = read(DEBIAN / "busybox-1.36.1-netstat-anp.out")
    (line,) = [ln for ln in text.split("\n") if ln.startswith("raw")]
    words = line.split()
    # busybox's itoa buffer: the "state" column repeats the local port
    assert words[5] == words[3].rsplit(":", 1)[1]
    (s,) = [s for s in netstat.parse(text).records if s.netid == "raw"]
    assert s.state is None and s.recv_q == int(words[1])


def test_netstat_unix_inodes_match_proc_net_unix():
    ns = [s for s in netstat.parse(read(DEBIAN / "busybox-1.36.1-netstat-anp.out")).records if s.netid.startswith("u_")]
    pn = proc_net.parse(read(DEBIAN / "proc-net-unix.out")).records
    assert {(s.netid, s.state, s.local) for s in ns} == {(s.netid, s.state, s.local) for s in pn}


def test_netstat_problems_are_lines():
    text = "root@OpenWrt:~# netstat -anp\n" + read(DEBIAN / "busybox-netstat-an.out") + "root@OpenWrt:~# \n"
    parsed = netstat.parse(text)
    assert [p.line for p in parsed.problems] == [1, len(text.split("\n")) - 1]


# --- /proc/net ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROC, ids=lambda p: p.name)
def test_proc_net_reads_every_row(path):
    text = read(path)
    parsed = proc_net.parse(text)
    assert parsed.problems == []
    rows = [ln for ln in text.split("\n")[1:] if ln.strip()]
    assert len(parsed.records) == len(rows)
    # each row's inode is its own column, read back
    assert [s.inode for s in parsed.records] == [
        int(ln.split()[9] if "unix" not in path.name else ln.split()[6]) for ln in rows
    ]


def test_proc_net_tcp_against_measurements(measured):
    recs = proc_net.parse(read(DEBIAN / "proc-net-tcp.out")).records
    m = measured["sockets"]
    assert one(recs, local=m["never_reads"]["local"], peer=m["never_reads"]["peer"]).recv_q == 100000
    assert one(recs, local=m["close_wait"]["local"], state="CLOSE-WAIT").recv_q == 3001
    s = one(recs, local=m["accept_queue"]["local"], state="LISTEN")
    assert (s.recv_q, s.send_q) == (m["accept_queue"]["pending"], 0)  # /proc shows no backlog
    six = proc_net.parse(read(DEBIAN / "proc-net-tcp6.out")).records
    assert one(six, local=m["v6_loopback"]["local"], peer=m["v6_loopback"]["peer"]).recv_q == 1234
    assert one(six, local=m["v4_mapped"]["local"], peer=m["v4_mapped"]["peer"]).state == "ESTAB"


def test_proc_net_udp_drops(measured):
    recs = proc_net.parse(read(DEBIAN / "proc-net-udp.out")).records
    m = measured["sockets"]["udp_drops"]
    s = one(recs, local=m["local"])
    assert s.drops == m["dropped"] == m["sent"] - m["held"]
    assert all(s.netid == "udp" for s in recs)
    six = proc_net.parse(read(DEBIAN / "proc-net-udp6.out")).records
    assert one(six, local="[fe80::1]:5005").state == "UNCONN"  # /proc has no %scope


def test_proc_net_raw_needs_its_name():
    text = read(DEBIAN / "proc-net-raw.out")
    assert {s.netid for s in proc_net.parse(text).records} == {"udp"}
    assert {s.netid for s in proc_net.parse_raw(text).records} == {"raw"}
    assert {s.netid for s in proc_net.parse("# cat /proc/net/raw\n" + text).records} == {"raw"}


def test_sources_agree_with_ss():
    """Same run, three sources: queues and inodes agree where both print them."""
    ssrec = ss.parse(read(DEBIAN / "ss-tnpmeio.out")).records
    tcp = proc_net.parse(read(DEBIAN / "proc-net-tcp.out")).records
    by_key = {(s.local, s.peer): s for s in tcp}
    matched = 0
    for s in ssrec:
        p = by_key.get((s.local, s.peer))
        if p is None or s.state == "LISTEN":
            continue
        matched += 1
        assert (p.state, p.recv_q, p.inode) == (s.state, s.recv_q, s.inode)
    assert matched >= 10
    # the UDP drop counter: ss's skmem d and /proc's drops column
    napm = ss.parse(read(DEBIAN / "ss-napm.out")).records
    udp = {s.local: s for s in proc_net.parse(read(DEBIAN / "proc-net-udp.out")).records}
    for s in napm:
        if s.netid == "udp" and s.local in udp:
            assert s.skmem.sock_drop == udp[s.local].drops
            assert s.inode is None or s.inode == udp[s.local].inode


def test_ss_unix_inodes_match_proc_net_unix():
    xs = list(ss.parse(read(DEBIAN / "ss-xnpm.out")).records)
    pn = {s.inode: s for s in proc_net.parse(read(DEBIAN / "proc-net-unix.out")).records}
    for s in xs:
        assert s.inode == int(s.local.rsplit(" ", 1)[1])
        if s.inode in pn:
            assert pn[s.inode].netid == s.netid and pn[s.inode].state == s.state


def test_big_endian_order_is_recognised():
    # The little-endian table with every address word byte-swapped is what a
    # big-endian machine prints for the same sockets (kernel %08X of a host u32).
    text = read(DEBIAN / "proc-net-tcp.out")
    swapped = re.sub(r"\b([0-9A-F]{8}):", lambda m: bytes.fromhex(m.group(1))[::-1].hex().upper() + ":", text)
    assert swapped != text
    assert proc_net.byte_order(text) == "little" and proc_net.byte_order(swapped) == "big"
    a, b = proc_net.parse(text).records, proc_net.parse(swapped).records
    assert [(s.local, s.peer) for s in a] == [(s.local, s.peer) for s in b]


# --- paste detection ------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEBIAN.glob("*.out")), ids=lambda p: p.name)
def test_detect(path):
    name = path.name
    if name.endswith("ss-s.out"):
        want = "ss_summary"
    elif name.startswith(("ss-", "iproute2-")):
        want = "ss"
    elif "netstat" in name:
        want = "netstat"
    else:  # proc-net-raw6.out -> proc_net_raw6; raw reads as udp without its name
        want = name[:-4].replace("-", "_").replace("raw", "udp")
        if name == "proc-net-udp6.out" or name == "proc-net-raw6.out":
            want = "proc_net_udp6" if name == "proc-net-udp6.out" else "proc_net_udp"  # raw6 is empty
    assert detect(read(path)) == want
    assert detect("$ cat /proc/net/raw\n" + read(DEBIAN / "proc-net-raw.out")) == "proc_net_raw"
