"""Moving bytes between a client and an upstream once a connection is allowed."""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 256 * 1024


class Tunnel:
    """One allowed connection; kept so a rule change or idleness can cut it."""

    def __init__(self, host: str, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter):
        self.host = host
        self.client = client
        self.upstream = upstream
        self.last_active = asyncio.get_running_loop().time()

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if not writer.transport.is_closing():
                writer.close()


async def relay(
    tunnel: Tunnel, client_reader: asyncio.StreamReader, up_reader: asyncio.StreamReader
) -> None:
    try:
        await asyncio.gather(
            _pump(tunnel, client_reader, tunnel.upstream),
            _pump(tunnel, up_reader, tunnel.client),
        )
    finally:
        tunnel.close()


async def _pump(tunnel: Tunnel, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await src.read(CHUNK)
            if not data:
                break
            tunnel.last_active = loop.time()
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof() and not dst.transport.is_closing():
            dst.write_eof()  # half-close: the other direction may still be talking
    except (ConnectionError, OSError):
        tunnel.close()


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
