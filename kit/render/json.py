"""The JSON report (schema kit.report/1; the contract is in docs/design.md).

Top-level keys are never renamed without a schema bump; new keys may be added.

The report is written as a stream: a 100k-socket capture makes ~40 MB of
JSON, which must not be built as one string nor as one dict per socket (the
standard library's `json.dumps(..., indent=1)` did both and, with `indent`,
ran the pure-Python encoder: 3.6 s and 680 MB at 100k sockets). The small
parts are encoded by `_value` below; every socket is one line, formatted
directly from its record (`socket_lines`). Every string, key or value, is
escaped by `string()`: encode_basestring, then json_safe; `socket_lines`
takes the same two steps, json_safe once for a chunk of lines.

Why no orjson or msgspec: measured on the records of a 100k-socket capture,
the socket lines here took ~0.15 s (~0.07 s since they are f-strings),
orjson ~0.18 s, msgspec ~0.07 s but without owner_missing and with another
layout; the reason is in setup.cfg.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from json.encoder import encode_basestring
from typing import Any, BinaryIO, TextIO

from kit.analyse.owners import OwnerContext
from kit.analyse.owners import cause as owner_cause
from kit.analyse.totals import Group, Totals
from kit.records import ProcRef, Skmem, Socket
from kit.render.finding_text import worded
from kit.render.kdiag_text import kdiag_json
from kit.render.summary_text import answer_text, next_step_text, reason_text
from kit.report import CaptureInfo, DeviceInfo, Report, SectionProblem
from kit.terminal_text import json_safe

SOCKETS_PER_WRITE = 2000  # socket lines joined into one write: few calls, little memory


def string(text: str) -> str:
    """`text` as a JSON string literal: the one place where strings are escaped."""
    # encode_basestring escapes C0, quotes and backslashes; json_safe adds DEL,
    # C1 and the bidi/format characters, which would act on a terminal showing the JSON.
    return json_safe(encode_basestring(text))


def socket_dict(sock: Socket, owners: OwnerContext | None = None) -> dict[str, Any]:
    mem = sock.skmem
    return {
        "netid": sock.netid,
        "state": sock.state,
        "recv_q": sock.recv_q,
        "send_q": sock.send_q,
        "local": sock.local,
        "peer": sock.peer,
        "processes": [{"name": p.name, "pid": p.pid, "fd": p.fd} for p in sock.processes],
        "skmem": None if mem is None else skmem_dict(mem),
        "inode": sock.inode,
        "drops": sock.drops,
        "line": sock.line,
        "this_collect": sock.this_collect,
        "owner_missing": None if sock.processes or owners is None else owner_cause(sock, owners),
    }


def skmem_dict(mem: Skmem) -> dict[str, int | None]:
    return {
        "rmem_alloc": mem.rmem_alloc,
        "rcv_buf": mem.rcv_buf,
        "wmem_alloc": mem.wmem_alloc,
        "snd_buf": mem.snd_buf,
        "fwd_alloc": mem.fwd_alloc,
        "wmem_queued": mem.wmem_queued,
        "opt_mem": mem.opt_mem,
        "back_log": mem.back_log,
        "sock_drop": mem.sock_drop,
    }


def _num(n: int | None) -> str:
    return "null" if n is None else str(n)


def _str(text: str | None) -> str:
    return "null" if text is None else string(text)


def socket_line(sock: Socket, memo: dict[Any, str], owners: OwnerContext | None = None) -> str:
    """One socket as a one-line JSON object, the same value as `socket_dict(sock, owners)`."""
    return socket_lines([sock], memo, owners)


def socket_lines(
    sockets: Sequence[Socket], memo: dict[Any, str], owners: OwnerContext | None = None, sep: str = ",\n  "
) -> str:
    """The sockets as one-line JSON objects joined by `sep` (the layout of the report's socket list).

    `memo` holds the JSON text of values that repeat from socket to socket:
    netids, states, process names, and skmem values by identity (the parser
    shares identical `Skmem`s; a dataclass's own hash costs three times the
    look-up). Each line is one f-string of ready JSON text (100k sockets:
    ~0.07 s; the same as a %-format took ~0.1 s). Strings are escaped by
    encode_basestring here and by json_safe once for the whole text (the two
    halves of `string()`: one call for all instead of two per string).
    """
    lines: list[str] = []
    add = lines.append
    get = memo.get
    for sock in sockets:
        mem, procs = sock.skmem, sock.processes
        skmem = get(id(mem))
        if skmem is None:
            skmem = memo[id(mem)] = "null" if mem is None else _inline(skmem_dict(mem))
        owner_missing = "null"
        if len(procs) == 1:  # most sockets
            processes = _process(procs[0], get(procs[0].name) or _remember(memo, procs[0].name))
        elif procs:
            processes = ", ".join([_process(p, get(p.name) or _remember(memo, p.name)) for p in procs])
        else:
            processes = ""
            if owners is not None:
                owner_missing = _str(owner_cause(sock, owners))
        netid = get(sock.netid) or _remember(memo, sock.netid)
        state = get(sock.state) or _remember(memo, sock.state)
        rq, sq, inode, drops = sock.recv_q, sock.send_q, sock.inode, sock.drops
        add(
            f'{{"netid": {netid}, "state": {state}, '
            f'"recv_q": {"null" if rq is None else rq}, "send_q": {"null" if sq is None else sq}, '
            f'"local": {encode_basestring(sock.local)}, "peer": {encode_basestring(sock.peer)}, '
            f'"processes": [{processes}], "skmem": {skmem}, '
            f'"inode": {"null" if inode is None else inode}, "drops": {"null" if drops is None else drops}, '
            f'"line": {sock.line}, "this_collect": {"true" if sock.this_collect else "false"}, '
            f'"owner_missing": {owner_missing}}}'
        )
    return json_safe(sep.join(lines))


def _process(p: ProcRef, name: str) -> str:
    """One owner as JSON; `name` is its name as JSON text already."""
    pid, fd = p.pid, p.fd
    return f'{{"name": {name}, "pid": {"null" if pid is None else pid}, "fd": {"null" if fd is None else fd}}}'


def _remember(memo: dict[Any, str], text: str | None) -> str:
    """The JSON of a string (or None) that repeats, made once."""
    json_text = memo[text] = _str(text)
    return json_text


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
        "accept_queue": t.accept_queue,
        "listeners": t.listeners,
    }


def group_dict(g: Group) -> dict[str, Any]:
    return {
        "name": g.name,
        "pid": g.pid,
        "this_collect": g.this_collect,
        "owner_missing": g.owner_missing,
        **totals_dict(g.totals),
    }


def summary_dict(report: Report) -> dict[str, Any]:
    s = report.summary
    return {
        "text": answer_text(s),
        "socket_memory_bytes": s.socket_memory_bytes,
        "share_of_memtotal": s.share_of_memtotal,
        "share_of_memavailable": s.share_of_memavailable,
        "cause": s.cause,
        "top_holder": asdict(s.top_holder) if s.top_holder else None,
        "source": s.source,
        "next_step": next_step_text(s),
        "reasons": [reason_text(r) for r in s.reasons],
        "this_collect_bytes": s.this_collect_bytes,
    }


def this_collect_dict(report: Report) -> dict[str, Any]:
    tc = report.this_collect
    return {
        "processes": [asdict(p) for p in tc.processes],
        "sockets": tc.sockets,
        "memory": tc.memory,
        "found": tc.found,
    }


def memory_elsewhere_dict(report: Report) -> dict[str, Any]:
    w = report.memory_elsewhere
    return {
        "mem_total": w.mem_total,
        "mem_available": w.mem_available,
        "slab": w.slab,
        "sreclaimable": w.sreclaimable,
        "sunreclaim": w.sunreclaim,
        "conntrack_count": w.conntrack_count,
        "conntrack_max": w.conntrack_max,
        "conntrack_share": w.conntrack_share,
        "slabinfo": w.slabinfo,
        "slab_groups": [
            {"label": g.label, "bytes": g.bytes, "caches": [{"name": n, "bytes": b} for n, b in g.caches]}
            for g in w.slab_groups
        ],
    }


def capture_dict(cap: CaptureInfo) -> dict[str, Any]:
    return {
        "file": cap.file,
        "target": cap.target,
        "started": cap.started,
        "finished": cap.finished,
        "kit_version": cap.kit_version,
        "host_key": cap.host_key,
        "exit_status": cap.exit_status,
        "partial": cap.partial,
        "error": cap.error,
        "raw_paste": cap.raw_paste,
        "detected": cap.detected,
        "hand_run": cap.hand_run,
        "lines_before": cap.lines_before,
        "lines_after": cap.lines_after,
        "unmangled": [{"kind": u.kind, "lines": u.lines, "detail": u.detail} for u in cap.unmangled],
    }


def device_dict(dev: DeviceInfo) -> dict[str, Any]:
    return {
        "hostname": dev.hostname,
        "kernel_release": dev.kernel_release,
        "kernel_version": dev.kernel_version,
        "machine": dev.machine,
        "os_release": dev.os_release,
        "openwrt": dev.openwrt,
        "user": dev.user,
        "root": dev.root,
    }


def problem_dict(p: SectionProblem) -> dict[str, Any]:
    return {"section": p.section, "line": p.problem.line, "text": p.problem.text, "reason": p.problem.reason}


def to_dict(report: Report, sockets: bool = True) -> dict[str, Any]:
    """The report as plain data; `sockets=False` leaves the (big) socket and parse problem lists empty."""
    km = report.kernel_memory
    return {
        "schema": report.schema,
        "kit_version": report.kit_version,
        "capture": capture_dict(report.capture),
        "device": device_dict(report.device),
        "kernel_diag": kdiag_json(report.kernel_diag),
        "socket_source": report.socket_source,
        "summary": summary_dict(report),
        "sockets": [socket_dict(s, report.owner_context) for s in report.sockets] if sockets else [],
        "totals": totals_dict(report.totals),
        "processes": [group_dict(g) for g in report.processes],
        "by_netid": [group_dict(g) for g in report.by_netid],
        "by_state": [group_dict(g) for g in report.by_state],
        "sockstat": report.sockstat,
        "sockstat_vs_skmem": [asdict(a) for a in report.accounting],
        "this_collect": this_collect_dict(report),
        "memory_elsewhere": memory_elsewhere_dict(report),
        "kernel_memory": {
            "page_size": km.page_size,
            "page_size_known": km.page_size_known,
            "mem_total": km.mem_total,
            "mem_available": km.mem_available,
            "tcp": {**asdict(km.tcp), "bytes": km.bytes(km.tcp.pages), "level": km.tcp.level()},
            "udp": {**asdict(km.udp), "bytes": km.bytes(km.udp.pages), "level": km.udp.level()},
            "counters": km.counters,
        },
        "findings": [asdict(worded(f)) for f in report.findings],
        "parse_problems": [problem_dict(p) for p in report.parse_problems] if sockets else [],
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


# --- the encoder for plain data (everything but the socket list) ---------------


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return string(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        # as json.dumps: repr for finite numbers, NaN/Infinity otherwise
        return json.dumps(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return string(key)
    if key is None or isinstance(key, (bool, int, float)):
        return string(_scalar(key))  # json.dumps turns such keys into their JSON text
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _inline(value: Any) -> str:
    """`value` on one line, with json.dumps' default separators."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return _scalar(value)


def _value(value: Any, depth: int) -> Iterator[str]:
    """`value` indented by one space a level, as json.dumps(indent=1) lays it out."""
    if isinstance(value, dict) and value:
        inner = "\n" + " " * (depth + 1)
        yield "{"
        for n, (k, v) in enumerate(value.items()):
            yield ("," if n else "") + inner + _key(k) + ": "
            yield from _value(v, depth + 1)
        yield "\n" + " " * depth + "}"
    elif isinstance(value, (list, tuple)):
        yield from _items(value, depth)
    elif isinstance(value, dict):
        yield "{}"
    else:
        yield _scalar(value)


def _items(values: Iterable[Any], depth: int) -> Iterator[str]:
    """A list laid out as `_value` lays it out, made an item at a time (200k parse problems are 40 MB of dicts)."""
    inner = "\n" + " " * (depth + 1)
    n = -1
    for n, v in enumerate(values):
        yield ("[" if n == 0 else ",") + inner
        yield from _value(v, depth + 1)
    yield "[]" if n < 0 else "\n" + " " * depth + "]"


def _socket_chunks(sockets: list[Socket], owners: OwnerContext | None = None) -> Iterator[str]:
    """The socket list, one socket a line, in chunks of SOCKETS_PER_WRITE lines."""
    if not sockets:
        yield "[]"
        return
    memo: dict[Any, str] = {}
    yield "[\n  "
    for start in range(0, len(sockets), SOCKETS_PER_WRITE):
        yield (",\n  " if start else "") + socket_lines(sockets[start : start + SOCKETS_PER_WRITE], memo, owners)
    yield "\n ]"


def _document(report: Report | None, data: dict[str, Any]) -> Iterator[str]:
    """The pieces of the whole document; `report`'s sockets and parse problems stand in for data's."""
    yield "{"
    for n, (key, value) in enumerate(data.items()):
        yield ("," if n else "") + "\n " + _key(key) + ": "
        if key == "sockets" and report is not None:
            yield from _socket_chunks(report.sockets, report.owner_context)
        elif key == "parse_problems" and report is not None:
            yield from _items(map(problem_dict, report.parse_problems), 1)
        else:
            yield from _value(value, 1)
    yield "\n}\n" if data else "}\n"


def _write_pieces(pieces: Iterator[str], out: TextIO, size: int = 1 << 16) -> None:
    """Write the pieces in batches of about `size` characters: few calls, bounded memory."""
    batch: list[str] = []
    held = 0
    for piece in pieces:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            out.write("".join(batch))
            batch, held = [], 0
    out.write("".join(batch))


def write_data(data: dict[str, Any], out: TextIO) -> None:
    """Any report-shaped dict (e.g. a redacted one), laid out like `write`."""
    _write_pieces(_document(None, data), out)


def write(report: Report, out: TextIO) -> None:
    """Stream the JSON report to `out`: the sockets one a line, never the whole document in memory."""
    _write_pieces(_document(report, to_dict(report, sockets=False)), out)


def render(report: Report) -> str:
    """The whole JSON report as one string (tests, small captures); `write` streams it."""
    buf = io.StringIO()
    write(report, buf)
    return buf.getvalue()


def to_file(report: Report) -> Callable[[BinaryIO], None]:
    """A writer for capture.write_new: streams the report into a binary file as UTF-8."""

    def write_to(fh: BinaryIO) -> None:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="\n")
        write(report, text)
        text.flush()
        text.detach()

    return write_to
