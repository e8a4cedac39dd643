"""kit.parsers.proc_modules: real /proc/modules (recorded on the qemu Malta kernel) and fuzzing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.parsers import proc_modules


def test_empty():
    parsed = proc_modules.parse("")
    assert parsed.records == [] and parsed.problems == []


def test_bad_lines_are_problems():
    parsed = proc_modules.parse(
        "tcp_diag 2593 0 - Live 0xc0023000\nRTNETLINK answers: Invalid argument\n"
        "inet_diag 14801 4 tcp_diag, Gone 0xc0028000\nx - - - Live\n"
    )
    assert [m.name for m in parsed.records] == ["tcp_diag"]
    assert [p.line for p in parsed.problems] == [2, 3, 4]


def test_kernel_without_module_unload():
    # kernel/module/procfs.c prints " - -" for refcount and users without CONFIG_MODULE_UNLOAD
    parsed = proc_modules.parse("inet_diag 14801 - - Live 0xc0028000\n")
    assert parsed.records[0].refcount is None and parsed.problems == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["tcp_diag", " ", "2593", "0", "-", "Live", "Loading", "0xc0", ",", "\n", "(OE)", "x", "\t", "é"]
        ),
        max_size=80,
    ).map("".join)
)
def test_fuzz(text):
    parsed = proc_modules.parse(text)
    taken = {m.line for m in parsed.records} | {p.line for p in parsed.problems}
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            assert number in taken
