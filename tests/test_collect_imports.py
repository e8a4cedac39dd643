"""What `kit collect` imports when: only what the link needs before the device is reached, the
analysis and renderers while the probe runs (kit.collect.import_while_waiting), nothing after it.

Each check is a real `kit collect` against the test device, in a fresh interpreter (a module
imported by an earlier test would hide a late import).
"""

from __future__ import annotations

import json
import subprocess
import sys

import devicelib
import pytest

pytestmark = pytest.mark.device

# Runs `kit collect ARGS` and prints what was imported at three moments as one JSON line on stderr.
WATCH = """
import json, sys
import kit.collect
from kit.transport import ssh

seen = {}
connect, render_files = ssh.SshTransport.connect, kit.collect.render_files

def kit_modules():
    return sorted(m for m in sys.modules if m.startswith(("kit.", "jinja2")))

def watched_connect(self, *args, **kwargs):
    seen["at_connect"] = kit_modules()
    return connect(self, *args, **kwargs)

def watched_render_files(*args, **kwargs):
    seen["before_render"] = kit_modules()
    try:
        return render_files(*args, **kwargs)
    finally:
        seen["after_render"] = kit_modules()

ssh.SshTransport.connect = watched_connect
kit.collect.render_files = watched_render_files
from kit.cli import main
code = main(sys.argv[1:])
print(json.dumps(dict(seen, code=code)), file=sys.stderr)
"""


def _watched_collect(dev, tmp_path) -> dict:
    argv = ["collect", *devicelib.kit_args(dev), "--captures", str(tmp_path / "c"), "--reports", str(tmp_path / "r")]
    proc = subprocess.run([sys.executable, "-c", WATCH, *argv], capture_output=True, text=True, timeout=120)
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    assert seen["code"] in (0, 1), proc.stderr
    return seen


def test_the_link_is_opened_before_the_analysis_and_jinja2_are_imported(device, tmp_path):
    seen = _watched_collect(device, tmp_path)
    early = [m for m in seen["at_connect"] if m.startswith(("kit.report", "kit.analyse", "kit.render", "jinja2"))]
    assert early == []


def test_rendering_imports_nothing_the_wait_could_have_imported(device, tmp_path):
    seen = _watched_collect(device, tmp_path)
    assert "kit.render.html" in seen["before_render"] and "kit.report" in seen["before_render"]
    late = sorted(set(seen["after_render"]) - set(seen["before_render"]))
    assert late == []


def test_a_module_that_fails_to_import_is_left_to_the_caller():
    code = (
        "import sys\n"
        "from kit.collect import import_while_waiting\n"
        "import_while_waiting(['kit.no_such_module', 'kit.render.json']).join()\n"
        "assert 'kit.render.json' in sys.modules and 'kit.no_such_module' not in sys.modules\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "ok\n" and proc.stderr == "", proc.stderr
