"""Run the probe on this machine with /bin/sh: the same bytes, no SSH."""

from __future__ import annotations

import socket
import subprocess
import time

from kit.errors import ProbeIncomplete
from kit.transport.base import Progress, RunResult, no_progress


class LocalTransport:
    def __init__(self, shell: str = "/bin/sh") -> None:
        self.shell = shell
        self.target = socket.gethostname() or "localhost"

    def run(self, script: bytes, timeout: float, progress: Progress = no_progress) -> RunResult:
        started = time.time()
        progress(f"running the probe with {self.shell}")
        proc = subprocess.Popen(
            [self.shell, "-s"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = proc.communicate(script, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            result = RunResult(
                out,
                err,
                None,
                started,
                time.time(),
                timed_out=True,
                error=f"the probe did not finish in {timeout:.0f} s",
            )
            raise ProbeIncomplete(result.error, result, hint="raise --timeout") from None
        except KeyboardInterrupt:
            proc.kill()
            out, err = proc.communicate()
            result = RunResult(out, err, None, started, time.time(), error="interrupted (Ctrl-C)")
            raise ProbeIncomplete(result.error, result) from None
        return RunResult(out, err, proc.returncode, started, time.time())
