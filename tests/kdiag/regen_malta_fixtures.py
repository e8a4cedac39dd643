"""Re-record tests/fixtures/kconfig-debian-12-malta-qemu/ from real qemu boots (see qemu_malta.py).

    .venv/bin/python tests/kdiag/regen_malta_fixtures.py

Writes one kit capture per scenario (probe-<scenario>.cap) and the raw
/proc/modules text after ss autoloaded the diag modules (proc-modules.out).
Review the diff before committing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_malta  # noqa: E402

from kit import __version__  # noqa: E402
from kit.capture import capture_bytes, from_bytes  # noqa: E402
from kit.probe import new_token, render_probe  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "kconfig-debian-12-malta-qemu"


def record(scenario: str) -> bytes:
    token = new_token()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stdout = qemu_malta.run_scenario(scenario, render_probe(token))
    header = {
        "kit": __version__,
        "target": f"qemu-system-mipsel malta ({scenario})",
        "started": started,
        "token": token,
        "exit_status": 0,
        "partial": False,
    }
    return capture_bytes(header, stdout, b"")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for scenario in qemu_malta.SCENARIOS:
        data = record(scenario)
        (OUT / f"probe-{scenario}.cap").write_bytes(data)
        if scenario == "autoload":
            (OUT / "proc-modules.out").write_bytes(from_bytes(data).sections["modules_after"].stdout)
        print(scenario, len(data))
