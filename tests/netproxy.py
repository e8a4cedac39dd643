"""A small TCP proxy on 127.0.0.1 for fleet tests and bench/bench_fleet.py.

    gauge = Gauge()
    with Proxy(device.port, delay=0.1, gauge=gauge) as proxy:   # 100 ms each way
        ... connect to 127.0.0.1:proxy.port ...
    gauge.peak                                                   # most connections open at once

- `delay`: every chunk is held `delay` seconds in each direction, as a link
  with that one-way latency would; chunks are pipelined, so throughput is
  not capped (a real router link's latency, not a slow link).
- `cut_after`: after forwarding that many bytes from the server, close both
  sides (a link that drops mid-probe).
- `stall_after`: after that many bytes from the server, forward nothing more
  from it but keep the connection open (a device that hangs mid-probe).
- `gauge`: counts connections open through every proxy that shares it.

Standard library only, so bench scripts can use it.
"""

from __future__ import annotations

import heapq
import socket
import threading
import time

TCP_ESTABLISHED = 1  # tcpi_state, the first byte of struct tcp_info (linux/tcp.h)


def peer_closed(sock: socket.socket) -> bool:
    """The client has closed its end (our side is past ESTABLISHED), whether or not a thread has read the EOF."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != TCP_ESTABLISHED
    except OSError:
        return True


class Gauge:
    """Connections open now and the most ever open at once, over all proxies that share it.

    A connection counts from its accept until the client closes it. When a
    new one is accepted, every counted one is first checked in the kernel
    (TCP_INFO): a client that closed before it connected again is never
    counted twice just because the proxy's threads had not run yet (on a
    loaded machine they can lag the client by a second).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, socket.socket] = {}
        self.open = 0
        self.peak = 0
        self.total = 0

    def up(self, client: socket.socket) -> None:
        with self._lock:
            for key, sock in list(self._clients.items()):
                if peer_closed(sock):
                    self._forget(key)
            self._clients[id(client)] = client
            self.open += 1
            self.total += 1
            self.peak = max(self.peak, self.open)

    def down(self, client: socket.socket) -> None:
        with self._lock:
            self._forget(id(client))

    def _forget(self, key: int) -> None:
        if self._clients.pop(key, None) is not None:
            self.open -= 1


class Proxy:
    def __init__(
        self,
        target_port: int,
        *,
        delay: float = 0.0,
        cut_after: int | None = None,
        stall_after: int | None = None,
        gauge: Gauge | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.target = (host, target_port)
        self.delay = delay
        self.cut_after = cut_after
        self.stall_after = stall_after
        self.gauge = gauge or Gauge()
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                _close(conn)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._conns += [client, server]
            self.gauge.up(client)
            link = _Link(self, client, server)
            link.start()


class _Link:
    """One proxied connection: a reader and a (delayed) writer per direction."""

    def __init__(self, proxy: Proxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client, self.server = client, server
        self.closed = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        for src, dst, from_server in ((self.client, self.server, False), (self.server, self.client, True)):
            threading.Thread(target=self._pump, args=(src, dst, from_server), daemon=True).start()

    def _closing(self) -> None:
        """A side closed: the connection no longer counts as open (at once, not after the delayed relay)."""
        self.proxy.gauge.down(self.client)

    def _end(self) -> None:
        self._closing()
        _close(self.client)
        _close(self.server)

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        queue: list[tuple[float, int, bytes]] = []
        cond = threading.Condition()
        done = [False]
        seq = 0

        def writer() -> None:
            while True:
                with cond:
                    while not queue and not done[0]:
                        cond.wait()
                    if not queue:
                        break
                    due, _, data = queue[0]
                    wait = due - time.monotonic()
                    if wait > 0:
                        cond.wait(wait)
                        continue
                    heapq.heappop(queue)
                try:
                    if data:
                        dst.sendall(data)
                    else:
                        dst.shutdown(socket.SHUT_WR)  # the peer half-closed: pass it on
                except OSError:
                    break
            self._end()

        threading.Thread(target=writer, daemon=True).start()
        forwarded = 0
        proxy = self.proxy
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = None
            if from_server and data:
                limit = proxy.cut_after if proxy.cut_after is not None else proxy.stall_after
                if limit is not None and forwarded + len(data) > limit:
                    data = data[: max(0, limit - forwarded)]
                    forwarded = limit
                    self._enqueue(queue, cond, data, seq)
                    seq += 1
                    if proxy.cut_after is not None:
                        time.sleep(proxy.delay + 0.2)  # let the last bytes go out, then drop the link
                        _close(self.client)
                        _close(self.server)
                    else:
                        proxy._stop.wait()  # hold the connection open, forward nothing more
                    data = None
                else:
                    forwarded += len(data)
            if not data:
                self._closing()
            if data is None:
                with cond:
                    done[0] = True
                    cond.notify()
                return
            self._enqueue(queue, cond, data, seq)
            seq += 1
            if not data:  # EOF: forwarded as a half-close
                with cond:
                    done[0] = True
                    cond.notify()
                return

    def _enqueue(self, queue: list, cond: threading.Condition, data: bytes, seq: int) -> None:
        with cond:
            heapq.heappush(queue, (time.monotonic() + self.proxy.delay, seq, data))
            cond.notify()


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
