"""ssh_config and flags resolve once into a Target (flags over ssh_config over defaults); real logins by alias."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from kit.errors import UsageError
from kit.transport.sshconfig import Flags, parse_hop, resolve

pytestmark = pytest.mark.device


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """$HOME is tmp_path: paramiko expands ~ in IdentityFile with it, kit with Path.home()."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------- resolution (no network)


def test_alias_pattern_and_first_value_wins(tmp_path):
    cfg = write_config(
        tmp_path,
        """
Host router
    HostName 10.0.0.1
    User admin
    Port 2222
    IdentityFile ~/keys/router
Host rou*
    User ignored
    IdentityFile ~/keys/generic
    ConnectTimeout 7
    StrictHostKeyChecking accept-new
    UserKnownHostsFile ~/kh/routers
Host *
    Port 22
""",
    )
    t = resolve("router", Flags(config=cfg))
    assert (t.host, t.port, t.user, t.alias) == ("10.0.0.1", 2222, "admin", "router")
    assert t.key_files == (tmp_path / "keys/router", tmp_path / "keys/generic")
    assert t.connect_timeout == 7.0 and t.accept_new
    assert t.known_hosts == tmp_path / "kh/routers"
    assert t.known_hosts_name == "[10.0.0.1]:2222"


def test_flags_beat_ssh_config_and_user_at_beats_config(tmp_path):
    cfg = write_config(tmp_path, "Host r\n HostName 10.0.0.1\n User admin\n Port 2222\n ConnectTimeout 7\n")
    t = resolve("op@r", Flags(config=cfg, port=22, timeout=3, identity=(Path("/k"),), known_hosts=Path("/kh")))
    assert (t.user, t.port, t.connect_timeout, t.known_hosts) == ("op", 22, 3, Path("/kh"))
    assert t.key_files[0] == Path("/k") and t.key_files_required == (Path("/k"),)
    assert resolve("r", Flags(config=cfg, user="x")).user == "x"  # -l


def test_defaults_without_config(tmp_path):
    t = resolve("192.0.2.7", Flags(config="none"))
    assert (t.host, t.port, t.user, t.connect_timeout, t.accept_new) == (
        "192.0.2.7",
        22,
        getpass.getuser(),
        15.0,
        False,
    )
    assert t.known_hosts == tmp_path / ".ssh/known_hosts"
    assert [p.name for p in t.key_files] == ["id_ed25519", "id_ecdsa", "id_rsa", "id_dsa"]
    assert t.jump is None and not t.legacy


def test_default_config_is_home_ssh_config(tmp_path):
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh/config").write_text("Host r\n HostName 10.9.9.9\n")
    assert resolve("r", Flags()).host == "10.9.9.9"


def test_include_globs_relative_to_home_ssh_and_nested(tmp_path):
    ssh = tmp_path / ".ssh"
    (ssh / "config.d").mkdir(parents=True)
    (ssh / "config").write_text("Include config.d/*.conf\nHost *\n User fallback\n")
    (ssh / "config.d" / "10-lab.conf").write_text("Host lab-*\n User labadmin\n Include ~/.ssh/ports\n")
    (ssh / "ports").write_text(" Port 2200\n")
    (ssh / "config.d" / "20-edge.conf").write_text("Host edge\n HostName 10.1.1.1\n")
    lab = resolve("lab-7", Flags())
    assert (lab.user, lab.port) == ("labadmin", 2200)
    edge = resolve("edge", Flags())
    assert (edge.host, edge.user, edge.port) == ("10.1.1.1", "fallback", 22)


def test_include_loop_is_a_usage_error(tmp_path):
    cfg = tmp_path / "loop"
    cfg.write_text(f"Include {cfg}\n")
    with pytest.raises(UsageError, match="Include nested"):
        resolve("x", Flags(config=str(cfg)))


@pytest.mark.parametrize("value, accept", [("yes", False), ("ask", False), ("accept-new", True), ("no", True)])
def test_strict_host_key_checking(tmp_path, value, accept):
    cfg = write_config(tmp_path, f"Host *\n StrictHostKeyChecking {value}\n")
    assert resolve("h", Flags(config=cfg)).accept_new is accept


def test_proxyjump_chain_and_minus_j_override(tmp_path):
    cfg = write_config(
        tmp_path,
        """
Host inner
    HostName 10.1.1.1
    ProxyJump jumpuser@bastion:2200,mid
Host mid
    HostName 10.0.0.2
    User miduser
Host bastion
    HostName 198.51.100.1
    ProxyJump none
""",
    )
    t = resolve("inner", Flags(config=cfg))
    assert (t.jump.host, t.jump.user) == ("10.0.0.2", "miduser")
    assert (t.jump.jump.host, t.jump.jump.port, t.jump.jump.user) == ("198.51.100.1", 2200, "jumpuser")
    assert t.jump.jump.jump is None
    assert resolve("inner", Flags(config=cfg, jump="none")).jump is None
    other = resolve("inner", Flags(config=cfg, jump="j@[2001:db8::1]:2022"))
    assert (other.jump.host, other.jump.port, other.jump.user) == ("2001:db8::1", 2022, "j")


def test_proxyjump_loop_is_a_usage_error(tmp_path):
    cfg = write_config(tmp_path, "Host a\n ProxyJump b\nHost b\n ProxyJump a\n")
    with pytest.raises(UsageError, match="jump hosts"):
        resolve("a", Flags(config=cfg))


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("h", (None, "h", None)),
        ("u@h:2", ("u", "h", 2)),
        ("ssh://u@h:22", ("u", "h", 22)),
        ("[::1]:2200", (None, "::1", 2200)),
        ("u@fe80::1", ("u", "fe80::1", None)),
    ],
)
def test_parse_hop(spec, expected):
    assert parse_hop(spec) == expected


def test_missing_config_file_and_known_hosts_none(tmp_path):
    with pytest.raises(UsageError, match="no such ssh_config"):
        resolve("h", Flags(config=str(tmp_path / "nope")))
    cfg = write_config(tmp_path, "Host *\n UserKnownHostsFile /dev/null\n")
    with pytest.raises(UsageError, match="always checks host keys"):
        resolve("h", Flags(config=cfg))


# ---------------------------------------------------------------- real logins through ssh_config


def test_collect_by_alias_with_everything_from_ssh_config(device, tmp_path, kit_collect):
    known = tmp_path / "kh"
    cfg = write_config(
        tmp_path,
        f"""
Host testdev
    HostName {device.host}
    Port {device.port}
    User support
    IdentityFile {device.user_key}
    UserKnownHostsFile {known}
    StrictHostKeyChecking accept-new
    ConnectTimeout 5
""",
    )
    run = kit_collect("testdev", "-F", cfg)
    assert run.code in (0, 1), run
    assert known.read_text().split()[:2] == [f"[{device.host}]:{device.port}", "ssh-ed25519"]
    header = run.capture.read_bytes().split(b"\n")[1]
    assert b'"target": "support@127.0.0.1:' in header
    assert b"uid=1000(support)" in run.capture.read_bytes()
    # Now known: StrictHostKeyChecking yes is enough.
    cfg2 = write_config(tmp_path, Path(cfg).read_text().replace("accept-new", "yes"))
    assert kit_collect("testdev", "-F", cfg2).code in (0, 1)


def test_config_proxyjump_through_the_device_itself(device, tmp_path, kit_collect):
    cfg = write_config(
        tmp_path,
        f"""
Host target
    HostName {device.host}
    Port {device.port}
    User root
    ProxyJump jumper
Host jumper
    HostName {device.host}
    Port {device.port}
    User support
    IdentityFile {device.user_key}
""",
    )
    run = kit_collect("target", "-F", cfg, "-i", device.root_key, "--known-hosts", device.known_hosts)
    assert run.code in (0, 1), run
    log = Path(device.log).read_text()
    assert "support" in log  # the jump logged in as the config's user
