"""Pastes mangled on their way into a ticket read as the clean text reads.

The clean texts are real output (tests/fixtures/debian-12: ss of iproute2 3.0
to 6.1, busybox netstat, the /proc/net tables; and this machine's `ss -napm`
taken now). They are mangled by the tools that mangle them in the field:
`fold` (a terminal's hard wrap at 80, a mail client's wrap at 72 on blanks),
`unexpand -a` (columns joined by tabs), moreutils' `ts` and awk's strftime
(a logger's or console program's timestamp on every line), Python's email package (a mail body in
quoted-printable), unix2dos-style CR LF, mail quoting and comment markers.
For every form, the sockets and totals equal those of the clean text; the
clean text's r and t totals of TCP and UDP sockets equal the awk one-liner's.
The report says what was undone.
"""

from __future__ import annotations

import email.policy
import shutil
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oneliner import awk_total
from support import FIXTURES, unavailable

from kit import capture
from kit import report as report_mod
from kit.unmangle import unmangle

D12 = FIXTURES / "debian-12"
CLEAN = [
    "ss-napm.out",
    "ss-napm-long-unix-paths.out",
    "ss-napmO.out",
    "ss-tnpm.out",
    "ss-xnpm.out",
    "ss-tuapm.out",
    "iproute2-3.0.0-ss-napm.out",
    "iproute2-4.4.0-ss-napm.out",
    "iproute2-4.9.0-ss-napm.out",
    "iproute2-5.10.0-ss-napm.out",
    "busybox-netstat-an.out",
    "busybox-1.36.1-netstat-anp.out",
    "busybox-1.36.1-netstat-anWp.out",
    "proc-net-tcp.out",
    "proc-net-tcp6.out",
    "proc-net-udp.out",
    "proc-net-udp6.out",
    "proc-net-unix.out",
]


def _tool(*argv: str, data: bytes) -> bytes:
    if shutil.which(argv[0]) is None:
        unavailable(argv[0])
    return subprocess.run(list(argv), input=data, capture_output=True, check=True).stdout


def _per_line(data: bytes, prefix: bytes) -> bytes:
    return b"".join(prefix + line for line in data.splitlines(keepends=True))


def _stamp(data: bytes, fmt: str) -> bytes:
    return _tool("awk", '{ print strftime("' + fmt + '") $0 }', data=data)


def _quoted_printable(data: bytes) -> bytes:
    msg = EmailMessage()
    msg.set_content(data.decode(), cte="quoted-printable")
    return msg.as_bytes(policy=email.policy.SMTP).split(b"\r\n\r\n", 1)[1]


def _mail_reply(data: bytes) -> bytes:
    """Wrapped at 72 on blanks, quoted, sent as quoted-printable with CR LF: a reply to a reply."""
    return _quoted_printable(_per_line(_tool("fold", "-s", "-w", "72", data=data), b"> "))


# name -> (mangle, kinds of kit.unmangle.Undone the report must name)
MANGLED = {
    "crlf": (lambda d: d.replace(b"\n", b"\r\n"), {"line_ends"}),
    "quote": (lambda d: _per_line(d, b"> "), {"prefix"}),
    "quote-2-deep": (lambda d: _per_line(d, b"> > "), {"prefix"}),
    "quote-no-space": (lambda d: _per_line(d, b">>"), {"prefix"}),
    "comment": (lambda d: _per_line(d, b"#  "), {"prefix"}),
    "indent": (lambda d: _per_line(d, b"    "), set()),  # /proc tables: read as they are
    "syslog-stamp": (lambda d: _stamp(d, "%b %e %H:%M:%S router kernel: "), {"prefix"}),
    "iso-stamp": (lambda d: _stamp(d, "%Y-%m-%dT%H:%M:%S+00:00 "), {"prefix"}),
    # moreutils' ts, as a console logger runs it: wall clock, and seconds since the start
    "ts": (lambda d: _tool("ts", "%b %d %H:%M:%S router kernel:", data=d), {"prefix"}),
    "ts-elapsed": (lambda d: _tool("ts", "-s", "%.s", data=d), {"prefix"}),
    "console-stamp-crlf": (lambda d: _stamp(d, "[%H:%M:%S] ").replace(b"\n", b"\r\n"), {"prefix", "line_ends"}),
    "quoted-printable": (_quoted_printable, {"line_ends"}),
    "fold-80": (lambda d: _tool("fold", "-w", "80", data=d), set()),
    "fold-s-72": (lambda d: _tool("fold", "-s", "-w", "72", data=d), set()),
    "unexpand": (lambda d: _tool("unexpand", "-a", data=d), {"tabs"}),
    "expand": (lambda d: _tool("expand", data=d), set()),
    "mail-reply": (_mail_reply, {"line_ends", "prefix"}),
    "quote-then-fold": (lambda d: _tool("fold", "-s", "-w", "72", data=_per_line(d, b"> ")), {"prefix"}),
}


def _summary(data: bytes) -> dict:
    rep = report_mod.build(capture.from_bytes(data, source="paste"))
    return {
        "detected": rep.capture.detected,
        "sockets": [(s.netid, s.state, s.recv_q, s.send_q, s.local, s.peer, s.processes, s.skmem) for s in rep.sockets],
        "totals": rep.totals,
        "sockstat": rep.sockstat,
        "unread": [(p.problem.text, p.problem.reason) for p in rep.parse_problems],
    }


def _unmangled(data: bytes) -> dict:
    rep = report_mod.build(capture.from_bytes(data, source="paste"))
    return {u.kind: {"kind": u.kind, "lines": u.lines, "detail": u.detail} for u in rep.capture.unmangled}


@pytest.fixture(scope="module")
def this_machine() -> bytes:
    """`ss -napm` on this machine, now."""
    if shutil.which("ss") is None:
        unavailable("ss (iproute2)")
    return subprocess.run(["ss", "-napm"], capture_output=True, check=True).stdout


@pytest.mark.parametrize("name", CLEAN)
def test_clean_fixture_reads_whole(name):
    rep = report_mod.build(capture.load(D12 / name))
    assert rep.sockets and not rep.parse_problems and not rep.capture.unmangled


@pytest.mark.parametrize("form", sorted(MANGLED))
@pytest.mark.parametrize("name", CLEAN)
def test_mangled_fixture_reads_as_the_clean_one(name, form):
    clean = (D12 / name).read_bytes()
    mangle, kinds = MANGLED[form]
    mangled = mangle(clean)
    assert _summary(mangled) == _summary(clean)
    undone = _unmangled(mangled)
    assert kinds <= set(undone), undone
    quoting = {"quote": ">", "quote-2-deep": "> >", "quote-no-space": ">>", "comment": "#"}
    if form in quoting:
        assert undone["prefix"]["detail"].rstrip() == quoting[form]


@pytest.mark.parametrize("form", sorted(MANGLED))
def test_this_machines_ss_mangled_reads_as_clean(this_machine, form):
    mangle, kinds = MANGLED[form]
    assert _summary(mangle(this_machine)) == _summary(this_machine)


# Keep each tcp/udp row with its continuation lines: there the one-liner reads skmem right.
TCP_UDP_BLOCKS = r"awk '/^(tcp|udp)[ \t]/ {p=1; print; next} /^[^ \t]/ {p=0} p'"


# Where the one-liner is valid: not -O (users:(( before skmem on the row), not ss 3.0 (mem:, no skmem).
@pytest.mark.parametrize(
    "name",
    [n for n in CLEAN if "ss-" in n and n not in ("ss-napmO.out", "iproute2-3.0.0-ss-napm.out")] + ["this machine"],
)
def test_clean_totals_equal_the_awk_one_liner(name, this_machine):
    data = this_machine if name == "this machine" else (D12 / name).read_bytes()
    rep = report_mod.build(capture.from_bytes(data, source="paste"))
    if not any(s.skmem for s in rep.sockets):
        pytest.skip(f"{name}: no memory printed (ss without -m): nothing for the one-liner to add")
    inet = [s for s in rep.sockets if s.netid in ("tcp", "udp") or (s.netid is None and ":" in s.local)]
    blocks = subprocess.run(["sh", "-c", TCP_UDP_BLOCKS], input=data, capture_output=True, check=True).stdout
    if b"Netid" not in data.split(b"\n", 1)[0]:
        blocks = data  # one protocol, no Netid column: every row is TCP
    text = capture.decode(blocks)
    assert sum(s.skmem.rmem_alloc or 0 for s in inet if s.skmem) == awk_total(text, 2)
    assert sum(s.skmem.wmem_alloc or 0 for s in inet if s.skmem) == awk_total(text, 4)


def test_the_report_says_what_was_undone_in_words(tmp_path, capsys):
    from kit.cli import main

    path = tmp_path / "ticket.txt"
    path.write_bytes(MANGLED["quote-2-deep"][0](_tool("fold", "-w", "80", data=(D12 / "ss-napm.out").read_bytes())))
    assert main(["render", str(path), "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "removed '> > ' quoting from " in out and "joined " in out and " wrapped lines" in out


# --- fuzz: realistic prefixes of any kind, and any text -------------------------------------

PREFIX = st.one_of(
    st.text(alphabet=">#;|*-:[]() \t", min_size=1, max_size=6).filter(lambda p: p.strip()),
    st.sampled_from(["%b %e %H:%M:%S host kern.info kernel: ", "[%H:%M:%S.000] ", "%Y-%m-%d %H:%M:%S | "]),
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(prefix=PREFIX, name=st.sampled_from(["ss-napm.out", "busybox-1.36.1-netstat-anp.out", "proc-net-tcp.out"]))
def test_any_shared_prefix_is_removed(prefix, name):
    clean = (D12 / name).read_bytes()
    if "%" in prefix:
        import time

        prefix = time.strftime(prefix, time.gmtime(1_700_000_000))
    mangled = _per_line(clean, prefix.encode())
    assert _summary(mangled) == _summary(clean)


@FUZZ
@given(st.text(max_size=3000), st.booleans())
def test_no_text_makes_unmangle_or_render_raise(text, crlf):
    if crlf:
        text = text.replace("\n", "\r\n")
    out = unmangle(text)
    assert isinstance(out.text, str)
    try:
        cap = capture.from_bytes(text.encode("utf-8", "surrogatepass"), source="fuzz")
    except capture.NoSocketData:
        return
    report_mod.build(cap)


@FUZZ
@given(
    st.lists(st.sampled_from((D12 / "ss-napm.out").read_text().splitlines()), max_size=40), PREFIX, st.integers(20, 120)
)
def test_spliced_real_lines_prefixed_and_folded_never_raise(lines, prefix, width):
    text = "".join(prefix + line + "\n" for line in lines)
    folded = "\n".join(text[i : i + width] for i in range(0, len(text), width))
    try:
        cap = capture.from_bytes(folded.encode(), source="fuzz")
    except capture.NoSocketData:
        return
    report_mod.build(cap)


@pytest.mark.parametrize("form", ["fold-80", "fold-s-72", "quote-then-fold", "mail-reply"])
def test_a_long_unix_path_widens_every_row_and_still_reads(tmp_path, form):
    """One unix path of ~100 characters makes ss pad every row to ~200: wrapping then cuts
    the header inside a word, leaves `0:0` or `*` alone on lines of padding, and splits
    `skmem:(` into `sk` / `mem:(` (found when the suite's own agent sockets were listed)."""
    if shutil.which("ss") is None:
        unavailable("ss (iproute2)")
    import socket
    import tempfile

    # 100 characters (a socket path holds at most 107), under a short directory of its own
    with tempfile.TemporaryDirectory(prefix="kit-") as top:
        deep = Path(top) / ("d" * (100 - len(top) - len("/agent.sock") - 1))
        deep.mkdir()
        path = str(deep / "agent.sock")
        assert len(path) == 100
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path)
            listener.listen()
            clean = subprocess.run(["ss", "-napm"], capture_output=True, check=True).stdout
    assert path.encode() in clean
    mangle, kinds = MANGLED[form]
    assert _summary(mangle(clean)) == _summary(clean)
