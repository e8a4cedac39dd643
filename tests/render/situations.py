"""Create real socket situations in a fresh network namespace, run the real probe, save the capture.

Run by tests/render/conftest.py as

    unshare --net --uts --mount -- PYTHON situations.py OUT.cap [--hostname NAME] [--user NAME] [--no-ss]
        [--samples N --every SECONDS] SITUATION...
    PYTHON situations.py --hold leak cwpile        (growing situations only, for a kit collect of the caller's)

Alone in its network namespace, the probe's `ss -napm` sees only the sockets
made here (and /proc/net/snmp counts only their drops), so other tests on the
machine cannot leak into what we assert; the UTS namespace lets us give the
"device" a hostile hostname, and the private mount namespace lets --no-ss
hide ss (a bind mount of /dev/null over it: exec fails, as on firmware
without iproute2's ss). --user runs the probe as that user (setpriv), as a
non-root login would. Each situation runs in a forked child that names
itself with prctl(PR_SET_NAME) (ss prints that comm), builds its sockets,
reports ready on a pipe, and sleeps until the probe has run (a growing
situation keeps growing instead). With --samples N the probe runs N times,
SECONDS apart, and writes OUT-1.cap ... OUT-N.cap: a series for kit diff
and kit trend.

Situations:
  idle       a TCP listener, a UDP socket and a unix listener nobody talks to
  noread     a TCP receiver that never reads (small SO_RCVBUF), sender blocked
  udpdrop    a UDP socket with a small SO_RCVBUF flooded with datagrams
  closewait  the peer sent data and closed; the receiver neither reads nor closes
  acceptq    listen(1), several connects, no accept(): a full accept queue
  hostile    processes named with markup, bidi and escapes; unix sockets bound to markup paths
  shared     a TCP connection with unread data whose socket two processes share (fork after accept)
  many=N     N sockets at least: unix socket pairs and 2000 TCP connections (the 100k-socket report)
  addresses  a TCP connection between two non-loopback addresses and an IPv6 listener (for --redact)
  leak       growing: a TCP receiver that never reads while its sender keeps writing
  cwpile     growing: a server ("cwpile") that never reads nor closes; every step one more peer sends and
             closes, so CLOSE-WAIT sockets holding unread data pile up
  udpflood   growing: a UDP socket whose full buffer keeps being sent datagrams (Udp RcvbufErrors grows)
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1

HOSTILE_NAMES = ("<b>x</b>\"'&", "<img src=x>", "<script>x", "\u202eevil\x1b[2J")
HOSTILE_PATHS = ("<script>alert(1)</script>", "\"'&amp;\u202etxt.sock")
HOSTILE_ABSTRACT = "<img src=x onerror=alert(1)>"

_libc = ctypes.CDLL(None, use_errno=True)


def set_name(name: str) -> None:
    raw = name.encode("utf-8")[:15]
    if _libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")


def listener(port: int = 0, backlog: int = 16, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def idle(keep: list) -> None:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", 2222))
    tcp.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 5353))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0kit-idle")
    unix.listen(4)
    keep += [tcp, udp, unix]


def noread(keep: list) -> None:
    lst = listener(rcvbuf=32768)
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    client.setblocking(False)
    chunk = b"n" * 65536
    quiet_since = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.send(chunk)
            quiet_since = None
        except BlockingIOError:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.5:
                break
            time.sleep(0.02)
    # A unix pair with unread data too: ss prints its users:(( before skmem on the same row,
    # where the awk one-liner's field 2 is not r (the glossary's pitfall).
    a, b = socket.socketpair()
    a.sendall(b"x" * 5000)
    keep += [lst, client, server, a, b]


def udpdrop(keep: list) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(300):
        tx.sendto(b"u" * 1200, rx.getsockname())
    keep += [rx, tx]


def closewait(keep: list) -> None:
    lst = listener()
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    client.sendall(b"c" * 5000)
    client.close()
    time.sleep(0.2)  # let the FIN arrive: server goes CLOSE-WAIT
    keep += [lst, server]


def acceptq(keep: list) -> None:
    lst = listener(backlog=1)
    clients = []
    for _ in range(4):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(lst.getsockname())
        except BlockingIOError:
            pass
        clients.append(c)
    time.sleep(0.5)  # handshakes complete into the accept queue until it is full
    keep += [lst, *clients]


def hostile(keep: list, name: str, tmp: str, index: int) -> None:
    if index == 0:
        for rel in HOSTILE_PATHS:
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.listen(1)
            keep.append(s)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("\0" + HOSTILE_ABSTRACT)
        keep.append(s)
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    t.listen(1)
    keep.append(t)


def shared(keep: list) -> None:
    lst = listener()
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    client.sendall(b"s" * 3000)
    keep += [lst, client, server]
    if os.fork() == 0:  # the second owner: same sockets, dies with its parent
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        signal.pause()
        os._exit(0)
    time.sleep(0.1)


PER_PROCESS = 18000  # sockets per child: under a 20000 open-files hard limit (no CAP_SYS_RESOURCE needed)


def many(keep: list, n: int, tcp: int = 0) -> None:
    """n sockets in this process: `tcp` loopback connections (every tenth holding data), then unix pairs."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    lst = listener(backlog=4096)
    keep.append(lst)
    for i in range(tcp):
        c = socket.create_connection(lst.getsockname())
        server, _ = lst.accept()
        if i % 10 == 0:
            c.send(b"m" * 1000)  # some memory to rank by
        keep += [c, server]
    for _ in range(max(0, n - 1 - 2 * tcp) // 2):
        keep += socket.socketpair()


ADDRESSES = ("10.23.45.67", "10.23.45.68", "2001:db8::7")


def addresses(keep: list) -> None:
    for addr in ADDRESSES:
        extra = ["nodad"] if ":" in addr else []
        subprocess.run(["ip", "addr", "add", addr, "dev", "lo", *extra], check=True)
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind((ADDRESSES[0], 8080))
    lst.listen(4)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.bind((ADDRESSES[1], 0))
    client.connect((ADDRESSES[0], 8080))
    server, _ = lst.accept()
    six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    six.bind((ADDRESSES[2], 8443))
    six.listen(4)
    keep += [lst, client, server, six]


LEAK_CHUNK = 16384  # bytes the leak's sender writes per step
GROW_STEP = 0.25  # seconds between steps of a growing situation
CWPILE_BYTES = 5000  # what each cwpile peer sends before it closes


def leak(keep: list) -> None:
    """A receiver that never reads: its receive queue (skmem r) grows by LEAK_CHUNK every GROW_STEP."""
    lst = listener()
    receiver_buf = 4 * 1024 * 1024  # large enough that the queue never fills during a test
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiver_buf)
    keep += [lst, client, server]

    def grow() -> None:
        while True:
            client.sendall(b"L" * LEAK_CHUNK)
            time.sleep(GROW_STEP)

    keep.append(grow)


def cwpile(keep: list) -> None:
    """Accepts and forgets: every GROW_STEP one more peer sends CWPILE_BYTES and closes (CLOSE-WAIT)."""
    lst = listener(backlog=128)
    keep.append(lst)

    def grow() -> None:
        while True:
            peer = socket.create_connection(lst.getsockname())
            server, _ = lst.accept()
            peer.sendall(b"W" * CWPILE_BYTES)
            peer.close()
            keep.append(server)  # held open, never read
            time.sleep(GROW_STEP)

    keep.append(grow)


def udpflood(keep: list) -> None:
    """A UDP socket with a small full buffer, sent 20 more datagrams every step: Udp RcvbufErrors keeps counting."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keep += [rx, tx]

    def grow() -> None:
        while True:
            for _ in range(20):
                tx.sendto(b"u" * 1200, rx.getsockname())
            time.sleep(GROW_STEP)

    keep.append(grow)


def spawn(name: str, build, *args) -> int:
    """Fork a child named `name` that builds its sockets and sleeps; return its pid once ready."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            set_name(name)
            keep: list = []
            build(keep, *args)
            grow = next((k for k in keep if callable(k) and not isinstance(k, socket.socket)), None)
            if grow is not None:  # one step before the first sample, then on and on
                import threading

                threading.Thread(target=grow, daemon=True).start()
                time.sleep(GROW_STEP)
            os.write(w, b"ok")
            os.close(w)
            while True:
                signal.pause()
        except BaseException as exc:  # noqa: BLE001 - report any failure to the parent
            os.write(w, f"error {type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(0)
    os.close(w)
    answer = os.read(r, 4096)
    os.close(r)
    if answer != b"ok":
        raise RuntimeError(f"situation {name!r} failed: {answer.decode(errors='replace')}")
    return pid


def _iso(when: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat()


def hold(names: list[str]) -> int:
    """--hold: start growing situations here (no namespace, no probe), say 'ready PID...', keep them until stdin closes.

    For tests that run kit collect themselves, locally or on the SSH test
    device (started inside the device's PID namespace, so its ss -p names them).
    """
    builders = {"leak": leak, "cwpile": cwpile, "udpflood": udpflood, "idle": idle}
    children = [spawn(name, builders[name]) for name in names]
    try:
        sys.stdout.write("ready " + " ".join(map(str, children)) + "\n")
        sys.stdout.flush()
        sys.stdin.read()
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--hold":
        return hold(argv[1:])
    out_path, rest = argv[0], argv[1:]
    hostname = user = None
    no_ss = False
    samples, every = 1, 1.0
    while rest and rest[0].startswith("--"):
        if rest[0] == "--hostname":
            hostname, rest = rest[1], rest[2:]
        elif rest[0] == "--user":
            user, rest = rest[1], rest[2:]
        elif rest[0] == "--no-ss":
            no_ss, rest = True, rest[1:]
        elif rest[0] == "--samples":
            samples, rest = int(rest[1]), rest[2:]
        elif rest[0] == "--every":
            every, rest = float(rest[1]), rest[2:]
        else:
            raise SystemExit(f"unknown option {rest[0]}")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if hostname is not None:
        socket.sethostname(hostname)
    if no_ss:
        ss = subprocess.run(["sh", "-c", "command -v ss"], capture_output=True, text=True).stdout.strip()
        for path in {ss, os.path.realpath(ss)} if ss else ():
            subprocess.run(["mount", "--bind", "/dev/null", path], check=True)
    probe_cmd = ["sh", "-s"]
    if user is not None:
        probe_cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "sh", "-s"]
    from kit import capture
    from kit.probe import new_token, render_probe

    builders = {
        "idle": idle,
        "noread": noread,
        "udpdrop": udpdrop,
        "closewait": closewait,
        "acceptq": acceptq,
        "addresses": addresses,
        "shared": shared,
        "leak": leak,
        "cwpile": cwpile,
        "udpflood": udpflood,
    }
    children = []
    tmp = tempfile.mkdtemp(prefix="kitR")
    try:
        for situation in rest:
            if situation.startswith("many="):
                left = int(situation.split("=", 1)[1])
                for i in range(0, left, PER_PROCESS):
                    share = min(PER_PROCESS, left - i)
                    children.append(spawn(f"many{i // PER_PROCESS}", many, share, 1000 if i == 0 else 0))
            elif situation == "hostile":
                for i, name in enumerate(HOSTILE_NAMES):
                    children.append(spawn(name, hostile, name, tmp, i))
            else:
                children.append(spawn(situation, builders[situation]))
        for n in range(1, samples + 1):
            if n > 1:
                time.sleep(every)
            token = new_token()
            started = time.time()
            proc = subprocess.run(probe_cmd, input=render_probe(token).encode(), capture_output=True, timeout=120)
            header = {
                "kit_version": "test",
                "target": "local",
                "token": token,
                "exit_status": proc.returncode,
                "started": _iso(started),
                "finished": _iso(time.time()),
                "partial": False,
            }
            path = out_path if samples == 1 else f"{out_path.removesuffix('.cap')}-{n}.cap"
            with open(path, "wb") as fh:
                fh.write(capture.capture_bytes(header, proc.stdout, proc.stderr))
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        subprocess.run(["rm", "-rf", "--", tmp], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
