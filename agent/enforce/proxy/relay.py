"""Moving bytes between a client and an upstream once a connection is allowed.

The tunnel is two plain protocols wired to each other's transport: what one side reads is
written to the other in the same callback, with no task, queue or extra copy per chunk (the
StreamReader path cost a buffer append, a slice and two task switches per chunk). Flow control
is the transports' own: when one side's send buffer passes its high-water mark, asyncio calls
`pause_writing` on that side's protocol, which pauses reading on the other side until it drains.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

# Send buffer per side before the other side stops reading: big enough to keep a fast link busy
# between two loop iterations, small enough to bound memory across thousands of tunnels.
HIGH_WATER = 1024 * 1024


class Tunnel:
    """One allowed connection; kept so a rule change or idleness can cut it."""

    def __init__(self, host: str, client: asyncio.Transport | None) -> None:
        self.host = host
        self.client = client
        self.upstream: asyncio.Transport | None = None
        self.last_active = asyncio.get_running_loop().time()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._open = 2  # sides not yet lost

    def close(self) -> None:
        """Cut both sides now (rules changed, idle): queued bytes are dropped, since a graceful
        close would wait for a peer that may never read them."""
        for transport in (self.client, self.upstream):
            if transport is not None:
                transport.abort()

    def finish(self) -> None:
        """Both directions have ended: close after sending what is queued."""
        for transport in (self.client, self.upstream):
            if transport is not None and not transport.is_closing():
                transport.close()

    def _side_lost(self) -> None:
        self._open -= 1
        if self._open <= 0 and not self.done.done():
            self.done.set_result(None)


class Pipe(asyncio.Protocol):
    """One side of a tunnel: everything read here is written to `peer`."""

    def __init__(self, tunnel: Tunnel, paused: bool = False) -> None:
        self.tunnel = tunnel
        self.transport: asyncio.Transport | None = None
        self.peer: Pipe | None = None
        self._eof = False
        self._paused = paused  # read nothing until `link` gives this side a peer
        self._early: list[bytes] = []  # read before that anyway (a loop may deliver data first)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.set_write_buffer_limits(high=HIGH_WATER)
        if self._paused:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:
            self._early.append(data)
            return
        if peer.transport is None or peer.transport.is_closing():
            return
        self.tunnel.last_active = asyncio.get_running_loop().time()
        peer.transport.write(data)

    def eof_received(self) -> bool:
        self._eof = True
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            if peer._eof:
                self.tunnel.finish()
                return False
            if peer.transport.can_write_eof():
                peer.transport.write_eof()  # half-close: the other direction may still be talking
                return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            if exc is not None:
                peer.transport.abort()  # this side failed: nobody will read what is queued
            elif not peer.transport.is_closing():
                peer.transport.close()
        self.tunnel._side_lost()

    # The peer's send buffer is full: stop reading here until it drains (and the reverse).
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            with contextlib.suppress(RuntimeError):
                self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            with contextlib.suppress(RuntimeError):
                self.peer.transport.resume_reading()


def link(client: Pipe, upstream: Pipe, first: bytes, client_eof: bool) -> None:
    """Wire the two sides together; `first` (the head already read from the client) goes
    upstream before anything else, then the client's EOF if it has already sent one."""
    assert client.transport is not None and upstream.transport is not None
    client.peer, upstream.peer = upstream, client
    client.tunnel.upstream = upstream.transport
    if first:
        upstream.transport.write(first)
    if client_eof:
        client._eof = True
        if upstream.transport.can_write_eof():
            upstream.transport.write_eof()
    if upstream._early:
        client.transport.write(b"".join(upstream._early))
        upstream._early.clear()
    if upstream._paused:
        upstream._paused = False
        upstream.transport.resume_reading()


def splice_client(
    tunnel: Tunnel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[Pipe, bytes, bool]:
    """Take the client's transport over from its stream (used while reading the request head):
    returns its Pipe, the bytes the stream had buffered but nobody read, and whether it had
    already seen EOF. Those bytes must be forwarded before anything the Pipe receives."""
    pipe = Pipe(tunnel)
    transport = cast(asyncio.Transport, writer.transport)
    transport.set_protocol(pipe)
    pipe.connection_made(transport)
    # StreamReader keeps unread bytes in `_buffer` (a bytearray, same since Python 3.4); there is
    # no public way to take them without awaiting.
    buffered: bytearray = getattr(reader, "_buffer", bytearray())
    leftover = bytes(buffered)
    buffered.clear()
    eof = reader.at_eof() or bool(getattr(reader, "_eof", False))
    with contextlib.suppress(RuntimeError, AttributeError):
        transport.resume_reading()  # the stream may have paused it when its buffer filled
    return pipe, leftover, eof


async def close_gently(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, final: bytes, linger: float = 1.0
) -> None:
    """Send `final`, then FIN, then swallow what the client still sends for a moment (bounded),
    so the kernel closes with FIN rather than answering unread data with a RST."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + linger
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        if final:
            writer.write(final)
        if writer.can_write_eof():
            writer.write_eof()
        await asyncio.wait_for(writer.drain(), linger)
        swallowed = 0
        while swallowed < 64 * 1024 and (remaining := deadline - loop.time()) > 0:
            data = await asyncio.wait_for(reader.read(16 * 1024), remaining)
            if not data:
                break
            swallowed += len(data)
    writer.close()
