"""Run the probe on this machine with /bin/sh: the same bytes, no SSH."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import time

from kit.errors import CaptureLimitReached, ProbeIncomplete
from kit.transport.base import MemorySink, Progress, RunResult, Sink, kept, limit_message, no_progress

CHUNK = 65536


class LocalTransport:
    def __init__(self, shell: str = "/bin/sh") -> None:
        self.shell = shell
        self.target = socket.gethostname() or "localhost"

    def connect(self, progress: Progress = no_progress) -> LocalTransport:
        return self  # nothing to open: each run is a new `sh -s`

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def run(
        self, script: bytes, timeout: float, progress: Progress = no_progress, sink: Sink | None = None
    ) -> RunResult:
        sink = sink if sink is not None else MemorySink()
        started = time.time()
        progress(f"running the probe with {self.shell}")
        proc = subprocess.Popen(
            [self.shell, "-s"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

        def cut(error: str, timed_out: bool = False, hint: str = "") -> ProbeIncomplete:
            proc.kill()
            proc.wait()
            out, err = kept(sink)
            result = RunResult(out, err, None, started, time.time(), timed_out=timed_out, error=error)
            return ProbeIncomplete(error, result, hint=hint)

        try:
            _pump(proc, script, sink, started + timeout)
        except TimeoutError:
            raise cut(
                f"the probe did not finish in {timeout:.0f} s", timed_out=True, hint="raise --probe-timeout"
            ) from None
        except CaptureLimitReached as exc:
            raise cut(limit_message(exc)) from None
        except KeyboardInterrupt:
            raise cut("interrupted (Ctrl-C)") from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        out, err = kept(sink)
        return RunResult(out, err, proc.wait(), started, time.time())


def _pump(proc: subprocess.Popen[bytes], script: bytes, sink: Sink, deadline: float) -> None:
    """Feed the script and hand each chunk of stdout/stderr to the sink as it comes, until both close."""
    assert proc.stdin and proc.stdout and proc.stderr
    with selectors.DefaultSelector() as sel:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin, selectors.EVENT_WRITE)
        sel.register(proc.stdout, selectors.EVENT_READ, sink.out)
        sel.register(proc.stderr, selectors.EVENT_READ, sink.err)
        todo = memoryview(script)
        if not todo:
            sel.unregister(proc.stdin)
            proc.stdin.close()
        while len(sel.get_map()) > 0:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError
            for key, _ in sel.select(min(left, 1.0)):
                if key.fileobj is proc.stdin:
                    try:
                        todo = todo[os.write(proc.stdin.fileno(), todo[:CHUNK]) :]
                    except BrokenPipeError:
                        todo = todo[:0]  # the shell exited early: its output says why
                    if not todo:
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, CHUNK)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                key.data(data)
