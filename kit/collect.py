"""One device's collect, start to end: run the probe, save the capture first, render HTML and JSON.

`kit collect HOST` runs it once; `kit collect -f FILE` runs it for every
device of a fleet, and a series (`--every`) once per round. The command line
decides what to print; this module only does the work and says how it went:

    result = collect.run(transport, Path("captures"), Path("reports"))
    result.exit_code, result.capture, result.html, result.json, result.error

Failures before the probe starts (refused, silent, bad key, changed host key)
are raised as kit.errors.ConnectError and its kin: nothing was written. A
probe cut short is not raised: its partial capture is saved and rendered, and
the result carries exit code 4 and the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kit import __version__, capture, capture_writer, output_file, probe
from kit.errors import CaptureWriteError, ExitStatus, ProbeIncomplete
from kit.frozen import frozen
from kit.transport.base import Connection, Progress, Transport, no_progress

if TYPE_CHECKING:
    from kit.report import Report

DEFAULT_PROBE_TIMEOUT = 300.0


@frozen
class Collected:
    """What one collect wrote, and the exit code a single `kit collect` gives for it."""

    target: str
    exit_code: int
    error: str | None = None  # one line: why the probe stopped early, or why nothing was collected
    capture: Path | None = None
    html: Path | None = None
    json: Path | None = None
    report: Report | None = None


def timestamp(when: float) -> str:
    """`when` (time.time()) as it goes into file names: 20261126T101500Z."""
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def stem(target: str, when: float) -> str:
    """File name stem for a collect started at `when`: `target-20261126T101500Z`."""
    return f"{target}-{timestamp(when)}"


def render_files(cap_path: Path, reports: Path, name: str) -> tuple[Report, Path, Path]:
    """Build the report from the capture on disk and write `name`.html and `name`.json under `reports`."""
    from kit import report as report_mod
    from kit.render import html
    from kit.render import json as json_render

    rep = report_mod.build(capture.read(cap_path), source=str(cap_path))
    # 0600 like the capture: reports hold every socket and the raw sections.
    html_path = output_file.new_file(reports, name, ".html", html.render(rep).encode("utf-8"))
    json_path = output_file.new_file(reports, name, ".json", json_render.to_file(rep))
    return rep, html_path, json_path


def after_probe_modules(render: bool) -> list[str]:
    """The modules reading, parsing, analysing and rendering a capture import (the capture reader's,
    the report's, every section's parser, the renderers); tests/test_collect_imports.py checks none is missed."""
    from kit.sections import SECTIONS

    parsers = sorted({f"kit.parsers.{s.parser.partition(':')[0]}" for s in SECTIONS if s.parser})
    renderers = ["kit.render.html", "kit.render.json"] if render else []
    return ["kit.bounded_read", "kit.report", *parsers, *renderers]


def import_while_waiting(modules: list[str]) -> threading.Thread | None:
    """Import `modules` in a thread while this one waits for the device; None when all are imported already.

    The analysis modules and Jinja2 cost ~0.1 s of CPU to import, as long as
    the whole probe takes on a fast device; the probe's run is spent waiting
    on the link, so they cost nothing there. Imports only: nothing is parsed
    before the capture is on disk. A failed import is left for the caller's
    own import to raise, where errors are handled.
    """
    missing = [name for name in modules if name not in sys.modules]
    if not missing:
        return None

    def work() -> None:
        for name in missing:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S112 - the caller's import raises it again
                continue

    thread = threading.Thread(target=work, name="kit-import", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def _connected(transport: Transport | Connection, progress: Progress) -> Iterator[Connection]:
    """An open link: `transport` connected (closed on the way out), or the open Connection it already is."""
    if isinstance(transport, Transport):
        with transport.connect(progress) as link:
            yield link
    else:
        yield transport


@contextlib.contextmanager
def _capture_errors(directory: Path) -> Iterator[None]:
    """A capture that cannot be written (disk full, no such directory): one line, exit 4, nothing left."""
    try:
        yield
    except CaptureWriteError as exc:
        raise ProbeIncomplete(
            f"could not save the capture in {directory}: {exc}", None, hint="free some space or give --captures DIR"
        ) from None


def exit_code(report: Report, partial: bool) -> int:
    """docs/design.md, exit codes: 4 when the probe was cut short, else 1 when the kernel diag verdict is not ok."""
    if partial:
        return ProbeIncomplete.exit_code
    return ExitStatus.OK if report.kernel_diag.verdict == "ok" else ExitStatus.CHECK_FAILED


def run(
    transport: Transport | Connection,
    captures: Path,
    reports: Path,
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    progress: Progress = no_progress,
    max_capture: int = capture_writer.DEFAULT_LIMIT,
    render: bool = True,
) -> Collected:
    """Probe the device behind `transport`, save the capture, render it; see the module docstring.

    With `render=False` (a series: kit collect --every) the Report is built
    from the capture on disk but no HTML or JSON is written.

    `transport` may be an open Connection (kit.transport.base): a series runs
    every round over the same link. The probe's output streams into `captures`
    as it arrives; past `max_capture` bytes the link is closed (exit 4).
    """
    # Both directories are checked before the device is reached (exit 2).
    output_file.directory(captures, "--captures")
    output_file.directory(reports, "--reports")
    token = probe.new_token()
    # Looked up at call time: tests swap in a probe with a stalling section.
    script = probe.render_probe(token).encode()
    incomplete: ProbeIncomplete | None = None
    # The writer opens its files before the device is reached: a captures
    # directory that cannot be written fails first, not after the probe ran.
    with _capture_errors(captures), capture_writer.CaptureWriter(captures, max_capture) as writer:
        with _connected(transport, progress) as link:
            # Started after the handshake, whose packets it would slow (one
            # GIL): the probe's run is mostly waiting for the device.
            importing = import_while_waiting(after_probe_modules(render))
            try:
                result = link.run(script, timeout=probe_timeout, progress=progress, sink=writer)
            except ProbeIncomplete as exc:
                if exc.result is None:  # nothing arrived that could be saved
                    raise
                incomplete, result = exc, exc.result
        header = {
            "kit_version": __version__,
            "target": transport.target,
            "started": dt.datetime.fromtimestamp(result.started, dt.timezone.utc).isoformat(),
            "finished": dt.datetime.fromtimestamp(result.finished, dt.timezone.utc).isoformat(),
            "host_key": result.host_key or None,
            "exit_status": result.exit_status,
            "partial": incomplete is not None,
            "error": result.error or None,
            "token": token,
        }
        name = stem(transport.target, result.started)
        cap_path = writer.save(name, header)
    if importing is not None:
        importing.join()
    progress("capture saved; rendering")
    # Parse what is on disk, exactly as `kit render` would later.
    html_path = json_path = None
    if render:
        report, html_path, json_path = render_files(cap_path, reports, name)
    else:
        from kit import report as report_mod

        report = report_mod.build(capture.read(cap_path), source=str(cap_path))
    return Collected(
        target=transport.target,
        exit_code=exit_code(report, incomplete is not None),
        error=str(incomplete) if incomplete is not None else None,
        capture=cap_path,
        html=html_path,
        json=json_path,
        report=report,
    )
