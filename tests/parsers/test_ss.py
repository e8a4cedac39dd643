"""kit.parsers.ss on real ss output (tests/fixtures/*/ss-*.out, see each NOTES.md).

Expected values come from outside the parser: the awk one-liner run on the
fixture, the raw text of the fixture, and what the process that owned each
socket measured (measured.json, written by craft_sockets.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from kit.parsers import ss

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEBIAN = FIXTURES / "debian-12"
ALL_SS = sorted(p for p in FIXTURES.glob("*/ss-*.out") if p.name != "ss-s.out")

# The classic one-liners, exactly as engineers run them ($2 is r, $4 is t).
AWK_R = r"""awk -F '[\(|,]' '/skmem/ {print $2}' | cut -c 2- | awk '{a+=$1}END{print a}'"""
AWK_T = r"""awk -F '[\(|,]' '/skmem/ {print $4}' | cut -c 2- | awk '{a+=$1}END{print a}'"""


def awk_total(path: Path, one_liner: str) -> int:
    out = subprocess.run(
        f"cat '{path}' | {one_liner}", shell=True, check=True, capture_output=True, text=True
    ).stdout.strip()
    return int(out or 0)


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # keep CRLF as it is


@pytest.fixture(scope="module")
def measured() -> dict:
    return json.loads(read(DEBIAN / "measured.json"))["sockets"]


@pytest.fixture(scope="module")
def napm():
    return ss.parse(read(DEBIAN / "ss-napm.out"))


def by_local(parsed, local, state=None):
    found = [s for s in parsed.records if s.local == local and (state is None or s.state == state)]
    assert found, f"no socket {local} {state}"
    return found


# --- every fixture ---------------------------------------------------------------


WRAPPED = {"ss-napm-tmux80.out", "ss-napm-mail72.out"}  # rows broken over lines


@pytest.mark.parametrize("path", ALL_SS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_reads_without_problems(path):
    text = read(path)
    parsed = ss.parse(text)
    # ss's own stderr (on a terminal it lands among the rows) is the only problem.
    lines = text.split("\n")
    stderr = [(n, ln.rstrip("\r")) for n, ln in enumerate(lines, 1) if ln.startswith("RTNETLINK answers")]
    assert [(p.line, p.text) for p in parsed.problems] == stderr
    if path.name not in WRAPPED:
        # One socket per row: a row is a line that does not start with blank
        # space, apart from the header (counted on the raw text).
        rows = [
            ln
            for ln in lines
            if ln.strip() and ln[0] not in " \t" and "Recv-Q" not in ln and not ln.startswith("RTNETLINK")
        ]
        assert len(parsed.records) == len(rows)


@pytest.mark.parametrize("path", ALL_SS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_skmem_count_matches_text(path):
    text = read(path)
    parsed = ss.parse(text)
    assert sum(s.skmem is not None for s in parsed.records) == text.count("skmem:(")


# --- the awk one-liner ---------------------------------------------------------------


def _one_liner_rows(path: Path) -> tuple[set[int], set[int]]:
    """Line numbers (1-based) of skmem lines the one-liner reads right / wrong.

    awk -F '[\\(|,]' takes $2 as the text after the first '(', '|' or ','; that is
    skmem's r only when nothing before 'skmem:(' on the line holds one of them.
    """
    good, bad = set(), set()
    for n, line in enumerate(read(path).split("\n"), 1):
        if "skmem" not in line:
            continue
        prefix = line[: line.index("skmem")]
        (bad if re.search(r"[(|,]", prefix) else good).add(n)
    return good, bad


def _skmem_line(sock, text_lines) -> int:
    """The line that carries this socket's skmem: the row itself or the one below."""
    return sock.line if "skmem:(" in text_lines[sock.line - 1] else sock.line + 1


@pytest.mark.parametrize("name", ["ss-tnpm.out", "ss-tnpmeio.out", "ss-tuapm.out"])
def test_totals_equal_one_liner_where_it_is_valid(name):
    # tcp/udp only: every skmem sits on its own continuation line, so the
    # one-liner is right on every row and kit must agree exactly.
    path = DEBIAN / name
    good, bad = _one_liner_rows(path)
    assert good and not bad
    parsed = ss.parse(read(path))
    mem = [s.skmem for s in parsed.records if s.skmem]
    assert sum(m.rmem_alloc for m in mem) == awk_total(path, AWK_R)
    assert sum(m.wmem_alloc for m in mem) == awk_total(path, AWK_T)


def test_one_liner_misses_exactly_rows_with_users_before_skmem(napm):
    path = DEBIAN / "ss-napm.out"
    lines = read(path).split("\n")
    good, bad = _one_liner_rows(path)
    # On ss 6.1 the rows it misreads are exactly unix/netlink/packet rows with
    # an owner: users:((...)) comes before skmem on the same line.
    assert bad and all("users:((" in lines[n - 1].split("skmem")[0] for n in bad)
    with_mem = [s for s in napm.records if s.skmem]
    misread = [s for s in with_mem if _skmem_line(s, lines) in bad]
    assert {s.netid for s in misread} <= {"u_str", "u_dgr", "u_seq", "nl", "p_raw", "p_dgr"}
    assert all(s.processes for s in misread)
    assert not any(s.netid in ("tcp", "udp") for s in misread)
    # ... and netlink rows without an owner are read right by it.
    assert any(s.netid == "nl" and not s.processes for s in with_mem if _skmem_line(s, lines) in good)
    read_right = [s.skmem for s in with_mem if _skmem_line(s, lines) in good]
    assert sum(m.rmem_alloc for m in read_right) == awk_total(path, AWK_R)
    assert sum(m.wmem_alloc for m in read_right) == awk_total(path, AWK_T)
    # The rows it misreads really hold memory here (p_raw r, u_str/u_dgr t),
    # so the full totals differ from the one-liner's.
    assert sum(s.skmem.rmem_alloc for s in misread) > 0
    assert sum(s.skmem.wmem_alloc for s in misread) > 0


# --- what the owning processes measured --------------------------------------------


def test_receiver_that_never_reads(napm, measured):
    m = measured["never_reads"]
    (s,) = [s for s in by_local(napm, m["local"], "ESTAB") if s.peer == m["peer"]]
    assert s.recv_q == m["bytes_sent"] == m["siocinq"]
    assert s.skmem.rmem_alloc >= s.recv_q  # truesize: payload plus overhead


def test_close_wait_counts_the_fin(napm, measured):
    m = measured["close_wait"]
    (s,) = by_local(napm, m["local"], "CLOSE-WAIT")
    assert s.peer == m["peer"]
    assert s.recv_q == m["bytes_sent"] + 1 == m["siocinq"] + 1


def test_flood_sender(napm, measured):
    m = measured["flood_sender"]
    (s,) = by_local(napm, m["local"], "ESTAB")
    assert 0 < s.send_q <= m["bytes_sent"]
    assert s.skmem.wmem_queued >= s.send_q


def test_listen_recv_q_is_the_accept_queue(napm, measured):
    m = measured["accept_queue"]
    (s,) = by_local(napm, m["local"], "LISTEN")
    assert (s.recv_q, s.send_q) == (m["pending"], m["backlog"])
    assert ss.queue_meaning(s.netid, s.state)[0].startswith("accept queue")


def test_listener_shared_after_fork(napm, measured):
    m = measured["shared_listener"]
    (s,) = by_local(napm, m["local"], "LISTEN")
    assert sorted(p.pid for p in s.processes) == m["pids"]
    assert {p.fd for p in s.processes} == {m["fd"]}
    assert {p.name for p in s.processes} == {"kit-craft"}


@pytest.mark.parametrize("key", ["named_spaces_commas_quotes", "named_utf8", "named_close_paren"])
def test_process_names(napm, measured, key):
    m = measured[key]
    (s,) = by_local(napm, m["local"], "LISTEN")
    (p,) = s.processes
    assert p.pid == m["pid"]
    # ss reads the name with fscanf("%*d (%[^)]"): it stops at the first ')'.
    assert p.name == m["comm"].split(")")[0]


def test_ipv6_forms(napm, measured):
    m = measured["v6_loopback"]
    (s,) = [s for s in by_local(napm, m["local"]) if s.peer == m["peer"]]
    assert s.recv_q == m["bytes_sent"] == m["siocinq"]
    assert by_local(napm, measured["v4_mapped"]["local"])[0].peer == measured["v4_mapped"]["peer"]
    assert by_local(napm, measured["scoped"]["local"])[0].netid == "udp"
    assert by_local(napm, "*:5003", "LISTEN")[0].peer == "*:*"


def test_udp_recv_q_is_memory(napm, measured):
    m = measured["udp_unread"]
    (s,) = by_local(napm, m["local"])
    assert s.recv_q == s.skmem.rmem_alloc > m["payload_bytes"]


def test_unix_sockets(napm, measured):
    m = measured["unix"]
    unix = [s for s in napm.records if s.netid and s.netid.startswith("u_")]
    assert any(s.local.startswith(m["path"] + " ") and s.state == "LISTEN" for s in unix)
    assert any(s.local.startswith(m["abstract"] + " ") for s in unix)
    assert [s.recv_q for s in unix if s.state == "ESTAB" and s.recv_q] == [m["pair_bytes"]]
    for s in unix:
        path, ino = s.local.rsplit(" ", 1)
        peer, peer_ino = s.peer.rsplit(" ", 1)
        assert ino.isdigit() and peer_ino.isdigit() and peer == "*"


def test_time_wait_has_no_memory(napm, measured):
    m = measured["time_wait"]
    (s,) = by_local(napm, m["local"], "TIME-WAIT")
    assert s.skmem is None and s.processes == ()


# --- layouts --------------------------------------------------------------------------


def test_no_netid_column():
    parsed = ss.parse(read(DEBIAN / "ss-tnpm.out"))
    assert parsed.records and all(s.netid is None for s in parsed.records)
    # without -a: no LISTEN rows
    assert {s.state for s in parsed.records} >= {"ESTAB", "CLOSE-WAIT", "SYN-SENT", "FIN-WAIT-2"}


def test_no_state_column():
    # ss 6.x hides State only when one state is asked for (`-l` asks for
    # LISTEN and UNCONN, so ss-ltnp.out still has it).
    parsed = ss.parse(read(DEBIAN / "ss-tnpm-state-listening.out"))
    assert parsed.records and all(s.state is None and s.netid is None for s in parsed.records)
    assert all(s.skmem is not None and s.peer.endswith(":*") for s in parsed.records)
    assert {s.state for s in ss.parse(read(DEBIAN / "ss-ltnp.out")).records} == {"LISTEN"}


def test_oneline_equals_two_line_output():
    two = ss.parse(read(DEBIAN / "ss-napm.out")).records
    one = ss.parse(read(DEBIAN / "ss-napmO.out")).records
    key = lambda s: (s.netid, s.state, s.local, s.peer)  # noqa: E731
    # (-O was a second ss run: ss's own netlink socket, 4:<its pid>, differs)
    one = [s for s in one if s.netid != "nl"]
    two = [s for s in two if s.netid != "nl"]
    assert sorted(map(key, one)) == sorted(map(key, two))
    same = {key(s): s for s in two}
    for s in one:
        if s.state not in ("LISTEN", "ESTAB", "CLOSE-WAIT"):
            continue
        # -O was a second ss run: queues may move, owners and buffers do not.
        assert s.processes == same[key(s)].processes


def test_extras_after_skmem_are_skipped():
    parsed = ss.parse(read(DEBIAN / "ss-tnpmeio.out"))
    base = {(s.local, s.peer): s for s in ss.parse(read(DEBIAN / "ss-tnpm.out")).records}
    assert parsed.problems == []
    for s in parsed.records:
        if (s.local, s.peer) in base and s.state == "LISTEN":
            assert s.skmem == base[(s.local, s.peer)].skmem


# --- problems ------------------------------------------------------------------------


def test_stderr_and_prompt_are_problems():
    out = read(DEBIAN / "ss-napm.out").split("\n")
    err = read(DEBIAN / "ss-napm.err").rstrip("\n").split("\n")
    # As a terminal shows it: prompt, command, stderr interleaved with stdout.
    text = "\n".join(["root@debian:~# ss -napm", *out[:5], *err, *out[5:]])
    parsed = ss.parse(text)
    assert [(p.line, p.text) for p in parsed.problems] == [
        (1, "root@debian:~# ss -napm"),
        *((7 + i, e) for i, e in enumerate(err)),
    ]
    assert len(parsed.records) == len(ss.parse("\n".join(out)).records)


def test_empty_input():
    assert ss.parse("").records == [] and ss.parse("").problems == []
    assert ss.parse("\n \n\t\n").problems == []


# --- pasted, wrapped and mangled ----------------------------------------------------


def _same(a, b):
    key = lambda s: (s.netid, s.state, s.recv_q, s.send_q, s.local, s.peer, s.processes, s.skmem)  # noqa: E731
    assert list(map(key, a)) == list(map(key, b))


@pytest.mark.parametrize("name", ["ss-napm-mail72.out", "ss-napm-squeezed.out"])
def test_mangled_copies_read_the_same(napm, name):
    # fold -s -w 72 (a mail client) and "tabs lost, spaces squeezed" (a chat
    # window) applied to ss-napm.out: the very same sockets must come back.
    text = read(DEBIAN / name)
    assert text != read(DEBIAN / "ss-napm.out")
    parsed = ss.parse(text)
    assert parsed.problems == []
    _same(parsed.records, napm.records)


@pytest.mark.parametrize("name", ["ss-napm-pty100.out", "ss-napm-tmux80.out"])
def test_terminal_output_reads_the_same_sockets(napm, measured, name):
    # Separate ss runs on the same namespace, on a terminal: the crafted
    # sockets are all there, with the same owners; tmux/script add their own.
    text = read(DEBIAN / name)
    parsed = ss.parse(text)
    if "pty" in name:
        assert "\r\n" in text and not any("\r" in p.text for p in parsed.problems)
    else:
        # really wrapped: some physical lines are exactly 80 wide
        assert any(len(ln) == 80 for ln in text.split("\n"))
    ours = {(s.netid, s.state, s.local, s.peer): s for s in napm.records if s.netid != "nl"}
    theirs = {(s.netid, s.state, s.local, s.peer): s for s in parsed.records}
    assert set(ours) <= set(theirs)
    for k, s in ours.items():
        assert theirs[k].processes == s.processes
        if s.state == "LISTEN":
            assert theirs[k].skmem == s.skmem
    extra = [s for k, s in theirs.items() if k not in ours and s.netid != "nl"]
    assert all(p.name.startswith(("tmux", "script", "ss", "sh")) for s in extra for p in s.processes)


def test_crlf_and_prompt(napm):
    # A Windows paste of ss-napm.out with the prompt above it.
    text = "root@debian:~# ss -napm\r\n" + read(DEBIAN / "ss-napm.out").replace("\n", "\r\n")
    parsed = ss.parse(text)
    assert [(p.line, p.text) for p in parsed.problems] == [(1, "root@debian:~# ss -napm")]
    _same(parsed.records, napm.records)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/ss-*.out")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_path_agrees_with_general_reader(path):
    text = read(path)
    fast, slow = ss.parse(text), ss._parse(text, fast_path=False)
    assert fast.records == slow.records
    assert fast.problems == slow.problems


# --- older iproute2 (built from its source tags, run on the same sockets) ------------------

OLD = ["3.0.0", "4.4.0", "4.9.0", "5.10.0"]
AWK_OLD_R = r"""awk -F '[\(|,]' '/ mem:/ {print $2}' | cut -c 2- | awk '{a+=$1}END{print a}'"""
AWK_OLD_T = r"""awk -F '[\(|,]' '/ mem:/ {print $5}' | cut -c 2- | awk '{a+=$1}END{print a}'"""


@pytest.mark.parametrize("version", OLD)
def test_old_ss_against_measurements(version, measured):
    parsed = ss.parse(read(DEBIAN / f"iproute2-{version}-ss-napm.out"))
    assert parsed.problems == []
    recs = parsed.records
    m = measured["never_reads"]
    peers = {m["peer"], m["peer"].replace("127.0.0.1", "127.0.0.1")}
    (s,) = [s for s in recs if s.local == m["local"] and s.peer in peers and s.state == "ESTAB"]
    assert s.recv_q == m["bytes_sent"] and s.skmem.rmem_alloc >= s.recv_q
    (s,) = [s for s in recs if s.local == measured["accept_queue"]["local"] and s.state == "LISTEN"]
    assert (s.recv_q, s.send_q) == (3, 8)
    (s,) = [s for s in recs if s.local == measured["shared_listener"]["local"] and s.state == "LISTEN"]
    assert sorted(p.pid for p in s.processes) == measured["shared_listener"]["pids"]
    assert {p.fd for p in s.processes} == {measured["shared_listener"]["fd"]}
    m = measured["named_spaces_commas_quotes"]
    (s,) = [s for s in recs if s.local == m["local"]]
    assert [(p.name, p.pid) for p in s.processes] == [(m["comm"], m["pid"])]


def test_iproute2_3_0_old_forms(measured):
    """3.0.0: no Netid with -a (TCP only), users:(("name",pid,fd)), mem:(r,w,f,t), :::5003."""
    path = DEBIAN / "iproute2-3.0.0-ss-napm.out"
    text = read(path)
    assert "skmem" not in text and " mem:(" in text and '",' in text and ",pid=" not in text
    recs = ss.parse(text).records
    assert all(s.netid is None for s in recs)
    assert any(s.local == ":::5003" for s in recs)  # IPv6 without brackets
    mem = [s.skmem for s in recs if s.skmem]
    assert mem and all(m.rcv_buf is None and m.sock_drop is None and m.back_log is None for m in mem)
    # mem:(r,w,f,t): r = rmem_alloc, t = wmem_alloc, counted by awk on the raw text
    assert sum(m.rmem_alloc for m in mem) == awk_total(path, AWK_OLD_R) > 0
    assert sum(m.wmem_alloc for m in mem) == awk_total(path, AWK_OLD_T)
    flood = measured["flood_sender"]
    (s,) = [s for s in recs if s.local == flood["local"]]
    assert s.skmem.wmem_queued >= s.send_q > 0  # w is wmem_queued
    assert awk_total(path, AWK_R) == 0  # the skmem one-liner sees nothing here


@pytest.mark.parametrize("version,has_d", [("4.4.0", False), ("4.9.0", True), ("5.10.0", True)])
def test_skmem_with_and_without_d(version, has_d):
    path = DEBIAN / f"iproute2-{version}-ss-napm.out"
    text = read(path)
    recs = [s for s in ss.parse(text).records if s.skmem]
    assert (",d" in text) == has_d and ",bl" in text
    assert all((s.skmem.sock_drop is not None) == has_d and s.skmem.back_log is not None for s in recs)
    good, bad = _one_liner_rows(path)
    lines = text.split("\n")
    read_right = [s.skmem for s in recs if _skmem_line(s, lines) in good]
    assert sum(m.rmem_alloc for m in read_right) == awk_total(path, AWK_R)
    assert sum(m.wmem_alloc for m in read_right) == awk_total(path, AWK_T)
    assert all("users:((" in lines[n - 1].split("skmem")[0] for n in bad)


def test_unix_path_with_blanks(napm, measured):
    spaced = measured["unix"]["spaced"]
    (s,) = [s for s in napm.records if s.local.startswith(spaced + " ")]
    assert (s.netid, s.state, s.peer) == ("u_str", "LISTEN", "* 0")
    assert s.inode == int(s.local.rsplit(" ", 1)[1]) and s.processes and s.skmem


def test_service_names():
    recs = ss.parse(read(DEBIAN / "ss-tuapm.out")).records
    names = {s.local for s in recs}
    assert "127.0.0.1:domain" in names and "127.0.0.1:http-alt" in names
