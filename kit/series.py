"""`kit collect TARGET --every SECONDS --count N`: N probe runs over one connection, then their trend.

    result = series.run(transport, Path("captures"), Path("reports"), every=30, count=20,
                        on_capture=print)
    result.captures, result.trend_html, result.trend_json, result.exit_code

One link per device: transport.connect() logs in once and every run is one
`sh -s` over it (one SSH exec channel each). Each run is a capture of its own,
saved as it arrives (kit.collect.run with render=False: no per-capture
report) and handed to `on_capture` at once; each Report is boiled down to a
trend sample and dropped, so a long series of big captures stays small.

Ctrl-C stops the series: the run under way finishes (a second Ctrl-C cuts it,
and it is saved partial as a single collect saves it), every capture already
written stays, and the trend of what was written is still written. A run cut short for any other reason (the link
dropped, the probe timed out) also ends the series: the link is likely gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from kit import capture, capture_writer, collect
from kit.analyse import trend as trend_mod
from kit.errors import ExitStatus, KitError
from kit.report import Report
from kit.transport.base import Progress, Transport, no_progress


@dataclass(slots=True)
class SeriesResult:
    target: str
    captures: list[Path] = field(default_factory=list)
    trend_html: Path | None = None
    trend_json: Path | None = None
    exit_code: int = ExitStatus.OK
    error: str | None = None  # why the series stopped early
    interrupted: bool = False
    trend: trend_mod.Trend | None = None
    last_report: Report | None = None  # the last capture's, for a fleet's index entry


class _Interrupt:
    """Ctrl-C during a series: the first finishes the run under way and stops; a second stops at once.

    Stopping between runs keeps every capture whole and in the trend; a second
    Ctrl-C raises KeyboardInterrupt where it lands (the transport then saves
    the run it cut as a partial capture, as a single collect does).
    """

    def __init__(self, progress: Progress) -> None:
        self.presses = 0
        self.event = threading.Event()
        self.progress = progress

    @property
    def seen(self) -> bool:
        return self.presses > 0

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            self.presses += 1
            self.event.set()
            if self.presses > 1:
                raise KeyboardInterrupt
            self.progress("stopping after this run (Ctrl-C again to stop now)")

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def _wait(until: float, interrupt: _Interrupt, progress: Progress) -> bool:
    """Sleep until `until` (time.monotonic()); True when Ctrl-C came meanwhile.

    In short slices, each through `progress`: a fleet cancels its devices by
    raising from their progress callback, so a waiting device stops at once too.
    """
    while (left := until - time.monotonic()) > 0:
        if interrupt.event.wait(min(left, 0.5)):
            return True
        progress(f"next run in {max(0.0, until - time.monotonic()):.0f} s")
    return interrupt.seen


def write_trend(trend: trend_mod.Trend, reports: Path, name: str) -> tuple[Path, Path]:
    from kit.render import trend as trend_render

    html_path = capture.write_new(reports, name, ".html", trend_render.render_html(trend).encode("utf-8"))
    json_path = capture.write_new(reports, name, ".json", trend_render.render_json(trend).encode("utf-8"))
    return html_path, json_path


def run(
    transport: Transport,
    captures: Path,
    reports: Path,
    every: float,
    count: int,
    on_capture: Callable[[Path], None],
    probe_timeout: float = collect.DEFAULT_PROBE_TIMEOUT,
    progress: Progress = no_progress,
    max_capture: int = capture_writer.DEFAULT_LIMIT,
) -> SeriesResult:
    """The series on one device; ConnectError and its kin (before any run) propagate as for one collect."""
    result = SeriesResult(target=transport.target)
    samples: list[trend_mod.Sample] = []
    started = time.time()
    interrupt = _Interrupt(progress)
    with interrupt.watching():
        try:
            with transport.connect(progress) as conn:
                for n in range(count):
                    begun = time.monotonic()
                    progress(f"run {n + 1} of {count}")
                    try:
                        done = collect.run(conn, captures, reports, probe_timeout, progress, max_capture, render=False)
                    except KitError as exc:  # this run could not start or save: keep what the others wrote
                        if not result.captures:
                            raise
                        result.error, result.exit_code = str(exc), max(result.exit_code, exc.exit_code)
                        break
                    assert done.capture is not None and done.report is not None
                    result.captures.append(done.capture)
                    on_capture(done.capture)
                    samples.append(trend_mod.sample(done.report))
                    result.last_report = done.report
                    result.exit_code = max(result.exit_code, done.exit_code)
                    if done.error is not None or interrupt.seen:
                        result.error = done.error
                        break
                    if n + 1 < count and _wait(begun + every, interrupt, progress):
                        break
        except KeyboardInterrupt:
            interrupt.presses = max(interrupt.presses, 1)
    result.interrupted = interrupt.seen
    if result.interrupted:
        result.exit_code = ExitStatus.INTERRUPTED
    if samples:
        result.trend = trend_mod.build(samples)
        stamp = dt.datetime.fromtimestamp(started, dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        result.trend_html, result.trend_json = write_trend(result.trend, reports, f"{transport.target}-trend-{stamp}")
    return result
