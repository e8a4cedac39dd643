"""The index page of many devices: one self-contained HTML file, worst device first.

Same rules as the report (kit.render.html): inline CSS, no URL but relative
links to the devices' own files, readable without JavaScript, every device
string through the `t` filter. It renders the kit.fleet/1 dict (kit.index),
so the page and the JSON can never disagree.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections import Counter
from typing import Any

from kit.analyse.totals import held_now
from kit.index import rank
from kit.render.html import environment

EXIT_MEANING = {
    0: "ok",
    1: "check failed",
    2: "unreadable input",
    3: "not reached",
    4: "partial",
    70: "internal error",
    130: "interrupted",
}


def href(path: str | None) -> str | None:
    """A relative path as a link target: percent-encoded, so a name can never become a scheme or a query."""
    return None if path is None else urllib.parse.quote(path)


def _percent(share: float | None) -> str | None:
    """0.1234 -> '12.3 %'; small shares keep two significant digits ('0.0046 %'), never a bare 0.00."""
    if share is None:
        return None
    pct = 100 * share
    return f"{pct:.1f} %" if pct >= 1 else f"{pct:.2g} %"


def _when(value: str) -> str:
    return dt.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def context(data: dict[str, Any], json_name: str) -> dict[str, Any]:
    order = sorted(range(len(data["devices"])), key=lambda i: (*rank(data["devices"][i]), i))
    rows = []
    for i in order:
        d = data["devices"][i]
        share = d["share_of_memtotal"]
        memory = None
        if d["totals"] is not None:
            t = d["totals"]
            memory = held_now(t["rmem_alloc"], t["wmem_alloc"], t["wmem_queued"]) if t["with_skmem"] else None
        rows.append(
            {
                "line": i + 1,
                "d": d,
                "status": EXIT_MEANING.get(d["exit"], f"exit {d['exit']}"),
                "share": _percent(share),
                "memory": memory,
                "links": [
                    (label, href(d[key]))
                    for key, label in (("html", "report"), ("json", "JSON"), ("capture", "capture"))
                    if d[key]
                ],
            }
        )
    exits = Counter(d["exit"] for d in data["devices"])
    return {
        "rows": rows,
        "n": len(rows),
        "counts": sorted(exits.items()),
        "meaning": EXIT_MEANING,
        "started": _when(data["started"]),
        "finished": _when(data["finished"]),
        "json_href": href(json_name),
        "worst": max(exits, default=0),
    }


def render(data: dict[str, Any], json_name: str) -> str:
    """The index page for `data` (a kit.fleet/1 dict); `json_name` is the index JSON's file name, linked."""
    return environment().get_template("index.html.j2").render(**context(data, json_name))
