"""Tunnels move every byte unchanged, both ways, with half-close, under back-pressure and
rule changes: for the splice(2) relay, the protocol relay (its fallback) and on both event loops
(the agent runs the proxy on uvloop when installed)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Coroutine, Iterator

import pytest
import uvloop

from agent.enforce.proxy import splice
from policies.compiler import rules_from_patterns
from tests.agent.enforce.proxy.hello import client_hello
from tests.agent.enforce.proxy.support import upstream
from tests.agent.enforce.proxy.test_server import proxy

VARIANTS = [
    pytest.param(relay_splice, loop, id=f"{'splice' if relay_splice else 'protocol'}-{loop}")
    for relay_splice in (True, False)
    for loop in ("asyncio", "uvloop")
]


def run(loop: str, main: Callable[[], Coroutine[object, object, None]]) -> None:
    if loop == "uvloop":
        uvloop.run(main())
    else:
        asyncio.run(main())


@pytest.fixture
def up() -> Iterator[int]:
    with upstream(b"UPSTREAM:") as port:
        yield port


@pytest.mark.parametrize(("use_splice", "loop"), VARIANTS)
def test_megabytes_each_way_arrive_unchanged_with_half_close(
    up: int, use_splice: bool, loop: str
) -> None:
    """The client sends 8 MB, half-closes, and still gets all of it echoed back, in order."""
    payload = os.urandom(8 * 1024 * 1024)

    async def main() -> None:
        async with proxy(up, splice=use_splice) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            hello = client_hello("allowed.test")
            # Sent with the hello in one write: bytes the head reader has not consumed yet
            # must reach the upstream too, ahead of everything else.
            writer.write(hello + payload[:1000])
            received = hashlib.sha256()
            total = 0

            async def send_rest() -> None:
                for i in range(1000, len(payload), 256 * 1024):
                    writer.write(payload[i : i + 256 * 1024])
                    await writer.drain()
                writer.write_eof()

            sender = asyncio.create_task(send_rest())
            want = len(b"UPSTREAM:") + len(hello) + len(payload)
            while total < want:
                chunk = await asyncio.wait_for(reader.read(1 << 20), 10)
                assert chunk, f"closed after {total} of {want} bytes"
                received.update(chunk)
                total += len(chunk)
            await sender
            # The upstream sees our EOF and closes; the tunnel then ends cleanly.
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
            expected = hashlib.sha256(b"UPSTREAM:" + hello + payload).hexdigest()
            assert received.hexdigest() == expected
            await until(lambda: srv.stats.active == 0)

    run(loop, main)


@pytest.mark.parametrize(("use_splice", "loop"), VARIANTS)
def test_a_client_that_stops_reading_does_not_make_the_proxy_buffer_everything(
    up: int, use_splice: bool, loop: str
) -> None:
    """Back-pressure: with a client that reads nothing, the proxy stops reading upstream (the
    echo server then blocks), instead of holding the 64 MB the client keeps sending."""

    async def main() -> None:
        async with proxy(up, splice=use_splice) as srv:
            _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(client_hello("allowed.test"))
            chunk = os.urandom(1 << 20)
            sent = 0
            with pytest.raises(TimeoutError):
                for _ in range(64):
                    writer.write(chunk)
                    await asyncio.wait_for(writer.drain(), 3)
                    sent += 1
            assert sent < 64  # everything upstream of the client backed up
            assert srv.stats.active == 1
            writer.transport.abort()
            await until(lambda: srv.stats.active == 0)

    run(loop, main)


async def cut_while_talking(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Talk to the echo until the proxy cuts the connection (at most 100 rounds). The cut shows
    as an end of stream, a reset, or (uvloop) a transport already closed when we write."""
    for _ in range(100):
        if writer.transport.is_closing():
            return True
        writer.write(b"x" * 1000)
        try:
            await writer.drain()
            if not await asyncio.wait_for(reader.read(65536), 5):
                return True
        except ConnectionError:
            return True
    return False


@pytest.mark.parametrize(("use_splice", "loop"), VARIANTS)
def test_closing_rules_cut_a_busy_tunnel(up: int, use_splice: bool, loop: str) -> None:
    async def main() -> None:
        async with proxy(up, splice=use_splice) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
            assert (await asyncio.wait_for(reader.read(100), 5)).startswith(b"UPSTREAM:")
            srv.set_rules(rules_from_patterns([]), None)
            assert await cut_while_talking(reader, writer), "still relayed after the rules closed"
            writer.close()
            await until(lambda: srv.stats.active == 0)

    run(loop, main)


def test_splice_is_used_on_linux() -> None:
    assert hasattr(os, "splice") == splice.AVAILABLE
    assert splice.slots() > 100


async def until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)
