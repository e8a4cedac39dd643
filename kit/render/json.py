"""The JSON report (schema kit.report/1; the contract is in docs/design.md).

Top-level keys are never renamed without a schema bump; new keys may be added.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from kit.analyse import kdiag
from kit.analyse.totals import Group, Totals
from kit.records import Socket
from kit.report import Report


def socket_dict(sock: Socket) -> dict[str, Any]:
    mem = sock.skmem
    return {
        "netid": sock.netid,
        "state": sock.state,
        "recv_q": sock.recv_q,
        "send_q": sock.send_q,
        "local": sock.local,
        "peer": sock.peer,
        "processes": [{"name": p.name, "pid": p.pid, "fd": p.fd} for p in sock.processes],
        "skmem": None
        if mem is None
        else {
            "rmem_alloc": mem.rmem_alloc,
            "rcv_buf": mem.rcv_buf,
            "wmem_alloc": mem.wmem_alloc,
            "snd_buf": mem.snd_buf,
            "fwd_alloc": mem.fwd_alloc,
            "wmem_queued": mem.wmem_queued,
            "opt_mem": mem.opt_mem,
            "back_log": mem.back_log,
            "sock_drop": mem.sock_drop,
        },
        "inode": sock.inode,
        "drops": sock.drops,
        "line": sock.line,
    }


def totals_dict(t: Totals) -> dict[str, int]:
    return {
        "sockets": t.sockets,
        "with_skmem": t.with_skmem,
        "rmem_alloc": t.rmem_alloc,
        "wmem_alloc": t.wmem_alloc,
        "wmem_queued": t.wmem_queued,
        "fwd_alloc": t.fwd_alloc,
        "sock_drop": t.sock_drop,
        "recv_q": t.recv_q,
        "send_q": t.send_q,
    }


def group_dict(g: Group) -> dict[str, Any]:
    return {"name": g.name, "pid": g.pid, **totals_dict(g.totals)}


def to_dict(report: Report) -> dict[str, Any]:
    km = report.kernel_memory
    return {
        "schema": report.schema,
        "kit_version": report.kit_version,
        "capture": report.capture,
        "device": report.device,
        "kernel_diag": kdiag.to_json(report.kernel_diag),
        "socket_source": report.socket_source,
        "sockets": [socket_dict(s) for s in report.sockets],
        "totals": totals_dict(report.totals),
        "processes": [group_dict(g) for g in report.processes],
        "by_netid": [group_dict(g) for g in report.by_netid],
        "by_state": [group_dict(g) for g in report.by_state],
        "sockstat": report.sockstat,
        "kernel_memory": {
            "page_size": km.page_size,
            "page_size_known": km.page_size_known,
            "mem_total": km.mem_total,
            "mem_available": km.mem_available,
            "tcp": {**asdict(km.tcp), "bytes": km.bytes(km.tcp.pages), "level": km.tcp.level()},
            "udp": {**asdict(km.udp), "bytes": km.bytes(km.udp.pages), "level": km.udp.level()},
            "counters": km.counters,
        },
        "findings": [asdict(f) for f in report.findings],
        "parse_problems": [
            {"section": p.section, "line": p.problem.line, "text": p.problem.text, "reason": p.problem.reason}
            for p in report.parse_problems
        ],
        "sections": [
            {
                "name": s.name,
                "rc": s.rc,
                "bytes": len(s.stdout),
                "truncated": s.truncated,
                "complete": s.complete,
                "stderr": s.stderr,
            }
            for s in report.sections
        ],
        "notes": report.notes,
    }


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=1, ensure_ascii=False) + "\n"
