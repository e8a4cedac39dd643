"""A real test device: Debian's dropbear serving a busybox-only root.

    dev = start_device(tmp_path, with_ss=True, kconfig="readable")
    ...  # ssh root@127.0.0.1 -p dev.port, known hosts in dev.known_hosts
    stop_device(dev)

The device is dropbear listening on 127.0.0.1:<free port>, chrooted into a
root file system built from Debian packages only:

* busybox-static as /bin/busybox plus its applet symlinks (what
  `busybox --install -s` makes), so /bin/sh is busybox ash;
* /usr/sbin/dropbear and the shared libraries `ldd` lists for it;
* optionally iproute2's ss as /bin/ss with the libraries it needs;
* /etc/passwd, /etc/shadow (sha512-crypt hashes), /etc/group, /etc/shells,
  an ed25519 host key made by dropbearkey, authorized_keys for root and for
  the unprivileged user "support" (uid 1000).

No bash, no python, no sftp-server. It runs under
`unshare --mount --pid --uts --fork` (tests/device/nsinit.py does the mounts
and execs dropbear as PID 1 of the namespace) in the host network namespace.

Kernel config variants (kconfig=):
  "readable"    the host's /proc/config.gz, seen through the device's own
                /proc (or, if the host kernel has none, the host's
                /boot/config-$(uname -r) copied to the device's /boot).
  "unreadable"  /proc/config.gz exists but open() fails with EACCES, even for
                root: a write-only kernel file is bind-mounted (read-only) over
                it inside the device's mount namespace. No /boot config.
  "none"        /proc/config.gz cannot be hidden from a procfs listing, so a
                dangling symlink is mounted over it: open(), stat() and
                `test -e` say "No such file or directory", only `ls -l /proc`
                still shows the name (as a symlink). No /boot config.

Needs root (namespaces, mounts, chroot) and Debian packages; ensure_packages()
installs them when running as root. Everything lives under `workdir`; root
file systems and credentials are cached there per variant.

Processes are started and stopped by tests/servers.py; OpenSSH's sshd on the
same root is tests/sshdlib.py.

Standard library only (no pytest), so scripts can use it too.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from servers import _RUNNING, HOST, _children, _launch, _pidns, _Running, _stop

HOSTNAME = "kit-testdev"
USER = "support"
USER_UID = 1000
KCONFIG_VARIANTS = ("readable", "unreadable", "none")

NSINIT = Path(__file__).resolve().parent / "device" / "nsinit.py"
HOSTKEY_IN_ROOT = "/etc/dropbear/dropbear_ed25519_host_key"
SS_IN_ROOT = "/bin/ss"
DROPBEAR = "/usr/sbin/dropbear"

# Debian package -> a file it must provide.
PACKAGES = {
    "dropbear-bin": "/usr/sbin/dropbear",
    "busybox-static": "/bin/busybox",
    "iproute2": "/bin/ss",
    "openssh-client": "/usr/bin/ssh-keygen",
}


@dataclass(frozen=True)
class Device:
    host: str  # "127.0.0.1"
    port: int
    root_password: str
    root_key: Path  # OpenSSH-format ed25519 private key, mode 600
    user: str  # "support"
    user_password: str
    user_key: Path
    host_key_sha256: str  # "SHA256:..." as OpenSSH prints it
    known_hosts: Path  # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
    rootfs: Path
    pid: int  # host PID of the unshare process owning the device
    # Not part of the original brief; handy for tests and error messages.
    with_ss: bool = True
    kconfig: str = "readable"
    log: Path | None = None  # dropbear's stderr (-E) and nsinit's messages
    hostname: str = HOSTNAME
    ss_path: str = SS_IN_ROOT  # where ss lives on the device (e.g. /usr/sbin/ss, off a user's PATH)
    readonly: bool = False  # root, /tmp, /var and /dev mounted read-only
    workdir: Path | None = None


# --------------------------------------------------------------------------
# packages

_apt_updated = False


def _missing_packages(packages: dict | None = None) -> list[str]:
    missing = []
    for pkg, path in (packages or PACKAGES).items():
        res = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg], capture_output=True, text=True)
        if not res.stdout.startswith("ii") or not os.path.exists(path):
            missing.append(pkg)
    return missing


def ensure_packages(packages: dict | None = None) -> None:
    """Install the Debian packages the device is built from, when missing.

    As root: `apt-get update` (once per process) and `apt-get install -y`.
    Otherwise raise RuntimeError naming the packages.
    """
    global _apt_updated
    if shutil.which("dpkg-query") is None:
        raise RuntimeError("the test device needs a Debian system (no dpkg-query found)")
    missing = _missing_packages(packages)
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(
            f"test device needs Debian packages {' '.join(missing)}; as root run: "
            f"apt-get update && apt-get install -y {' '.join(missing)}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = Path(tempfile.gettempdir()) / "kit-tests-apt.lock"
    with open(lock, "w") as lockf:  # parallel test workers: one apt at a time
        fcntl.flock(lockf, fcntl.LOCK_EX)
        missing = _missing_packages(packages)
        if not missing:
            return
        steps = [["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=300", *missing]]
        if not _apt_updated:
            steps.insert(0, ["apt-get", "update"])
        for cmd in steps:
            res = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{(res.stdout + res.stderr)[-3000:]}")
            if cmd[1] == "update":
                _apt_updated = True
    still = _missing_packages(packages)
    if still:
        raise RuntimeError(f"packages still missing after apt-get install: {still}")


# --------------------------------------------------------------------------
# credentials (shared by all devices of one workdir)


def _run(cmd, **kw) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({res.returncode}): {res.stdout}{res.stderr}")
    return res.stdout


def _crypt_sha512(password: str) -> str:
    out = _run(["busybox", "mkpasswd", "-m", "sha512", password]).strip()
    if not out.startswith("$6$"):
        raise RuntimeError(f"busybox mkpasswd gave no sha512-crypt hash: {out!r}")
    return out


def _credentials(workdir: Path) -> dict:
    cdir = workdir / "creds"
    meta = cdir / "creds.json"
    if meta.exists():
        return json.loads(meta.read_text())
    tmp = Path(tempfile.mkdtemp(prefix="creds.", dir=workdir))
    creds = {}
    for who in ("root", USER):
        key = tmp / f"{who}_ed25519"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{who}@kit-tests", "-f", str(key)])
        password = f"kit-{who}-{secrets.token_hex(6)}"
        creds[who] = {
            "key": str(cdir / key.name),
            "pub": (tmp / f"{key.name}.pub").read_text().strip(),
            "password": password,
            "hash": _crypt_sha512(password),
        }
    (tmp / "creds.json").write_text(json.dumps(creds, indent=1))
    try:
        tmp.rename(cdir)
    except OSError:  # someone else won the race; use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return json.loads(meta.read_text())


# --------------------------------------------------------------------------
# root file system


def _host_kconfig() -> tuple[bool, Path | None]:
    """(host has /proc/config.gz, host /boot config or None)."""
    boot = Path(f"/boot/config-{platform.release()}")
    return Path("/proc/config.gz").exists(), (boot if boot.is_file() else None)


def _libraries(binary: str) -> list[str]:
    """Paths of the shared objects `ldd` says `binary` loads (incl. ld.so)."""
    libs = []
    for line in _run(["ldd", binary]).splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m.group(1))
    if not libs:
        raise RuntimeError(f"ldd {binary}: no libraries found")
    return libs


def _install(src: str, root: Path, dest: str, mode: int = 0o755) -> None:
    target = root / dest.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(os.path.realpath(src), target)
    os.chmod(target, mode)


def _write(root: Path, dest: str, text: str, mode: int = 0o644, uid: int = 0) -> None:
    target = root / dest.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    os.chmod(target, mode)
    os.chown(target, uid, uid)


def _build_rootfs(root: Path, *, with_ss: bool, kconfig: str, creds: dict, ss_path: str = SS_IN_ROOT) -> None:
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "lib",
        "lib64",
        "etc/dropbear",
        "proc",
        "sys",
        "dev",
        "tmp",
        "var",
        "boot",
        "home",
        "mnt",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(root / "tmp", 0o1777)

    busybox = shutil.which("busybox", path="/bin:/usr/bin")
    _install(busybox, root, "/bin/busybox")
    for applet in _run([busybox, "--list-full"]).split():
        link = root / applet
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")  # what `busybox --install -s` makes

    binaries = {DROPBEAR: DROPBEAR}
    if with_ss:
        binaries[shutil.which("ss", path="/usr/bin:/bin:/usr/sbin:/sbin")] = ss_path
    for src, dest in binaries.items():
        _install(src, root, dest)
        for lib in _libraries(src):
            _install(lib, root, lib)

    if kconfig == "readable" and not _host_kconfig()[0]:
        boot = _host_kconfig()[1]
        if boot is None:
            raise RuntimeError(
                "kconfig='readable' impossible: the host kernel has no "
                f"/proc/config.gz and there is no /boot/config-{platform.release()}"
            )
        _install(str(boot), root, str(boot), 0o644)
    if kconfig == "unreadable" and not _host_kconfig()[0]:
        # Nothing in /proc to mask: make an unreadable /boot config instead.
        _write(root, f"/boot/config-{platform.release()}", "")

    r, u = creds["root"], creds[USER]
    _write(
        root,
        "/etc/passwd",
        f"root:x:0:0:root:/root:/bin/sh\n{USER}:x:{USER_UID}:{USER_UID}:{USER}:/home/{USER}:/bin/sh\n",
    )
    _write(root, "/etc/shadow", f"root:{r['hash']}:19000:0:99999:7:::\n{USER}:{u['hash']}:19000:0:99999:7:::\n", 0o600)
    _write(root, "/etc/group", f"root:x:0:\ntty:x:5:\n{USER}:x:{USER_UID}:\n")
    _write(root, "/etc/shells", "/bin/sh\n/bin/ash\n")
    _write(root, "/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n")
    _write(root, "/etc/hostname", f"{HOSTNAME}\n")
    _write(root, "/etc/hosts", f"127.0.0.1\tlocalhost {HOSTNAME}\n")
    _write(root, "/etc/profile", "export PS1='\\h:\\w\\$ '\n")

    (root / "root").mkdir(mode=0o700, exist_ok=True)
    os.chmod(root / "root", 0o700)
    _write(root, "/root/.ssh/authorized_keys", r["pub"] + "\n", 0o600)
    os.chmod(root / "root/.ssh", 0o700)
    home = root / "home" / USER
    _write(root, f"/home/{USER}/.ssh/authorized_keys", u["pub"] + "\n", 0o600, USER_UID)
    for d, mode in ((home, 0o755), (home / ".ssh", 0o700)):
        os.chmod(d, mode)
        os.chown(d, USER_UID, USER_UID)

    _run(["dropbearkey", "-t", "ed25519", "-f", str(root / HOSTKEY_IN_ROOT.lstrip("/"))])


def _rootfs(workdir: Path, *, with_ss: bool, kconfig: str, creds: dict, ss_path: str = SS_IN_ROOT) -> Path:
    """The cached root for this variant, built on first use."""
    where = "" if ss_path == SS_IN_ROOT else "-" + ss_path.strip("/").replace("/", "")
    name = f"{'ss' if with_ss else 'noss'}{where if with_ss else ''}-{kconfig}"
    root = workdir / "rootfs" / name
    if root.exists():  # only ever appears complete, by rename
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=root.parent))
    try:
        _build_rootfs(tmp, with_ss=with_ss, kconfig=kconfig, creds=creds, ss_path=ss_path)
        try:
            tmp.rename(root)
        except OSError:
            if not root.exists():
                raise  # else another process built it first: use theirs
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def _host_public_key(root: Path) -> str:
    out = _run(["dropbearkey", "-y", "-f", str(root / HOSTKEY_IN_ROOT.lstrip("/"))])
    for line in out.splitlines():
        if line.startswith("ssh-"):
            return " ".join(line.split()[:2])
    raise RuntimeError(f"dropbearkey -y printed no public key:\n{out}")


def _sha256_fingerprint(public_key: str) -> str:
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def nsinit_argv(unshare: str, root: Path) -> list[str]:
    """The start of a command line that runs a server as PID 1 of new mount, PID and UTS namespaces
    (tests/device/nsinit.py) in `root`, named HOSTNAME: nsinit's own options and the server's argv follow."""
    return [
        unshare,
        "--mount",
        "--pid",
        "--uts",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-I",
        str(NSINIT),
        "--root",
        str(root),
        "--hostname",
        HOSTNAME,
    ]


def start_device(
    workdir: Path,
    *,
    with_ss: bool = True,
    kconfig: str = "readable",
    ss_path: str = SS_IN_ROOT,
    readonly: bool = False,
    port: int | None = None,
) -> Device:
    """Build (or reuse) the variant's root under `workdir` and start dropbear on it.

    ss_path: where ss is installed (/usr/sbin/ss is off a non-root user's PATH).
    readonly: mount the root, /tmp, /var and /dev read-only (nothing writable).
    port: listen on this port (to restart a device where it was, e.g. re-keyed).

    Returns once dropbear's SSH banner arrived; raises RuntimeError (with the
    device's log) if that does not happen within START_TIMEOUT seconds.
    """
    if kconfig not in KCONFIG_VARIANTS:
        raise ValueError(f"kconfig must be one of {KCONFIG_VARIANTS}, not {kconfig!r}")
    if os.geteuid() != 0:
        raise RuntimeError(f"the test device needs root (unshare, mount, chroot); running as uid {os.geteuid()}")
    ensure_packages()
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("unshare (util-linux) not found")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    creds = _credentials(workdir)
    root = _rootfs(workdir, with_ss=with_ss, kconfig=kconfig, creds=creds, ss_path=ss_path)
    host_key = _host_public_key(root)

    has_proc_config = _host_kconfig()[0]
    tweaks = []
    if kconfig == "unreadable":
        tweaks = ["--unreadable", "/proc/config.gz" if has_proc_config else f"/boot/config-{platform.release()}"]
    elif kconfig == "none" and has_proc_config:
        tweaks = ["--absent", "/proc/config.gz"]
    if readonly:
        tweaks.append("--readonly")

    def command(port: int) -> list[str]:
        return [
            *nsinit_argv(unshare, root),
            *tweaks,
            "--",
            DROPBEAR,
            "-F",
            "-E",
            "-p",
            f"{HOST}:{port}",
            "-r",
            HOSTKEY_IN_ROOT,
            "-P",
            "/dev/null" if readonly else "/var/run/dropbear.pid",
        ]

    proc, port, log = _launch(
        command, lambda port: workdir / f"device-{root.name}-{port}.log", port, f"test device ({root.name})"
    )

    inits = _children(proc.pid)
    pidns = _pidns(inits[0]) if inits else None
    if pidns is None or pidns == _pidns(os.getpid()):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"test device: dropbear is not in a PID namespace of its own (children {inits}, ns {pidns})")
    _RUNNING[proc.pid] = _Running(proc, pidns)

    known_hosts = workdir / f"known_hosts-{port}"
    known_hosts.write_text(f"[{HOST}]:{port} {host_key}\n")
    return Device(
        host=HOST,
        port=port,
        root_password=creds["root"]["password"],
        root_key=Path(creds["root"]["key"]),
        user=USER,
        user_password=creds[USER]["password"],
        user_key=Path(creds[USER]["key"]),
        host_key_sha256=_sha256_fingerprint(host_key),
        known_hosts=known_hosts,
        rootfs=root,
        pid=proc.pid,
        with_ss=with_ss,
        kconfig=kconfig,
        log=log,
        hostname=HOSTNAME,
        ss_path=ss_path,
        readonly=readonly,
        workdir=workdir,
    )


def stop_device(dev: Device) -> None:
    """Stop the device and everything in its PID namespace; idempotent.

    SIGTERM to dropbear (PID 1 of the device), SIGKILL if it takes over 5 s;
    wait for the unshare process, then check that nothing is left in the
    device's PID namespace.
    """
    _stop(dev.pid, _RUNNING.pop(dev.pid, None))


# --------------------------------------------------------------------------
# helpers for transport tests


def authorize(dev: Device, public_key: str, who: str = "root") -> None:
    """Append `public_key` (one OpenSSH line) to `who`'s authorized_keys on the device."""
    home = dev.rootfs / ("root" if who == "root" else f"home/{who}")
    with open(home / ".ssh" / "authorized_keys", "a") as fh:
        fh.write(public_key.strip() + "\n")


def rekey_device(dev: Device) -> Device:
    """Stop `dev`, give its root a new host key, start it again on the same port.

    The root is shared by every device of the variant in the same workdir: use
    a workdir of its own for a device you re-key.
    """
    stop_device(dev)
    key = dev.rootfs / HOSTKEY_IN_ROOT.lstrip("/")
    key.unlink()
    _run(["dropbearkey", "-t", "ed25519", "-f", str(key)])
    for _ in range(50):
        try:
            return start_device(
                dev.workdir,
                with_ss=dev.with_ss,
                kconfig=dev.kconfig,
                ss_path=dev.ss_path,
                readonly=dev.readonly,
                port=dev.port,
            )
        except RuntimeError as exc:
            if "no free port" not in str(exc):
                raise
            time.sleep(0.1)
    raise RuntimeError(f"could not restart the device on port {dev.port}")


def root_target(dev):
    """kit's SSH Target for root on a test device (or the MIPS router) by key, no agent: what kit_args says, in-process."""
    from kit.transport.sshconfig import Target

    return Target(
        host=dev.host,
        port=dev.port,
        user="root",
        key_files=(dev.root_key,),
        known_hosts=dev.known_hosts,
        use_agent=False,
    )


def kit_args(dev, who: str = "root", key: bool = True) -> list:
    """`kit collect` flags to reach a test device (or sshd) as `who`, by key."""
    args = [f"{who}@{dev.host}", "-p", str(dev.port), "--known-hosts", str(dev.known_hosts)]
    if key:
        args += ["-i", str(getattr(dev, "root_key", None) if who == "root" else dev.user_key)]
    return args
