"""The `ancestry` and `slab_conntrack` sections: real output from the test device and this machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import FIXTURES

from kit.parsers import ancestry, slab_conntrack
from kit.parsers.ancestry import Ancestor, PidTwo
from kit.parsers.slab_conntrack import Conntrack, SlabCache
from kit.sections import BY_NAME

SHELLS = [s for s in ("dash", "busybox") if shutil.which(s)]


def _status_values(text: str, key: str) -> list[str]:
    """Every value of `key:` in the text, read with a regex instead of the parser."""
    return re.findall(rf"^{key}:\s*(.*)$", text, re.M)


@pytest.mark.parametrize("source", ["testdev-dropbear", "debian-12-sections"])
def test_ancestry_reads_every_process_of_the_chain(source):
    text = (FIXTURES / source / "ancestry.out").read_text()
    parsed = ancestry.parse(text)
    assert parsed.problems == []
    chain = [r for r in parsed.records if isinstance(r, Ancestor)]
    assert [str(a.pid) for a in chain] == _status_values(text, "Pid")
    assert [a.name for a in chain] == [v.strip() for v in _status_values(text, "Name")]
    # Each process's PPid is the next one's Pid, up to PID 1 whose parent is 0.
    assert [a.ppid for a in chain[:-1]] == [a.pid for a in chain[1:]]
    assert (chain[-1].pid, chain[-1].ppid) == (1, 0)
    assert chain[0].name == "sh" and all(a.uid == 0 for a in chain)
    pid2 = [r for r in parsed.records if isinstance(r, PidTwo)]
    assert len(pid2) == 1
    # The test device is a PID namespace of its own: no kthreadd there.
    assert pid2[0].initial_namespace is (source == "debian-12-sections")


def test_ancestry_on_the_test_device_ends_in_dropbear():
    chain = ancestry.parse((FIXTURES / "testdev-dropbear" / "ancestry.out").read_text()).records
    names = [a.name for a in chain if isinstance(a, Ancestor)]
    assert names[-2:] == ["dropbear", "dropbear"] and set(names[:-2]) == {"sh"}


@pytest.mark.parametrize("shell", SHELLS)
def test_ancestry_section_runs_under_each_shell(shell):
    argv = ["busybox", "ash", "-c"] if shell == "busybox" else [shell, "-c"]
    out = subprocess.run(
        [*argv, BY_NAME["ancestry"].command], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    parsed = ancestry.parse(out)
    assert parsed.problems == []
    chain = [r for r in parsed.records if isinstance(r, Ancestor)]
    assert chain[0].ppid == chain[1].pid and chain[-1].pid == 1
    assert os.getpid() in {a.pid for a in chain}  # this test's own process is an ancestor


def test_slab_conntrack_reads_every_line():
    text = (FIXTURES / "debian-12-sections" / "slab-conntrack.out").read_text()
    parsed = slab_conntrack.parse(text)
    assert parsed.problems == []
    track = {r.key: r.value for r in parsed.records if isinstance(r, Conntrack)}
    expected = {m.group(1): int(m.group(2)) for m in re.finditer(r"nf_conntrack_(count|max):(\d+)$", text, re.M)}
    assert track == expected and set(track) == {"count", "max"}
    caches = {c.name: c for c in parsed.records if isinstance(c, SlabCache)}
    data_lines = [ln for ln in text.splitlines() if ln.startswith("/proc/slabinfo:") and "tunables" in ln]
    data_lines = [ln for ln in data_lines if not ln.startswith("/proc/slabinfo:# name")]
    assert len(caches) == len(data_lines)
    for ln in data_lines:
        words = ln.split(":", 1)[1].split()
        c = caches[words[0]]
        assert (c.num_objs, c.objsize, c.pagesperslab, c.num_slabs) == tuple(int(words[i]) for i in (2, 3, 5, 14))
    assert {"skbuff_head_cache", "TCP", "UDP"} <= set(caches)


@pytest.mark.parametrize("module", [ancestry, slab_conntrack])
@given(text=st.text(max_size=400))
def test_never_raises_and_accounts_for_every_line(module, text):
    parsed = module.parse(text)
    seen = {r.line for r in parsed.records} | {p.line for p in parsed.problems}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if (
            module is slab_conntrack
            and line.startswith("/proc/slabinfo:")
            and (line[15:].startswith(("slabinfo - version", "# name")))
        ):
            continue  # headers: read, not records
        if module is ancestry and number not in seen:
            # Pid/PPid/Uid/NSpid lines belong to the record their Name line starts.
            key = line.partition(":")[0]
            assert key in ("Pid", "PPid", "Uid", "NSpid") and any(
                x.line < number for x in [*parsed.records, *parsed.problems]
            ), line
            continue
        assert number in seen, line
