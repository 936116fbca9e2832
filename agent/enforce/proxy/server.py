"""The filtering proxy's one I/O loop: accept, read the name, decide, connect, relay.

Parsing lives in `sni` and `http_host` (pure); deciding is `rules.allows_host(host)` (the
compiled rules' fast path); this module only moves bytes, and once a tunnel is up it hands both
sockets to `relay.Pipe`, which forwards in the transports' callbacks. It never decrypts TLS and
never connects to the address a client picked: an allowed name is resolved here and the
connection goes there, so a forged SNI/Host gets nowhere.

Modes: "transparent" (nftables redirects students' TCP 80/443 here; the original destination is
read only for its port) and "explicit" (an HTTP proxy with CONNECT and absolute-form requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from agent.enforce.proxy import responses, splice
from agent.enforce.proxy.counters import BlockCounter, ProxyStats
from agent.enforce.proxy.http_host import BadRequest, RequestHead, RequestHeadReader
from agent.enforce.proxy.relay import Pipe, Tunnel, close_gently, link, splice_client
from agent.enforce.proxy.resolver import Resolver, SystemResolver, usable_upstream
from agent.enforce.proxy.sni import NEED_MORE, ClientHello, ClientHelloReader

log = logging.getLogger(__name__)
_SO_ORIGINAL_DST = 80
_R = TypeVar("_R")  # what a head parser answers
_SOL_IPV6 = 41


class HostRules(Protocol):
    def allows_host(self, host: str) -> bool: ...


class DenyAll:
    """The rules before any plan arrives and after a failure: nothing is reachable."""

    def allows_host(self, host: str) -> bool:
        return False


@dataclass(frozen=True)
class ProxyConfig:
    mode: Literal["transparent", "explicit"] = "transparent"
    listen: tuple[str, ...] = ("127.0.0.1", "::1")
    port: int = 3129
    ui_port: int | None = None
    head_timeout: float = 10.0  # the whole ClientHello / request head must arrive in this time
    connect_timeout: float = 10.0
    idle_timeout: float = 300.0
    max_connections: int = 4096
    head_limit: int = 16 * 1024
    explicit_ports: tuple[int, ...] = (80, 443)
    # Upstream ports for transparent connections that were not redirected (no original port).
    tls_port: int = 443
    http_port: int = 80
    allow_loopback_upstream: bool = False  # only for tests whose "internet" is loopback
    splice: bool = True  # zero-copy relay where the OS has splice(2); else the protocol relay


@dataclass
class _Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    timer: asyncio.TimerHandle | None = None  # the head deadline: one handle per connection
    timed_out: bool = False
    tunnel: Tunnel | None = field(default=None)

    def expire(self) -> None:
        self.timed_out = True
        self.writer.transport.abort()  # the pending read then ends with b""

    def head_read(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class ProxyServer:
    def __init__(self, config: ProxyConfig, resolver: Resolver | None = None) -> None:
        self.config = config
        self.stats = ProxyStats()
        self.blocked = BlockCounter()
        self._rules: HostRules = DenyAll()
        self._resolver = resolver or SystemResolver()
        self._servers: list[asyncio.Server] = []
        self._tunnels: set[Tunnel] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._splice_slots = splice.slots() if config.splice and splice.AVAILABLE else 0
        self.port = config.port

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        port = self.config.port
        for host in self.config.listen:
            try:
                server = await asyncio.start_server(
                    self._handle, host, port, reuse_address=True, backlog=1024, limit=64 * 1024
                )
            except OSError:
                if not self._servers and host == self.config.listen[-1]:
                    raise
                log.info("proxy cannot listen on %s:%s", host, port)
                continue
            port = server.sockets[0].getsockname()[1]
            if hasattr(socket, "TCP_DEFER_ACCEPT"):
                # Wake up once per connection, when its first bytes are there (HTTP and TLS
                # clients always speak first), not once to accept and again to read.
                for sock in server.sockets:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
            self._servers.append(server)
        if not self._servers:
            raise OSError(f"proxy could not listen on {self.config.listen}")
        self.port = port
        self._sweeper = asyncio.create_task(self._sweep_idle())

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for tunnel in list(self._tunnels):
            tunnel.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()

    @property
    def listening(self) -> bool:
        return any(server.is_serving() for server in self._servers)

    def set_rules(self, rules: HostRules, session_id: str | None) -> None:
        """Swap the rules (one attribute store, so each connection sees old or new, never a mix)
        and cut open tunnels the new rules no longer allow. Call on the loop's thread."""
        self._rules = rules
        self.blocked.start_session(session_id)
        for tunnel in list(self._tunnels):
            if not rules.allows_host(tunnel.host):
                tunnel.close()

    # -- one connection ------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        if self.stats.active >= self.config.max_connections:
            self.stats.refused += 1
            writer.transport.abort()
            return
        self.stats.active += 1
        loop = asyncio.get_running_loop()
        client = _Client(reader, writer)
        client.timer = loop.call_later(self.config.head_timeout, client.expire)
        try:
            if self.config.mode == "transparent":
                await self._transparent(client)
            else:
                await self._explicit(client)
        except TimeoutError:
            self.stats.timeouts += 1
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except Exception:  # one bad connection must never take the proxy down
            log.exception("proxy connection failed")
        finally:
            client.head_read()
            if client.timed_out:
                self.stats.timeouts += 1
            self.stats.active -= 1
            if client.tunnel is not None:
                self._tunnels.discard(client.tunnel)
            writer.transport.abort() if writer.transport.is_closing() else writer.close()

    async def _head(self, client: _Client, feed: Callable[[bytes], _R], first: bytes) -> _R | None:
        """Feeds the parser until it has an answer; None when the client stopped sending first.
        Bounded by the connection's head timer (a wait_for per read would cost a task)."""
        result = feed(first)
        while result is NEED_MORE:
            chunk = await client.reader.read(16 * 1024)
            if not chunk:
                return None
            result = feed(chunk)
        client.head_read()
        return result

    async def _transparent(self, client: _Client) -> None:
        original_port = _original_port(client.writer)
        first = await client.reader.read(16 * 1024)  # bounded by the head timer
        if not first:
            return
        if first[0] == 0x16:
            hello = ClientHelloReader(self.config.head_limit)
            result = await self._head(client, hello.feed, first)
            if result is None:
                return
            host = result.server_name if isinstance(result, ClientHello) else None
            if host is None or not self._allowed(host):
                await close_gently(client.reader, client.writer, responses.TLS_ACCESS_DENIED)
                return
            await self._tunnel(client, host, original_port or self.config.tls_port, hello.raw)
            return
        head = RequestHeadReader(original_port or self.config.http_port, self.config.head_limit)
        parsed = await self._head(client, head.feed, first)
        if parsed is None:
            return
        if isinstance(parsed, BadRequest) or not isinstance(parsed, RequestHead):
            await self._refuse_http(client, parsed)
            return
        if not self._allowed(parsed.host):
            await close_gently(
                client.reader, client.writer, responses.blocked_page(parsed.host, self._ui())
            )
            return
        port = original_port or parsed.port
        first = parsed.for_upstream() + parsed.rest
        await self._tunnel(client, parsed.host, port, first, http=True)

    async def _explicit(self, client: _Client) -> None:
        head = RequestHeadReader(80, self.config.head_limit)
        parsed = await self._head(client, head.feed, b"")
        if parsed is None:
            return
        if not isinstance(parsed, RequestHead) or parsed.form == "origin":
            await self._refuse_http(client, parsed)
            return
        if parsed.port not in self.config.explicit_ports or not self._allowed(parsed.host):
            if parsed.form == "authority":
                page = responses.error_page(403, "Forbidden", f"{parsed.host} is not allowed")
            else:
                page = responses.blocked_page(parsed.host, self._ui())
            await close_gently(client.reader, client.writer, page)
            return
        if parsed.form == "authority":
            await self._tunnel(client, parsed.host, parsed.port, parsed.rest, connect=True)
        else:
            first = parsed.for_upstream() + parsed.rest
            await self._tunnel(client, parsed.host, parsed.port, first, http=True)

    # -- helpers -------------------------------------------------------------------------------
    def _ui(self) -> int | None:
        return self.config.ui_port

    def _allowed(self, host: str) -> bool:
        if self._rules.allows_host(host):
            self.stats.allowed += 1
            return True
        self.stats.blocked += 1
        self.blocked.count(host)
        return False

    async def _refuse_http(self, client: _Client, parsed: object) -> None:
        self.stats.blocked += 1
        reason = parsed.reason if isinstance(parsed, BadRequest) else "a proxy request is needed"
        status = parsed.status if isinstance(parsed, BadRequest) else 400
        await close_gently(
            client.reader, client.writer, responses.error_page(status, "Blocked", reason)
        )

    async def _tunnel(
        self,
        client: _Client,
        host: str,
        port: int,
        first: bytes,
        *,
        http: bool = False,
        connect: bool = False,
    ) -> None:
        if self._splice_slots > 0:
            self._splice_slots -= 1
            try:
                return await self._spliced(client, host, port, first, http=http, connect=connect)
            finally:
                self._splice_slots += 1
        tunnel = Tunnel(host, client.writer.transport)  # type: ignore[arg-type]
        up_pipe = Pipe(tunnel, paused=True)  # nothing to forward to until the client is spliced
        if not await self._connect(host, port, up_pipe):
            self.stats.upstream_errors += 1
            page = responses.error_page(502, "Bad Gateway", f"{host} could not be reached")
            await close_gently(client.reader, client.writer, page if (http or connect) else b"")
            return
        if connect:
            client.writer.write(responses.CONNECT_OK)
        client_pipe, leftover, eof = splice_client(tunnel, client.reader, client.writer)
        link(client_pipe, up_pipe, first + leftover, eof)
        client.tunnel = tunnel
        self._tunnels.add(tunnel)
        # The rules may have changed while we were connecting.
        if not self._rules.allows_host(host):
            tunnel.close()
        await tunnel.done

    async def _spliced(
        self, client: _Client, host: str, port: int, first: bytes, *, http: bool, connect: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        upstream = await self._connect_socket(host, port)
        if upstream is None:
            self.stats.upstream_errors += 1
            page = responses.error_page(502, "Bad Gateway", f"{host} could not be reached")
            await close_gently(client.reader, client.writer, page if (http or connect) else b"")
            return
        try:
            own = splice.take_socket(client.reader, client.writer)
        except OSError:
            upstream.close()
            raise
        tunnel = splice.SpliceTunnel(host, own.sock, upstream)
        client.tunnel = tunnel
        try:
            if connect:
                await loop.sock_sendall(own.sock, responses.CONNECT_OK)
            if first or own.leftover:
                await loop.sock_sendall(upstream, first + own.leftover)
        except OSError:
            tunnel.close()
            return
        self._tunnels.add(tunnel)
        if not self._rules.allows_host(host):  # the rules may have changed while connecting
            tunnel.close()
            return
        tunnel.start()
        await tunnel.done

    async def _upstreams(self, host: str, port: int) -> tuple[list[str], float]:
        """The addresses this proxy itself resolved for `host` that it may connect to, and the
        deadline for connecting to one of them."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.config.connect_timeout):
            addresses = await self._resolver.resolve(host)
        usable = [
            a
            for a in addresses
            if usable_upstream(a, self.config.allow_loopback_upstream)
            # not ourselves: that would loop back into the proxy
            and not (a in self.config.listen and port == self.port)
        ]
        return usable, loop.time() + self.config.connect_timeout

    async def _connect_socket(self, host: str, port: int) -> socket.socket | None:
        loop = asyncio.get_running_loop()
        addresses, deadline = await self._upstreams(host, port)
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                async with asyncio.timeout_at(deadline):
                    await splice.connect(sock, address, port)
                return sock
            except (OSError, TimeoutError):
                sock.close()
                if loop.time() >= deadline:
                    break
        return None

    async def _connect(self, host: str, port: int, pipe: Pipe) -> bool:
        loop = asyncio.get_running_loop()
        addresses, deadline = await self._upstreams(host, port)
        for address in addresses:
            try:
                async with asyncio.timeout_at(deadline):
                    await loop.create_connection(lambda: pipe, address, port)
                return True
            except (OSError, TimeoutError):
                if loop.time() >= deadline:
                    break
        return False

    async def _sweep_idle(self) -> None:
        interval = max(0.05, min(self.config.idle_timeout / 4, 30.0))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for tunnel in list(self._tunnels):
                if now - tunnel.last_active > self.config.idle_timeout:
                    self.stats.timeouts += 1
                    tunnel.close()


def _original_port(writer: asyncio.StreamWriter) -> int | None:
    """The port the client originally connected to, when nftables redirected it here."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return None
    try:
        if sock.family == socket.AF_INET:
            raw = sock.getsockopt(socket.SOL_IP, _SO_ORIGINAL_DST, 16)
            address = socket.inet_ntop(socket.AF_INET, raw[4:8])
        else:
            raw = sock.getsockopt(_SOL_IPV6, _SO_ORIGINAL_DST, 28)
            address = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        port = int.from_bytes(raw[2:4], "big")
        local = sock.getsockname()
    except OSError:
        return None
    if (address, port) == (local[0], local[1]):
        return None  # a direct connection to the proxy port, not a redirected one
    return port
