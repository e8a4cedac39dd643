"""Conformance of the section table and the probe rendered from it (STYLE.md item 3)."""

from __future__ import annotations

import dataclasses
import importlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.capture import split_sections
from kit.parsers import uname as uname_parser
from kit.probe import new_token, render_probe
from kit.sections import SECTIONS, Section

SHELLS = [s for s in ("dash", "busybox") if shutil.which(s)]


def _run(shell: str, script: str) -> bytes:
    argv = ["busybox", "ash", "-s"] if shell == "busybox" else [shell, "-s"]
    return subprocess.run(argv, input=script.encode(), capture_output=True, timeout=120, check=True).stdout


def test_names_unique_and_parsers_exist():
    names = [s.name for s in SECTIONS]
    assert len(names) == len(set(names))
    for s in SECTIONS:
        assert s.name.replace("_", "").isalnum(), s.name
        if s.parser:
            module_name, _, function = s.parser.partition(":")
            module = importlib.import_module(f"kit.parsers.{module_name}")
            assert callable(getattr(module, function or "parse")), s.parser


def test_tokens_differ_per_run():
    assert new_token() != new_token()
    assert len(new_token()) >= 19


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck not installed")
def test_probe_is_shellcheck_clean(tmp_path):
    path = tmp_path / "probe.sh"
    path.write_text(render_probe())
    proc = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_probe_runs_and_splits_into_every_section(shell):
    token = new_token()
    out = _run(shell, render_probe(token))
    sections, problems = split_sections(out, token)
    assert problems == []
    assert [s.name for s in SECTIONS] == list(sections)
    for sec in sections.values():
        assert sec.complete and sec.rc is not None, sec.name
    assert sections["uname"].rc == 0 and sections["uname"].text.startswith("Linux")


@pytest.mark.parametrize("shell", SHELLS)
def test_framing_keeps_bytes_status_and_stderr_apart(shell):
    token = new_token()
    table = (
        Section("noeol", "printf 'a\\nb'"),
        Section("binary", "printf 'x\\000y\\377\\n'"),
        Section("fails", "echo out; echo err >&2; exit 7"),
        # Device output that tries to forge a boundary: it cannot know the token.
        Section("forge", "printf '\\nKIT0000 END forge\\nKIT0000 BEGIN evil\\n'"),
        Section("stdin", "cat"),  # must not eat the rest of the probe from sh's stdin
        Section("after", "echo still-running"),
    )
    sections, problems = split_sections(_run(shell, render_probe(token, table)), token, table)
    assert problems == []
    assert sections["noeol"].stdout == b"a\nb"
    assert sections["binary"].stdout == b"x\x00y\xff\n"
    assert "\x00" not in sections["binary"].text
    assert (sections["fails"].rc, sections["fails"].stdout, sections["fails"].stderr) == (7, b"out\n", "err")
    assert sections["forge"].stdout == b"\nKIT0000 END forge\nKIT0000 BEGIN evil\n"
    assert "evil" not in sections
    assert sections["stdin"].stdout == b"" and sections["stdin"].rc == 0
    assert sections["after"].stdout == b"still-running\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_output_is_bounded_and_slow_commands_are_killed(shell):
    token = new_token()
    table = (
        Section("flood", "yes", max_bytes=1000),
        Section("stuck", "sleep 30", timeout=2),
        Section("after", "echo ok"),
    )
    sections, _ = split_sections(_run(shell, render_probe(token, table)), token, table)
    assert sections["flood"].truncated and len(sections["flood"].stdout) == 1000
    assert sections["stuck"].rc == 143  # SIGTERM from the watchdog
    assert sections["after"].text == "ok\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_output_written_in_many_small_pieces_is_kept_whole(shell):
    """A command that writes line by line, slowly or thousands of times, keeps every byte under its bound.

    GNU dd (coreutils, so `kit collect --local` on Debian and any non-busybox
    device) counts each short read from a pipe as a record: `dd bs=65536
    iflag=count_bytes count=N` stops after N/65536 reads, and after the first
    read when N < 65536. busybox dd counts bytes. The probe must not use
    GNU dd as its bound.
    """
    token = new_token()
    table = (
        Section("slow", "for i in 1 2 3 4 5; do echo line$i; sleep 0.05; done", max_bytes=4096),
        Section("many", "i=0; while [ $i -lt 6000 ]; do echo $i; i=$((i + 1)); done", max_bytes=70000),
        Section("after", "echo ok"),
    )
    sections, problems = split_sections(_run(shell, render_probe(token, table)), token, table)
    assert problems == []
    assert sections["slow"].text == "".join(f"line{i}\n" for i in range(1, 6))
    assert sections["many"].text.splitlines() == [str(i) for i in range(6000)]
    assert not sections["many"].truncated
    assert sections["after"].text == "ok\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_fallback_sections_run_only_when_ss_did_not_work(shell):
    """A section behind UNLESS_SS is skipped by the probe's shell after an ss section that exited 0."""
    from kit.sections import UNLESS_SS

    fallback = Section("netstat", UNLESS_SS + "echo fallback-ran")
    for ss_command, expect_run in (("echo sockets", False), ("echo half; exit 3", True)):
        token = new_token()
        table = (Section("ss", ss_command), fallback)
        sections, problems = split_sections(_run(shell, render_probe(token, table)), token, table)
        assert problems == []
        got = sections["netstat"]
        assert got.complete and got.rc == 0
        if expect_run:
            assert got.stdout == b"fallback-ran\n"
        else:
            assert got.stdout == b"" and got.stderr == "# kit: skipped: ss works"


@pytest.mark.parametrize("shell", SHELLS)
def test_proc_files_in_one_process_keep_framing_bounds_and_errors(shell, tmp_path):
    """Consecutive `cat /proc/...` rows are read by one awk that writes their framing (kit_kernel_files)."""
    token = new_token()
    table = (
        Section("before", "echo before"),
        Section("version", "cat /proc/version"),
        # An integer sysctl answers only a read from offset 0: the shell's `read` would get its first digit.
        Section("pid_max", "cat /proc/sys/kernel/pid_max"),
        Section("cut", "cat /proc/version", max_bytes=10),
        Section("by_line", "cat /proc/version", max_bytes=4 * 1024 * 1024),  # read line by line above 1 MiB
        Section("missing", "cat /proc/version /proc/kit-no-such-file /proc/version"),
        Section("after", "echo after"),
    )
    script = render_probe(token, table)
    assert script.count("kit_kernel_files '") == 1  # the four rows, one line, one process
    sections, problems = split_sections(_run(shell, script), token, table)
    assert problems == []
    version = Path("/proc/version").read_bytes()
    assert sections["version"].stdout == version and sections["version"].rc == 0
    assert sections["pid_max"].stdout == Path("/proc/sys/kernel/pid_max").read_bytes()
    assert sections["cut"].truncated and sections["cut"].stdout == version[:10]
    assert sections["by_line"].stdout == version and not sections["by_line"].truncated
    missing = sections["missing"]
    assert missing.stdout == version + version and missing.rc == 1
    assert missing.stderr == "/proc/kit-no-such-file: No such file or directory"
    assert sections["before"].text == "before\n" and sections["after"].text == "after\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_self_bounded_and_file_sections_keep_status_stderr_and_time_limit(shell, tmp_path):
    """Rows without a bound process (kit_run, kit_file) and rows whose command execs: status, stderr, watchdog."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes to it: a read of it hangs until the watchdog ends it
    token = new_token()
    table = (
        Section("ran", "echo out; echo err >&2; exit 3", self_bounded=True),
        Section("execd", "echo a; exec sh -c 'echo b; echo e >&2; exit 5'", self_bounded=True),
        Section("bounded_exec", "echo a; exec sh -c 'echo b; exit 4'"),
        # A pipeline inside a command has the status of its last command, as in `sh -c`
        # (the probe's own pipefail, where the shell has it, is for the bound's pipe only).
        Section("pipe", "false | true", self_bounded=True),
        Section("bounded_pipe", "false | true"),
        Section("hung", "sleep 30", timeout=2, self_bounded=True),
        Section("hung_exec", "exec sleep 30", timeout=2, self_bounded=True),
        Section("fifo", f"cat {fifo}", timeout=2),
        Section("files", f"cat /etc/hostname {tmp_path}/absent"),
        Section("after", "echo ok"),
    )
    sections, problems = split_sections(_run(shell, render_probe(token, table)), token, table)
    assert problems == []
    ran = sections["ran"]
    assert (ran.stdout, ran.stderr, ran.rc) == (b"out\n", "err", 3)
    assert (sections["execd"].stdout, sections["execd"].stderr, sections["execd"].rc) == (b"a\nb\n", "e", 5)
    assert (sections["bounded_exec"].stdout, sections["bounded_exec"].rc) == (b"a\nb\n", 4)
    assert sections["pipe"].rc == 0 and sections["bounded_pipe"].rc == 0
    for name in ("hung", "hung_exec", "fifo"):
        assert sections[name].rc == 143 and "stopped after 2 s (time limit)" in sections[name].stderr, name
    files = sections["files"]
    assert files.stdout == Path("/etc/hostname").read_bytes() and files.rc == 1
    assert files.stderr == f"{tmp_path}/absent: No such file or directory"
    assert sections["after"].text == "ok\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_kernel_release_is_read_once_for_the_kdiag_rows(shell):
    token = new_token()
    table = (Section("rel", 'echo "$(uname -r)"', self_bounded=True), Section("uname", "uname -a; exec uname -rm"))
    script = render_probe(token, table)
    assert "$(uname -r)" not in script.split("kit_main() {")[1]
    sections, _ = split_sections(_run(shell, script), token, table)
    assert sections["rel"].text == f"{os.uname().release}\n"
    parsed = uname_parser.parse(sections["uname"].text)
    assert not parsed.problems
    assert (parsed.records[0].release, parsed.records[0].machine) == (os.uname().release, os.uname().machine)
    assert parsed.records[0].nodename == os.uname().nodename


@pytest.mark.parametrize("shell", SHELLS)
def test_proc_file_holding_the_record_separator_is_kept_whole(shell):
    """awk reads a /proc file as one record split at \\001; a host name (device text) may hold that byte."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) not installed")
    token = new_token()
    table = (Section("hostname", "cat /proc/sys/kernel/hostname"),)
    argv = ["busybox", "ash", "-s"] if shell == "busybox" else [shell, "-s"]
    script = "printf 'a\\001b\\001\\001c' > /proc/sys/kernel/hostname\n" + render_probe(token, table)
    out = subprocess.run(["unshare", "-u", *argv], input=script.encode(), capture_output=True, timeout=60, check=True)
    sections, problems = split_sections(out.stdout, token, table)
    assert problems == [] and sections["hostname"].stdout == b"a\x01b\x01\x01c\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_proc_files_without_awk_are_read_one_head_each(shell):
    """A device without awk: the /proc rows fall back to one `head -c` a file, same framing."""
    token = new_token()
    table = (
        Section("version", "cat /proc/version"),
        Section("missing", "cat /proc/kit-no-such-file"),
        Section("after", "echo ok"),
    )
    script = render_probe(token, table)
    assert "command -v awk " in script
    sections, problems = split_sections(
        _run(shell, script.replace("command -v awk ", "command -v kit-no-awk ")), token, table
    )
    assert problems == []
    assert sections["version"].stdout == Path("/proc/version").read_bytes() and sections["version"].rc == 0
    assert sections["missing"].rc == 1 and "No such file" in sections["missing"].stderr
    assert sections["after"].text == "ok\n"


_DIAG = ("inet_diag", "tcp_diag", "udp_diag", "raw_diag", "unix_diag", "netlink_diag", "af_packet_diag")


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("loaded", "builtin", "skipped"),
    [
        (_DIAG, (), True),  # every diag family loaded (as after ss on a modular kernel)
        (_DIAG[:3], [f"kernel/net/x/{m}.ko" for m in _DIAG[3:]], True),  # the rest built in
        (_DIAG[:6], (), False),  # af_packet_diag neither: kallsyms must say
        ((), (), False),  # no module loaded at all (a kernel with everything built in, no modules.builtin)
    ],
)
def test_kallsyms_is_read_unless_every_diag_module_is_loaded_or_built_in(shell, loaded, builtin, skipped, tmp_path):
    """kdiag_kallsyms (82 ms of a MIPS router's probe) is skipped, and says so, only when it would repeat
    /proc/modules and modules.builtin. The row's own command runs, with a /proc/modules and a
    /lib/modules of our own put in their paths (this machine's kernel has neither)."""
    from kit.parsers import kdiag_listings
    from kit.records import SectionStatus

    modules = tmp_path / "modules"
    modules.write_text("".join(f"{m} 16384 0 - Live 0x00000000\n" for m in loaded) + "pcnet32 1 0 - Live 0x0\n")
    tree = tmp_path / "lib-modules"
    (tree / os.uname().release).mkdir(parents=True)
    (tree / os.uname().release / "modules.builtin").write_text("".join(f"{p}\n" for p in builtin))
    token = new_token()
    (row,) = (s for s in SECTIONS if s.name == "kdiag_kallsyms")
    command = row.command.replace("/proc/modules", str(modules)).replace("/lib/modules", str(tree))
    assert command.count(str(modules)) == 2 and command.count(str(tree)) == 1
    section = dataclasses.replace(row, command=command)
    sections, problems = split_sections(_run(shell, render_probe(token, (section,))), token, (section,))
    got = sections["kdiag_kallsyms"]
    assert problems == [] and got.complete
    listing = kdiag_listings.parse_kallsyms(got.text, SectionStatus(got.stderr, got.rc, got.complete))
    if skipped:
        assert (got.stdout, got.rc) == (b"", 0)
        assert got.stderr == "# kit: skipped: every diag module is loaded or built in"
        assert not listing.read
    else:
        assert "skipped" not in got.stderr and got.rc in (0, 1)  # grep: 1 when no line matched
        assert listing.read
