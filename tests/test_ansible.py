"""contrib/ansible/collect.yml with real ansible-core against real test devices (OpenSSH as Ansible's transport).

Three busybox/dropbear devices, one port with nothing listening and one
device whose known_hosts entry is another key: Ansible runs the probe through
`raw` (no Python on the devices), kit renders each output and the index.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from support import unavailable

from kit import capture as capture_mod

pytestmark = pytest.mark.device

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "contrib" / "ansible" / "collect.yml"
BIN = Path(sys.executable).parent
KIT = BIN / "kit"
SCHEMA = json.loads((ROOT / "docs" / "fleet.schema.json").read_text())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ansible_run(device_trio, device, tmp_path_factory):
    playbook = BIN / "ansible-playbook"
    if not playbook.exists() or not shutil.which("ssh"):
        unavailable("ansible-core (test extra) and OpenSSH's ssh client are needed")
    work = tmp_path_factory.mktemp("ansible")
    key = device_trio[0].known_hosts.read_text().split(None, 1)[1].strip()
    known = work / "known_hosts"
    known.write_text(
        "".join(f"[127.0.0.1]:{d.port} {key}\n" for d in device_trio)
        + f"[127.0.0.1]:{device.port} {key}\n"  # not that device's key: changed host key
    )
    hosts = [(f"ap{i + 1}", d.port) for i, d in enumerate(device_trio)]
    hosts += [("down", closed_port()), ("rekeyed", device.port)]
    inventory = work / "inventory.ini"
    inventory.write_text(
        "[routers]\n"
        + "".join(f"{name} ansible_host=127.0.0.1 ansible_port={port}\n" for name, port in hosts)
        + "\n[routers:vars]\n"
        + "ansible_user=root\n"
        + f"ansible_ssh_private_key_file={device_trio[0].root_key}\n"
        # OpenSSH reads the passwd home, not $HOME: keep the developer's ssh config and known_hosts out.
        + f"ansible_ssh_common_args=-F /dev/null -o UserKnownHostsFile={known} -o GlobalKnownHostsFile=/dev/null\n"
    )
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),  # none: the defaults, host key checking on
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    run = subprocess.run(
        [str(playbook), "-i", str(inventory), str(PLAYBOOK), "-e", f"kit={KIT}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {"run": run, "work": work, "hosts": hosts, "devices": device_trio, "device": device}


def test_probe_command_fits_dropbears_limit():
    """The playbook sends the probe (packed as it packs it when 8 KiB or more) as one SSH command:
    dropbear's MAX_CMD_LEN is 9000 bytes. A probe that grows past it breaks Ansible on OpenWrt."""
    import base64
    import gzip

    from kit.probe import render_probe

    probe = render_probe().encode()
    packed = base64.b64encode(gzip.compress(probe, 9))
    assert len(probe) < 8192 or len(packed) + 200 < 9000


def _index(work: Path) -> dict:
    (path,) = (work / "reports").glob("index-*.json")
    return json.loads(path.read_text())


def test_playbook_runs_and_writes_the_index(ansible_run):
    run, work = ansible_run["run"], ansible_run["work"]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    index = _index(work)
    jsonschema.Draft202012Validator(SCHEMA).validate(index)
    names = [Path(d["target"]).name.rsplit("-", 1)[0] for d in index["devices"]]
    assert names == [name for name, _ in ansible_run["hosts"]]
    (html,) = (work / "reports").glob("index-*.html")
    assert html.name in run.stdout  # the last task shows the index paths


def test_reached_devices_render_like_a_collect(ansible_run):
    work, devices = ansible_run["work"], ansible_run["devices"]
    for d in _index(work)["devices"][:3]:
        assert d["error"] is None and d["exit"] == (0 if d["verdict"] == "ok" else 1)
        assert d["hostname"] == devices[0].hostname
        cap_path = (work / "reports" / d["capture"]).resolve()
        assert cap_path.parent == work / "captures" and oct(cap_path.stat().st_mode & 0o777) == "0o600"
        cap = capture_mod.load(cap_path)
        assert not cap.partial and cap.sections["ss"].complete and cap.sections["ss"].rc == 0
        assert (work / "reports" / d["html"]).is_file()
        assert d["totals"]["sockets"] > 0


def test_unreachable_and_rekeyed_hosts_are_failed_with_ansibles_reason(ansible_run):
    work = ansible_run["work"]
    down, rekeyed = _index(work)["devices"][3:]
    assert down["exit"] == 3 and "down" in down["error"] and "Connection refused" in down["error"]
    assert rekeyed["exit"] == 3 and "rekeyed" in rekeyed["error"] and "verification failed" in rekeyed["error"]
    for d in (down, rekeyed):
        assert d["html"] is d["capture"] is d["verdict"] is None and "\n" not in d["error"]
        assert Path(d["target"]).read_text().startswith("KIT-FAILED 1\n")  # the failure note Ansible wrote
