"""Property-based tests: no parser raises on any input, and no line goes missing.

Inputs: random text, random bytes decoded as captures decode them, and real
fixtures cut, spliced, mangled and sprinkled with noise.

"Every non-blank line lands in a record or a problem": for the line-based
formats (netstat, /proc/net) each non-blank line is a record, a problem or a
header, exactly. ss has continuation lines, which belong to the socket above
them; so for ss every non-blank line before the first socket is a header or
a problem, and every line after it is a record start, a problem, or part of
the socket above.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.capture import decode
from kit.parsers import netstat, proc_net, ss
from kit.paste import detect
from kit.records import Parsed, ParseProblem, Socket

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TEXTS = {p.name: p.read_bytes().decode("utf-8") for p in sorted(FIXTURES.glob("*/*.out"))}
NAMES = sorted(TEXTS)

PARSERS = {
    "ss": ss.parse,
    "ss-general": lambda t: ss._parse(t, fast_path=False),
    "netstat": netstat.parse,
    "proc_net": proc_net.parse,
    "proc_net_raw": proc_net.parse_raw,
    "proc_net_unix": proc_net.parse_unix,
}
LINE_BASED = {"netstat", "proc_net", "proc_net_raw", "proc_net_unix"}
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces that make the parsers take their less common paths.
NOISE = st.sampled_from(
    [
        "\t",
        " ",
        "\n",
        "\r\n",
        "\t skmem:(",
        "skmem:(r1,rb2,t3",
        ")",
        "))",
        "users:((",
        '("a b",pid=1,fd=2)',
        '",pid=',
        "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n",
        "Recv-Q Send-Q",
        "u_str ESTAB 0 0 * 1 * 2",
        "tcp ESTAB 0 0 1.2.3.4:5 6.7.8.9:",
        "0.0.0.0:",
        "mem:(r0,w0,f0,t0)",
        "RTNETLINK answers: Invalid argument\n",
        "Proto Recv-Q Send-Q Local Address",
        "Proto RefCnt Flags Type State I-Node Path\n",
        "unix  2 [ ACC ] STREAM LISTENING 12 /x\n",
        "  sl  local_address rem_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n",
        "   0: 0100007F:1389 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n",
        "Num       RefCount Protocol Flags    Type St Inode Path\n",
        "\u00e9",
        "\ufffd",
        "\x00",
        "(",
        ",",
        ":",
        "99999999999999999999999",
        "ino:12",
        "²",
        "٣",
    ]
)


def check(name: str, text: str) -> Parsed:
    parsed = PARSERS[name](text)
    assert isinstance(parsed, Parsed)
    lines = text.split("\n")
    for p in parsed.problems:
        assert isinstance(p, ParseProblem) and 1 <= p.line <= len(lines)
        assert len(p.text) <= 300 and p.reason
        phys = lines[p.line - 1].rstrip("\r\n")
        # the line itself (a wrapped row: that line with its rest glued on)
        assert p.text.startswith(phys[:300][: len(p.text)]) or p.text == phys[:300]
    starts = []
    for s in parsed.records:
        assert isinstance(s, Socket) and 1 <= s.line <= len(lines) and lines[s.line - 1].strip()
        assert s.recv_q is None or s.recv_q >= 0
        starts.append(s.line)
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    problem_lines = {p.line for p in parsed.problems}
    first = min(starts, default=len(lines) + 1)
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or n in problem_lines or n in starts:
            continue
        header = _is_header_line(name, stripped)
        if name in LINE_BASED:
            assert header, f"line {n} neither record nor problem nor header: {line!r}"
        elif n < first:
            assert header or _is_ss_header_tail(stripped), f"line {n} lost before the first socket: {line!r}"
    return parsed


def _is_header_line(name: str, s: str) -> bool:
    if name.startswith("ss"):
        w = s.split()
        return w[0] in ("Netid", "State", "Recv-Q") and "Recv-Q" in w and "Send-Q" in w
    if name == "netstat":
        w = s.split()
        return (w[0] == "Proto" and ("Recv-Q" in w or "RefCnt" in w)) or (
            w[0] == "Active" and ("connections" in s or "sockets" in s)
        )
    w = s.split()
    return w[:2] in (["sl", "local_address"], ["Num", "RefCount"])


def _is_ss_header_tail(s: str) -> bool:
    # a header word, or either end of one a hard wrap cut (`Address:PortPro` / `cess`)
    return all(w in ss._HEADER_WORDS or ss._header_piece(w) for w in s.split())


# --- random input --------------------------------------------------------------------------


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), text=st.text())
def test_random_text(name, text):
    check(name, text)
    assert isinstance(detect(text), str)


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), data=st.binary(max_size=2000))
def test_random_bytes(name, data):
    check(name, decode(data))


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), parts=st.lists(NOISE | st.text(max_size=8), max_size=40))
def test_noise_built_text(name, parts):
    check(name, "".join(parts))


# --- real fixtures, cut, spliced and mangled -------------------------------------------------


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), fixture=st.sampled_from(NAMES), data=st.data())
def test_truncated_fixture(name, fixture, data):
    text = TEXTS[fixture]
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(a, len(text)))
    check(name, text[:a])
    check(name, text[a:])
    check(name, text[a:b])


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), one=st.sampled_from(NAMES), two=st.sampled_from(NAMES), data=st.data())
def test_spliced_fixtures(name, one, two, data):
    x, y = TEXTS[one], TEXTS[two]
    i = data.draw(st.integers(0, len(x)))
    j = data.draw(st.integers(0, len(y)))
    check(name, x[:i] + y[j:])


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), fixture=st.sampled_from(NAMES), data=st.data())
def test_fixture_with_noise(name, fixture, data):
    text = TEXTS[fixture]
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(text)), NOISE), max_size=6))
    for pos, piece in sorted(edits, reverse=True):
        text = text[:pos] + piece + text[pos:]
    check(name, text)


@FUZZ
@given(fixture=st.sampled_from(NAMES), data=st.data())
def test_line_based_prefix_keeps_records(fixture, data):
    """Cutting a netstat or /proc table after line k keeps exactly the rows up to k."""
    text = TEXTS[fixture]
    name = "netstat" if "netstat" in fixture else "proc_net" if fixture.startswith("proc-net") else None
    if name is None:
        return
    lines = text.split("\n")
    k = data.draw(st.integers(0, len(lines)))
    full = PARSERS[name](text).records
    assert PARSERS[name]("\n".join(lines[:k])).records == [s for s in full if s.line <= k]


def test_ss_mangling_keeps_sockets():
    """CRLF, tabs turned to spaces and runs of spaces squeezed change no socket."""
    for fixture, text in TEXTS.items():
        if not fixture.startswith("ss-"):
            continue
        base = ss.parse(text)

        def key(r):
            return [
                (s.netid, s.state, s.recv_q, s.send_q, s.local, s.peer, s.processes, s.skmem)  # noqa: E731
                for s in r.records
            ]

        assert key(ss.parse(text.replace("\n", "\r\n"))) == key(base), fixture
        assert key(ss.parse(text.replace("\t", "    "))) == key(base), fixture
        squeezed = "\n".join(" ".join(ln.split(" ")).replace("  ", " ") for ln in text.split("\n"))
        assert key(ss.parse(squeezed)) == key(base), fixture


@FUZZ
@given(fixture=st.sampled_from(NAMES), data=st.data())
def test_ss_fast_path_agrees_with_general_reader(fixture, data):
    """The fast path is an optimisation only: on any text it must give what the general reader gives."""
    text = TEXTS[fixture]
    a = data.draw(st.integers(0, len(text)))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(text)), NOISE), max_size=4))
    for pos, piece in sorted(edits, reverse=True):
        text = text[:pos] + piece + text[pos:]
    text = text[a // 4 :]
    fast, slow = ss.parse(text), ss._parse(text, fast_path=False)
    assert fast.records == slow.records
    assert fast.problems == slow.problems
