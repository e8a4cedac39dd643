"""Compiled templates are kept between runs (jinja2's per-user bytecode cache) and give the same page."""

from __future__ import annotations

import os
import re
import tempfile

from support import build_report as build

from kit.render import html


def _page(report) -> str:
    return re.sub(r"rendered [0-9: -]+UTC", "rendered", html.render(report))


def test_second_render_loads_the_compiled_template(idle_cap, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    report = build(idle_cap)
    first = _page(report)
    cache = tmp_path / f"_jinja2-cache-{os.getuid()}"
    kept = sorted(p.name for p in cache.iterdir())
    assert kept and all(name.endswith(".cache") for name in kept)
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert _page(report) == first
    assert sorted(p.name for p in cache.iterdir()) == kept  # loaded, not compiled again


def test_unwritable_cache_is_no_error(idle_cap, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing" / "deeper"))
    (tmp_path / "missing").write_text("a file where the directory would go")
    assert "<html" in html.render(build(idle_cap))
