"""Shared fixtures.

Test devices (see devicelib.py) are session-scoped and started lazily: a
session that never asks for `device` never starts dropbear. If a device cannot
be started the test is skipped, or fails when CI=true.
"""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devicelib  # noqa: E402
import sshdlib
from support import unavailable  # noqa: E402

# ---------------------------------------------------------------- isolation


@pytest.fixture(scope="session", autouse=True)
def no_user_ssh_config(tmp_path_factory):
    """Keep the developer's ~/.ssh (config, keys, known_hosts) and agent out.

    Like fabric's fixture of that name: paramiko and kit look in $HOME/.ssh
    and at $SSH_AUTH_SOCK, so point HOME at an empty home and drop the agent.
    (OpenSSH's own ssh reads the passwd home, not $HOME: pass it -F/-o
    UserKnownHostsFile explicitly.)
    """
    home = tmp_path_factory.mktemp("home")
    (home / ".ssh").mkdir(mode=0o700)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.delenv("SSH_AUTH_SOCK", raising=False)
        yield home


# ---------------------------------------------------------------- devices


class DevicePool:
    """Starts each device variant once, on first request; stops all at the end."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._devices = {}

    def get(
        self, *, with_ss=True, kconfig="readable", ss_path=devicelib.SS_IN_ROOT, readonly=False
    ) -> devicelib.Device:
        key = (with_ss, kconfig, ss_path, readonly)
        return self._get(
            key,
            lambda: devicelib.start_device(
                self.workdir, with_ss=with_ss, kconfig=kconfig, ss_path=ss_path, readonly=readonly
            ),
        )

    def sshd(self, mode: str) -> sshdlib.Sshd:
        """A real OpenSSH sshd (sshdlib.SSHD_MODES), started once per session."""
        return self._get(("sshd", mode), lambda: sshdlib.start_sshd(self.workdir, mode=mode))

    def _get(self, key, start):
        if key not in self._devices:
            try:
                self._devices[key] = start()
            except Exception as exc:  # anything: missing root, packages, timeout
                self._devices[key] = exc
        found = self._devices[key]
        if isinstance(found, Exception):
            reason = f"test device {key} unavailable: {found}"
            unavailable(reason)
        return found

    def close(self):
        errors = []
        for found in self._devices.values():
            if isinstance(found, (devicelib.Device, sshdlib.Sshd)):
                try:
                    if isinstance(found, sshdlib.Sshd):
                        sshdlib.stop_sshd(found)
                    else:
                        devicelib.stop_device(found)
                except Exception as exc:
                    errors.append(exc)
        self._devices.clear()
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def device_pool(tmp_path_factory):
    pool = DevicePool(tmp_path_factory.mktemp("devices"))
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def device_trio(tmp_path_factory):
    """Three default devices at once, one per port (one root, so one host key), for fleet tests."""
    workdir = tmp_path_factory.mktemp("trio")
    started = []
    try:
        for _ in range(3):
            started.append(devicelib.start_device(workdir))
    except Exception as exc:  # anything: missing root, packages, timeout
        for dev in started:
            devicelib.stop_device(dev)
        unavailable(f"three test devices unavailable: {exc}")
    yield started
    for dev in started:
        devicelib.stop_device(dev)


@pytest.fixture(scope="session")
def device(device_pool):
    """Default device: ss present, /proc/config.gz readable."""
    return device_pool.get()


@pytest.fixture(scope="session")
def device_no_ss(device_pool):
    return device_pool.get(with_ss=False)


@pytest.fixture(scope="session")
def device_config_unreadable(device_pool):
    return device_pool.get(kconfig="unreadable")


@pytest.fixture(scope="session")
def device_config_none(device_pool):
    return device_pool.get(kconfig="none")


@pytest.fixture(scope="session")
def device_usr_sbin_ss(device_pool):
    """ss in /usr/sbin: off the PATH dropbear gives the non-root user."""
    return device_pool.get(ss_path="/usr/sbin/ss")


@pytest.fixture(scope="session")
def device_readonly(device_pool):
    """Root, /tmp, /var and /dev read-only: a probe that writes anything fails here."""
    return device_pool.get(readonly=True)


@pytest.fixture(scope="session")
def sshd_legacy(device_pool):
    """OpenSSH sshd offering only ssh-rsa, SHA-1 DH groups, aes128-cbc, hmac-sha1."""
    return device_pool.sshd("legacy")


@pytest.fixture(scope="session")
def sshd_rsa_sha1(device_pool):
    """OpenSSH sshd with modern key exchange that verifies RSA user keys only as ssh-rsa (SHA-1), like old dropbear."""
    return device_pool.sshd("rsa_sha1")


@pytest.fixture(scope="session")
def sshd_kbdint(device_pool):
    """OpenSSH sshd that accepts only keyboard-interactive (PAM)."""
    return device_pool.sshd("kbdint")


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, for tests that open reports and index pages (tests/render/cdp.py)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        unavailable("Debian's chromium is not installed")
    return path


# ---------------------------------------------------------------- running kit


class KitRun:
    """What one `kit collect` did: exit code, stdout lines, stderr text."""

    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out.splitlines(), err

    @property
    def capture(self) -> Path:
        return Path(self.out[0])

    def __repr__(self):
        return f"KitRun(code={self.code}, out={self.out}, err={self.err!r})"


@pytest.fixture
def kit_collect(tmp_path, capsys):
    """kit_collect(*argv) runs `kit collect *argv --captures ... --reports ...` in-process.

    ssh_config is off (-F none) unless the test passes -F; captures and
    reports go under tmp_path.
    """
    from kit.cli import main

    def run(*argv, captures=None) -> KitRun:
        args = [
            "collect",
            *map(str, argv),
            "--captures",
            str(captures or tmp_path / "captures"),
            "--reports",
            str(tmp_path / "reports"),
        ]
        if "-F" not in args:
            args += ["-F", "none"]
        capsys.readouterr()
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's usage exit
            code = exc.code
        out, err = capsys.readouterr()
        return KitRun(code, out, err)

    return run
