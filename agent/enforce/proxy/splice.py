"""Zero-copy relay on Linux: `splice(2)` moves bytes socket -> pipe -> socket inside the kernel.

The Python side only sees readiness callbacks and byte counts, never the data, so a download
through the proxy costs two syscalls per up-to-1-MiB chunk and no copy into user space (the
protocol relay in `relay` costs a copy into a bytes object and one out of it). Used when
`os.splice` exists and file descriptors are plentiful (each tunnel holds two pipes); otherwise the
proxy uses `relay.Pipe`.

Each direction owns a pipe. Readable source: splice it into the pipe, then from the pipe into the
destination. If the destination is full, stop reading the source and wait for the destination to
be writable (that is the flow control). EOF is passed on as a half-close (shutdown SHUT_WR); the
tunnel ends when both directions have ended, or on the first error.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import socket

from agent.enforce.proxy.relay import Tunnel

AVAILABLE = hasattr(os, "splice") and hasattr(fcntl, "F_SETPIPE_SZ")
PIPE_SIZE = 1024 * 1024
_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)


class SpliceTunnel(Tunnel):
    def __init__(self, host: str, client: socket.socket, upstream: socket.socket) -> None:
        super().__init__(host, None)
        self._loop = asyncio.get_running_loop()
        self._socks = (client, upstream)
        self._directions = (
            _Direction(self, client, upstream),
            _Direction(self, upstream, client),
        )
        self._closed = False

    def start(self) -> None:
        for direction in self._directions:
            direction.want_read()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for direction in self._directions:
            direction.stop()
        for sock in self._socks:
            sock.close()
        if not self.done.done():
            self.done.set_result(None)

    def _direction_ended(self) -> None:
        if all(d.finished for d in self._directions):
            self.close()


# Empty pipes of ended tunnels, reused: creating and sizing two pipes per tunnel cost six system
# calls, each a point where the proxy thread may wait for the GIL. At most 64 kept.
_POOL: list[tuple[int, int]] = []
_POOL_MAX = 64


def _pipe() -> tuple[int, int]:
    with contextlib.suppress(IndexError):
        return _POOL.pop()
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    return r, w


def _release(r: int, w: int, empty: bool) -> None:
    if empty and len(_POOL) < _POOL_MAX:
        _POOL.append((r, w))
        return
    for fd in (r, w):
        with contextlib.suppress(OSError):
            os.close(fd)


class _Direction:
    def __init__(self, tunnel: SpliceTunnel, src: socket.socket, dst: socket.socket) -> None:
        self.tunnel = tunnel
        self.loop = tunnel._loop
        self.src, self.dst = src.fileno(), dst.fileno()
        self.dst_sock = dst
        self.r, self.w = _pipe()
        self.pending = 0  # bytes in the pipe, not yet in dst
        self.eof = False
        self.finished = False
        self.reading = self.writing = False

    def want_read(self) -> None:
        if not self.reading:
            self.reading = True
            self.loop.add_reader(self.src, self.on_readable)

    def stop_read(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.src)

    def stop(self) -> None:
        self.stop_read()
        if self.writing:
            self.writing = False
            self.loop.remove_writer(self.dst)
        if self.r >= 0:
            _release(self.r, self.w, empty=self.pending == 0)
        self.r = self.w = -1

    def on_readable(self) -> None:
        try:
            n = os.splice(self.src, self.w, PIPE_SIZE, flags=_FLAGS)
        except BlockingIOError:
            return
        except OSError:
            self.tunnel.close()
            return
        if n == 0:
            self.eof = True
            self.stop_read()
        else:
            self.pending += n
            self.tunnel.last_active = self.loop.time()
        self.flush()

    def on_writable(self) -> None:
        self.loop.remove_writer(self.dst)
        self.writing = False
        self.flush()

    def flush(self) -> None:
        while self.pending:
            try:
                self.pending -= os.splice(self.r, self.dst, self.pending, flags=_FLAGS)
            except BlockingIOError:
                # The destination is full: stop reading until it drains (flow control).
                self.stop_read()
                if not self.writing:
                    self.writing = True
                    self.loop.add_writer(self.dst, self.on_writable)
                return
            except OSError:
                self.tunnel.close()
                return
        if self.eof:
            if not self.finished:
                self.finished = True
                with contextlib.suppress(OSError):
                    self.dst_sock.shutdown(socket.SHUT_WR)
                self.tunnel._direction_ended()
        else:
            self.want_read()


class TakenSocket:
    """The client's socket, taken over from its asyncio stream."""

    def __init__(self, sock: socket.socket, leftover: bytes) -> None:
        self.sock = sock
        self.leftover = leftover  # read by the stream but not by the head parser


def take_socket(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> TakenSocket:
    """Stop the stream's transport and keep its socket (a dup of the descriptor, so closing the
    transport closes only its own descriptor and sends nothing to the client)."""
    transport = writer.transport
    transport.pause_reading()  # type: ignore[attr-defined]
    # StreamReader keeps unread bytes in `_buffer` (a bytearray since Python 3.4); there is no
    # public way to take them without awaiting.
    buffered: bytearray = getattr(reader, "_buffer", bytearray())
    leftover = bytes(buffered)
    buffered.clear()
    raw = writer.get_extra_info("socket")
    # Family, type and protocol given, so the constructor need not ask the kernel.
    sock = socket.socket(raw.family, socket.SOCK_STREAM, 0, os.dup(raw.fileno()))
    sock.setblocking(False)  # the open file already is; this tells the Python object
    transport.abort()
    return TakenSocket(sock, leftover)


def slots() -> int:
    """How many tunnels may splice: each holds two sockets and two pipes (six descriptors).
    Raises the soft descriptor limit to the hard one (capped), as servers commonly do."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    want = min(want, 1 << 20)
    if want > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
    return max(0, (soft - 1024) // 8)


async def connect(sock: socket.socket, address: str, port: int) -> None:
    """Connect a non-blocking socket to an IP literal. (uvloop's sock_connect runs getaddrinfo
    in its thread pool even for a literal: a thread hop, about a millisecond, per tunnel.)"""
    err = sock.connect_ex((address, port))
    if err == 0:
        return
    if err not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
        raise OSError(err, os.strerror(err))
    loop = asyncio.get_running_loop()
    writable: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def ready() -> None:
        if not writable.done():
            writable.set_result(None)

    loop.add_writer(fd, ready)
    try:
        await writable
    finally:
        loop.remove_writer(fd)
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))
