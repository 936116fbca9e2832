"""The proxy's I/O loop on loopback: what a client sees for allowed, blocked and bad input."""

from __future__ import annotations

import asyncio
import resource
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.enforce.proxy import ProxyConfig, ProxyServer
from agent.enforce.proxy.responses import TLS_ACCESS_DENIED
from policies.compiler import rules_from_patterns
from tests.agent.enforce.proxy.hello import client_hello
from tests.agent.enforce.proxy.support import MapResolver, upstream

NAMES = {"allowed.test": "127.0.0.1", "other.test": "127.0.0.1"}


@pytest.fixture
def up() -> Iterator[int]:
    with upstream(b"UPSTREAM:") as port:
        yield port


@asynccontextmanager
async def proxy(up: int, **overrides: object) -> AsyncIterator[ProxyServer]:
    options: dict[str, object] = {
        "mode": "transparent",
        "listen": ("127.0.0.1",),
        "port": 0,
        "ui_port": 8765,
        "tls_port": up,
        "http_port": up,
        "explicit_ports": (up,),
        "allow_loopback_upstream": True,
    }
    options.update(overrides)
    server = ProxyServer(ProxyConfig(**options), MapResolver(NAMES))  # type: ignore[arg-type]
    await server.start()
    server.set_rules(rules_from_patterns(["allowed.test"]), "s-1")
    try:
        yield server
    finally:
        await server.close()


async def exchange(port: int, chunks: list[bytes], pause: float = 0.0, until: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        if pause:
            await asyncio.sleep(pause)
    data = b""
    wait = 5.0
    try:
        # Until the proxy closes, or the upstream has said everything: a quiet 0.2 s once the
        # answer holds `until` (the upstreams here write their answers in more than one piece).
        while chunk := await asyncio.wait_for(reader.read(65536), wait):
            data += chunk
            wait = 0.2 if until in data else 5.0
    except TimeoutError:
        pass
    except ConnectionError:
        data += b"<reset>"
    writer.close()
    return data


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_allowed_tls_is_relayed_unchanged(up: int) -> None:
    async def main() -> None:
        async with proxy(up) as srv:
            hello = client_hello("allowed.test")
            answer = await exchange(srv.port, [hello], until=b"UPSTREAM:" + hello)
            assert answer == b"UPSTREAM:" + hello

    run(main())


def test_a_hello_in_one_byte_segments_is_judged(up: int) -> None:
    async def main() -> None:
        async with proxy(up) as srv:
            hello = client_hello("allowed.test")
            chunks = [hello[i : i + 1] for i in range(len(hello))]
            answer = await exchange(srv.port, chunks, pause=0.0005)
            assert answer.startswith(b"UPSTREAM:")

    run(main())


def test_blocked_and_unjudgeable_tls_get_an_alert_and_a_clean_close(up: int) -> None:
    async def main() -> None:
        async with proxy(up) as srv:
            assert await exchange(srv.port, [client_hello("other.test")]) == TLS_ACCESS_DENIED
            assert await exchange(srv.port, [client_hello(None)]) == TLS_ACCESS_DENIED
            garbage = b"\x16\x03\x01\x00\x05hello-not-a-handshake" * 10
            assert await exchange(srv.port, [garbage]) == TLS_ACCESS_DENIED
            assert (await exchange(srv.port, [client_hello("allowed.test")])).startswith(b"UP")
            assert srv.blocked.snapshot() == {"other.test": 1}

    run(main())


def test_blocked_http_is_sent_to_the_agent_block_page(up: int) -> None:
    async def main() -> None:
        async with proxy(up) as srv:
            answer = await exchange(srv.port, [b"GET /x HTTP/1.1\r\nHost: other.test\r\n\r\n"])
            assert answer.startswith(b"HTTP/1.1 302 Found")
            assert b"Location: http://127.0.0.1:8765/blocked?host=other.test\r\n" in answer
            assert b"/x" not in answer  # no URL is echoed or kept
            ok = await exchange(srv.port, [b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"])
            assert ok.startswith(b"UPSTREAM:GET / HTTP/1.1")

    run(main())


def test_a_second_request_on_an_allowed_connection_cannot_name_another_host(up: int) -> None:
    """Both names live on one server (a shared front-end): the proxy judged the first request's
    Host only, so the server must not answer the pipelined second one for a blocked host."""
    with vhost_server() as (web, served):

        async def main() -> None:
            async with proxy(up, http_port=web) as srv:
                first = b"GET /1 HTTP/1.1\r\nHost: allowed.test\r\nConnection: keep-alive\r\n\r\n"
                second = b"GET /2 HTTP/1.1\r\nHost: other.test\r\n\r\n"
                answer = await exchange(srv.port, [first + second], until=b"for allowed.test")
                assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"for allowed.test")
                assert b"other.test" not in answer

        run(main())
    assert served == ["allowed.test"]


@contextmanager
def vhost_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP/1.1 server that keeps connections alive unless asked not to (http.server does as
    RFC 9112 says), answering for whatever Host a request names; yields its port and the hosts
    it has answered for."""
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            served.append(self.headers["Host"])
            body = f"for {self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_raw_ip_and_unknown_names_are_blocked(up: int) -> None:
    async def main() -> None:
        async with proxy(up) as srv:
            for host in ("127.0.0.1", "unknown.test"):
                answer = await exchange(
                    srv.port, [f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()]
                )
                assert answer.startswith(b"HTTP/1.1 302"), host

    run(main())


def test_explicit_mode_connect_and_absolute_form(up: int) -> None:
    async def main() -> None:
        async with proxy(up, mode="explicit") as srv:
            connect = f"CONNECT allowed.test:{up} HTTP/1.1\r\n\r\n".encode()
            answer = await exchange(srv.port, [connect + b"ping"], until=b"UPSTREAM:")
            assert answer.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nUPSTREAM:")
            blocked = await exchange(
                srv.port, [f"CONNECT other.test:{up} HTTP/1.1\r\n\r\n".encode()]
            )
            assert blocked.startswith(b"HTTP/1.1 403")
            wrong_port = await exchange(srv.port, [b"CONNECT allowed.test:22 HTTP/1.1\r\n\r\n"])
            assert wrong_port.startswith(b"HTTP/1.1 403")
            get = f"GET http://allowed.test:{up}/p?q HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
            answer = await exchange(srv.port, [get.encode()])
            assert answer.startswith(b"UPSTREAM:GET /p?q HTTP/1.1\r\n")

    run(main())


def test_a_huge_header_is_refused_and_the_proxy_keeps_serving(up: int) -> None:
    async def main() -> None:
        async with proxy(up) as srv:
            huge = b"GET / HTTP/1.1\r\nHost: allowed.test\r\nX: " + b"a" * 100_000 + b"\r\n\r\n"
            answer = await exchange(srv.port, [huge])
            assert answer.startswith(b"HTTP/1.1 431") or answer in (b"", b"<reset>")
            ok = await exchange(srv.port, [b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"])
            assert ok.startswith(b"UPSTREAM:")

    run(main())


def test_new_rules_cut_tunnels_they_no_longer_allow(up: int) -> None:
    async def main() -> None:
        async with proxy(up) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
            assert (await reader.read(100)).startswith(b"UPSTREAM:")
            srv.set_rules(rules_from_patterns([]), None)
            rest = await asyncio.wait_for(reader.read(), 5)
            assert b"UPSTREAM" not in rest
            assert reader.at_eof()
            writer.close()

    run(main())


def test_slowloris_clients_time_out_and_students_are_still_served(up: int) -> None:
    async def main() -> None:
        async with proxy(up, head_timeout=0.5) as srv:
            slow = []
            for _ in range(50):
                reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                writer.write(b"GET / HTTP/1.1\r\nHo")
                slow.append((reader, writer))
            ok = await exchange(srv.port, [b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"])
            assert ok.startswith(b"UPSTREAM:")
            for reader, writer in slow:
                assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the proxy
                writer.close()
            assert srv.stats.timeouts >= 50
            assert srv.stats.active == 0

    run(main())


def test_thousands_of_parallel_connections_stay_bounded(up: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 9000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))

    async def main() -> None:
        async with proxy(up, max_connections=1500, head_timeout=60.0) as srv:
            clients = []
            for i in range(2000):
                reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                writer.write(b"\x16\x03\x01" if i % 2 else b"GET / HTT")
                clients.append((reader, writer))
            await until(lambda: srv.stats.accepted == 2000)
            assert srv.stats.active == 1500
            assert srv.stats.refused == 500
            assert srv.listening
            for _, writer in clients:
                writer.close()
            await until(lambda: srv.stats.active == 0)
            ok = await exchange(srv.port, [client_hello("allowed.test")])
            assert ok.startswith(b"UPSTREAM:")

    run(main())


async def until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll with a bounded deadline (a hang fails the test; the time taken is not asserted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)
