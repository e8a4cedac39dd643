"""Namespace init for the kit test device.

Run by tests/devicelib.py as

    unshare --mount --pid --uts --fork --kill-child --propagation private -- \
        python3 -I nsinit.py --root ROOT [options] -- /usr/sbin/dropbear ARGS...

It is PID 1 of a fresh PID namespace, alone in a private mount namespace and a
private UTS namespace, and still in the host network namespace (so dropbear can
listen on 127.0.0.1). It sets the hostname, mounts the device's own /dev, /proc,
/tmp and /var *inside ROOT and inside this mount namespace only*, applies the
kernel-config tweaks of the variant, then chroots into ROOT and execs the
command (dropbear), which thereby becomes PID 1 of the device. Nothing here
touches a host mount: every mount dies with the namespace.

Standard library only, no third-party imports: this runs with -I before any
test code.
"""

import argparse
import ctypes
import os
import socket
import stat
import sys

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000

# open_tree(2)/move_mount(2) (Linux >= 5.2). The numbers are the same on every
# architecture that uses the generic syscall table, x86_64 and arm64 included.
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4

# Write-only kernel files: open(O_RDONLY) fails with EACCES even for root,
# because procfs sysctl checks the owner bits itself instead of honouring
# CAP_DAC_OVERRIDE. Bound read-only, writing them fails with EROFS, so the
# device cannot trigger them either.
WRITE_ONLY_SYSCTLS = ("sys/vm/compact_memory", "sys/vm/drop_caches")

# Target of the dangling symlink mounted over files that must not exist.
ABSENT_TARGET = "/.hidden-by-kit-testdev"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long


def die(msg):
    print(f"nsinit: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def _check(ret, what):
    if ret < 0:
        err = ctypes.get_errno()
        die(f"{what}: {os.strerror(err)} (errno {err})")
    return ret


def mount(source, target, fstype=None, flags=0, data=None):
    def enc(s):
        return None if s is None else os.fsencode(s)

    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
        f"mount {source!r} on {target!r} ({fstype or 'bind'})",
    )


def bind_readonly(source, target):
    mount(source, target, flags=MS_BIND)
    mount(None, target, flags=MS_BIND | MS_REMOUNT | MS_RDONLY)


def mount_symlink_over(link, target):
    """Mount the symlink `link` itself (not what it points to) over `target`.

    mount(2) always follows a symlink source; open_tree(AT_SYMLINK_NOFOLLOW)
    does not. The kernel only forbids mixing directories with non-directories,
    so a symlink may sit on top of a regular file, including one in /proc.
    """
    fd = _check(
        _libc.syscall(
            SYS_OPEN_TREE, AT_FDCWD, os.fsencode(link), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW
        ),
        f"open_tree {link!r}",
    )
    try:
        _check(
            _libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
            f"move_mount symlink onto {target!r}",
        )
    finally:
        os.close(fd)


def make_dev(root):
    dev = os.path.join(root, "dev")
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=512k")
    for name, major, minor in (
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ):
        path = os.path.join(dev, name)
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(path, 0o666)
    os.mkdir(os.path.join(dev, "pts"), 0o755)
    mount(
        "devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"
    )
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    os.mkdir(os.path.join(dev, "shm"), 0o1777)
    os.chmod(os.path.join(dev, "shm"), 0o1777)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, os.path.join(dev, name))


def inside(root, path):
    return os.path.join(root, path.lstrip("/"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--hostname", required=True)
    ap.add_argument(
        "--unreadable",
        action="append",
        default=[],
        metavar="PATH",
        help="path inside the root to make unreadable (EACCES) even for root",
    )
    ap.add_argument(
        "--absent",
        action="append",
        default=[],
        metavar="PATH",
        help="path inside the root to make resolve to nothing (ENOENT)",
    )
    ap.add_argument(
        "--readonly",
        action="store_true",
        help="after setting up, make the root, /tmp, /var and /dev read-only: "
        "nothing can be written anywhere on the device",
    )
    ap.add_argument(
        "--root-at",
        metavar="DIR",
        help="bind the root at DIR (on a fresh tmpfs over its parent) and work there: "
        "sshd's ChrootDirectory wants every path component root-owned, not writable",
    )
    ap.add_argument(
        "--bind",
        action="append",
        default=[],
        metavar="SRC:DST",
        help="bind SRC over DST in the host view (read-only), e.g. our own /etc/passwd",
    )
    ap.add_argument(
        "--run-tmpfs", action="store_true", help="a fresh /run with /run/sshd (sshd's privilege separation directory)"
    )
    ap.add_argument(
        "--no-chroot", action="store_true", help="exec the command in the host view (sshd chroots the user itself)"
    )
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()

    if os.getpid() != 1:
        die(f"expected to be PID 1 of a new PID namespace, am {os.getpid()}")
    root = os.path.realpath(args.root)
    os.umask(0o022)
    socket.sethostname(args.hostname)

    if args.root_at:
        parent = os.path.dirname(args.root_at.rstrip("/"))
        mount("tmpfs", parent, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        os.mkdir(args.root_at, 0o755)
        mount(root, args.root_at, flags=MS_BIND)
        root = args.root_at
    else:
        # The root becomes a mount of its own, so the device's /proc/mounts shows "/".
        mount(root, root, flags=MS_BIND)
    make_dev(root)
    mount("proc", inside(root, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("tmpfs", inside(root, "/tmp"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m")
    mount("tmpfs", inside(root, "/var"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    for sub, mode in (("run", 0o755), ("log", 0o755), ("tmp", 0o1777)):
        os.mkdir(inside(root, f"/var/{sub}"), mode)
        os.chmod(inside(root, f"/var/{sub}"), mode)

    for path in args.unreadable:
        source = next(
            (inside(root, f"/proc/{p}") for p in WRITE_ONLY_SYSCTLS if os.path.exists(inside(root, f"/proc/{p}"))), None
        )
        if source is None:
            die(f"no write-only sysctl ({', '.join(WRITE_ONLY_SYSCTLS)}) to mask {path}")
        bind_readonly(source, inside(root, path))

    if args.absent:
        link = inside(root, "/dev/.absent")
        os.symlink(ABSENT_TARGET, link)
        for path in args.absent:
            mount_symlink_over(link, inside(root, path))
        os.unlink(link)  # the mounts keep their own reference to it

    # Like container runtimes do: the device may read but not set sysctls,
    # which would otherwise change the host kernel.
    bind_readonly(inside(root, "/proc/sys"), inside(root, "/proc/sys"))

    if args.readonly:
        mount(None, root, flags=MS_BIND | MS_REMOUNT | MS_RDONLY)
        for sub, flags in (
            ("/tmp", MS_NOSUID | MS_NODEV),
            ("/var", MS_NOSUID | MS_NODEV),
            ("/dev", MS_NOSUID | MS_NOEXEC),
        ):
            mount(None, inside(root, sub), "tmpfs", flags | MS_REMOUNT | MS_RDONLY)

    if args.run_tmpfs:
        mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        os.mkdir("/run/sshd", 0o755)
    for pair in args.bind:
        src, _, dst = pair.partition(":")
        if not os.path.lexists(dst):  # e.g. under the fresh /run
            if os.path.isdir(src):
                os.mkdir(dst, 0o755)
            else:
                open(dst, "w").close()
        bind_readonly(src, dst)

    if args.no_chroot:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        try:
            os.execve(args.command[0], args.command, env)
        except OSError as exc:
            die(f"exec {args.command[0]}: {exc}")

    os.chroot(root)
    os.chdir("/")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    try:
        os.execve(args.command[0], args.command, env)
    except OSError as exc:
        die(f"exec {args.command[0]} inside the root: {exc}")


if __name__ == "__main__":
    main()
