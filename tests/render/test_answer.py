"""The answer first, and counting right, on real captures (tests/render/situations.py, this machine).

Expected figures are recomputed here from the JSON socket list (what ss
printed), by a different route than kit's analysis.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict

from support import FIXTURES
from support import build_report as build

from kit import capture as capture_mod
from kit import report as report_mod
from kit.analyse import summary as summary_mod
from kit.capture import SectionOutput
from kit.render import html, summary_text
from kit.render import json as json_render
from kit.render import text as text_render
from kit.render.finding_text import worded


def doc_of(report) -> dict:
    return json.loads(json_render.render(report))


def held(sockets: list[dict]) -> int:
    """r + max(t, w) over sockets with skmem: the 'held now' figure."""
    with_mem = [s["skmem"] for s in sockets if s["skmem"]]
    r = sum(m["rmem_alloc"] or 0 for m in with_mem)
    t = sum(m["wmem_alloc"] or 0 for m in with_mem)
    w = sum(m["wmem_queued"] or 0 for m in with_mem)
    return r + max(t, w)


def test_idle_device_answer_is_not_sockets_and_comes_first(idle_cap):
    report = build(idle_cap)
    doc = doc_of(report)
    s = doc["summary"]
    theirs = [x for x in doc["sockets"] if not x["this_collect"]]
    assert s["socket_memory_bytes"] == held(theirs)
    assert s["share_of_memtotal"] == s["socket_memory_bytes"] / doc["kernel_memory"]["mem_total"]
    assert s["share_of_memavailable"] == s["socket_memory_bytes"] / doc["kernel_memory"]["mem_available"]
    assert s["cause"] == "not_sockets"  # a few idle sockets on a machine with GBs
    assert "not the cause" in s["text"] and "Next:" in s["text"]
    assert s["text"].count(". ") <= 2  # one or two sentences
    # The text format says it on its second line, after the device line.
    lines = text_render.render(report).splitlines()
    assert lines[1].startswith("Answer (not_sockets): Socket buffers hold")


def _per_process(sockets: list[dict]) -> dict[tuple, int]:
    r: dict[tuple, int] = defaultdict(int)
    t: dict[tuple, int] = defaultdict(int)
    w: dict[tuple, int] = defaultdict(int)
    for s in sockets:
        if not s["skmem"] or s["this_collect"]:
            continue
        for owner in {(p["name"], p["pid"]) for p in s["processes"]}:
            r[owner] += s["skmem"]["rmem_alloc"] or 0
            t[owner] += s["skmem"]["wmem_alloc"] or 0
            w[owner] += s["skmem"]["wmem_queued"] or 0
    return {k: r[k] + max(t[k], w[k]) for k in r}


def test_top_holder_is_the_process_whose_sockets_hold_most(situations_cap):
    doc = doc_of(build(situations_cap))
    per = _per_process(doc["sockets"])
    (name, pid), most = max(per.items(), key=lambda kv: kv[1])
    holder = doc["summary"]["top_holder"]
    unowned = held([s for s in doc["sockets"] if not s["processes"] and not s["this_collect"]])
    if unowned > most:
        assert holder["owner_missing"] is not None and holder["bytes"] == unowned
    else:
        assert (holder["name"], holder["pid"], holder["bytes"]) == (name, pid, most)
        assert f"{name} (pid {pid})" in doc["summary"]["text"]
    assert holder["name"] not in ("ss",)


def test_listen_queues_never_count_as_bytes(situations_cap):
    doc = doc_of(build(situations_cap))
    listen = [s for s in doc["sockets"] if s["state"] == "LISTEN"]
    others = [s for s in doc["sockets"] if s["state"] != "LISTEN"]
    assert any(s["send_q"] for s in listen) and any(s["recv_q"] for s in listen)  # backlogs, acceptq's queue
    t = doc["totals"]
    assert t["recv_q"] == sum(s["recv_q"] or 0 for s in others)
    assert t["send_q"] == sum(s["send_q"] or 0 for s in others)
    assert t["accept_queue"] == sum(s["recv_q"] or 0 for s in listen) > 0
    assert t["listeners"] == len(listen)
    for g in doc["processes"]:  # the same rule in every per-process row
        assert g["send_q"] <= t["send_q"] + sum(s["send_q"] or 0 for s in others)
    acceptq = next(g for g in doc["processes"] if g["name"] == "acceptq")
    mine = [s for s in doc["sockets"] if any(p["name"] == "acceptq" for p in s["processes"])]
    assert acceptq["send_q"] == sum(s["send_q"] or 0 for s in mine if s["state"] != "LISTEN")
    assert acceptq["accept_queue"] == sum(s["recv_q"] or 0 for s in mine if s["state"] == "LISTEN") >= 2


def test_the_probes_own_ss_socket_is_this_collect(local_cap):
    report = build(local_cap)
    cap = capture_mod.load(local_cap)
    pid = int(re.search(r"# kit: pid (\d+)", cap.sections["ss"].stderr).group(1))
    doc = doc_of(report)
    mine = [s for s in doc["sockets"] if s["netid"] == "nl" and s["local"] == f"4:{pid}"]
    assert len(mine) == 1 and mine[0]["this_collect"]
    assert all(s["this_collect"] for s in doc["sockets"] if s["netid"] == "nl" and s["local"] == "4:0")
    assert doc["summary"]["this_collect_bytes"] == held([s for s in doc["sockets"] if s["this_collect"]])
    assert {"pid": pid, "name": "ss", "role": "ss"} in doc["this_collect"]["processes"]
    assert all(f"4:{pid}" not in e for f in doc["findings"] for e in f["evidence"])
    # The starter of the probe (`sh -s` under pytest here) is kit's side: named, never a holder.
    assert any(p["role"] == "kit" for p in doc["this_collect"]["processes"])


def test_unowned_sockets_explained_for_a_non_root_probe(nonroot_cap):
    doc = doc_of(build(nonroot_cap))
    noread = [s for s in doc["sockets"] if s["netid"] == "tcp" and s["state"] == "ESTAB"]
    assert noread and all(not s["processes"] and s["owner_missing"] == "not_root" for s in noread)
    names = [g["name"] for g in doc["processes"]]
    assert "(no owner shown: probe not root)" in names
    assert all(s["owner_missing"] is None for s in doc["sockets"] if s["processes"])


def test_unowned_sockets_of_another_pid_namespace_on_the_test_device():
    """The test device's ss sees the host's sockets (shared network namespace), not their processes."""
    from kit.analyse import owners, this_collect
    from kit.parsers import ancestry, ss
    from kit.records import SectionStatus

    err = (FIXTURES / "testdev-dropbear" / "ss-napm.err").read_text()
    said = ss.parse_section((FIXTURES / "testdev-dropbear" / "ss-napm.out").read_text(), SectionStatus(err))
    lineage = ancestry.parse((FIXTURES / "testdev-dropbear" / "ancestry.out").read_text()).records
    marked, ours = this_collect.mark(said.records, [a for a in lineage if hasattr(a, "ppid")], said.own_pid)
    assert [(p.name, p.pid, p.role) for p in ours.processes] == [("dropbear", 3, "ssh session"), ("ss", 111, "ss")]
    session = [s for s in marked if any(p.pid == 3 for p in s.processes)]
    assert session and all(s.this_collect for s in session)
    listener = [s for s in marked if any(p.pid == 1 for p in s.processes)]
    assert listener and not any(s.this_collect for s in listener)  # dropbear's daemon is the device's
    # The client's end of the same connection (kit itself, on the host) is found by its address pair.
    ends = {(s.local, s.peer) for s in session if s.netid == "tcp"}
    client = [s for s in marked if s.netid == "tcp" and (s.peer, s.local) in ends]
    assert client and all(s.this_collect for s in client)
    ctx = owners.OwnerContext(root=True, child_pid_namespace=report_mod._child_pid_namespace(lineage))
    assert ctx.child_pid_namespace is True
    causes = {owners.cause(s, ctx) for s in marked if not s.processes and not s.this_collect}
    assert "other_pid_namespace" in causes
    assert all(owners.cause(s, ctx) == "kernel" for s in marked if s.state == "TIME-WAIT")


def test_sockstat_beside_the_skmem_sum(local_cap):
    report = build(local_cap)
    doc = doc_of(report)
    rows = {a["protocol"]: a for a in doc["sockstat_vs_skmem"]}
    tcp = [s["skmem"] for s in doc["sockets"] if s["netid"] == "tcp" and s["skmem"]]
    expected = sum((m["rmem_alloc"] or 0) + (m["wmem_queued"] or 0) + (m["fwd_alloc"] or 0) for m in tcp)
    assert rows["TCP"]["skmem_bytes"] == expected and rows["TCP"]["sockets"] == len(tcp)
    assert rows["TCP"]["sockstat_pages"] == doc["sockstat"]["TCP"]["mem"]
    assert rows["TCP"]["sockstat_bytes"] == doc["sockstat"]["TCP"]["mem"] * doc["kernel_memory"]["page_size"]
    out = html.render(report)  # both figures side by side, with why they differ
    assert 'id="sockstat-vs-skmem"' in out and "every network namespace" in out


def test_sockets_are_the_cause_on_a_small_device(situations_cap):
    """The same real sockets judged against a router-sized memory: 15% of MemTotal is the cause."""
    report = build(situations_cap)
    memory = report.summary.socket_memory_bytes
    assert memory and memory > 0
    small = dataclasses.replace(report.kernel_memory, mem_total=int(memory / 0.15), mem_available=int(memory / 0.4))
    theirs = [s for s in report.sockets if not s.this_collect]
    from kit.analyse.totals import per_process, totals

    answer = summary_mod.summarise(
        totals(theirs), per_process(theirs, report.owner_context), small, report.memory_elsewhere
    )
    assert answer.cause == "sockets" and answer.socket_memory_bytes == memory
    assert answer.next_step.kind == "check_holder"  # data; kit.render.summary_text words it
    text = summary_text.answer_text(answer)
    assert "likely the cause" in text
    assert answer.top_holder is not None and summary_text.holder_text(answer.top_holder) in text
    assert summary_text.next_step_text(answer) in text
    # Just under the "not the cause" thresholds of MemTotal and MemAvailable: still not decided.
    middle = dataclasses.replace(small, mem_total=int(memory / 0.07), mem_available=int(memory / 0.3))
    assert summary_mod.summarise(totals(theirs), [], middle, report.memory_elsewhere).cause == "unknown"


def _with_section(path, name: str, stdout: bytes, stderr: str = "", rc: int = 0):
    cap = capture_mod.load(path)
    cap.sections[name] = SectionOutput(name, stdout, stderr, rc)
    return report_mod.build(cap)


def test_conntrack_near_full_is_a_finding_and_the_next_step(idle_cap):
    # This machine's real slab_conntrack output with the count moved to 90% of its max
    # (a global table cannot be filled from a test namespace).
    text = (FIXTURES / "debian-12-sections" / "slab-conntrack.out").read_text()
    top = int(re.search(r"nf_conntrack_max:(\d+)", text).group(1))
    text = re.sub(r"nf_conntrack_count:\d+", f"nf_conntrack_count:{top * 9 // 10}", text)
    report = _with_section(idle_cap, "slab_conntrack", text.encode())
    found = [f for f in report.findings if f.code == "conntrack-near-full"]
    assert len(found) == 1 and found[0].severity == "warning" and "90% full" in worded(found[0]).title
    low = dataclasses.replace(report.memory_elsewhere, mem_available=report.memory_elsewhere.mem_total // 50)
    answer = summary_mod.summarise(report.totals, report.processes, report.kernel_memory, low)
    assert answer.cause == "not_sockets" and answer.next_step.elsewhere == "conntrack"
    assert "conntrack table is 90% full" in summary_text.next_step_text(answer)
    # Untouched, this machine's table is far from full: no finding.
    assert not [f for f in build(idle_cap).findings if f.code == "conntrack-near-full"]


def test_slabinfo_denied_to_a_non_root_probe(nonroot_cap):
    where = build(nonroot_cap).memory_elsewhere
    assert where.slabinfo == "denied" and where.slab_groups == ()
    assert where.sunreclaim is not None and where.mem_available is not None
