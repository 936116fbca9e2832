"""The filtering proxy's one I/O loop: accept, read the name, decide, connect, relay.

Parsing lives in `sni` and `http_host` (pure); deciding is `rules.host_allowed(host)`; this module
only moves bytes. It never decrypts TLS and never connects to the address a client picked: an
allowed name is resolved here and the connection goes there, so a forged SNI/Host gets nowhere.

Modes: "transparent" (nftables redirects students' TCP 80/443 here; the original destination is
read only for its port) and "explicit" (an HTTP proxy with CONNECT and absolute-form requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import Literal, Protocol

from agent.enforce.proxy import responses
from agent.enforce.proxy.counters import BlockCounter, ProxyStats
from agent.enforce.proxy.http_host import BadRequest, RequestHead, RequestHeadReader
from agent.enforce.proxy.relay import Tunnel, close_gently, relay
from agent.enforce.proxy.resolver import Resolver, SystemResolver, usable_upstream
from agent.enforce.proxy.sni import NEED_MORE, ClientHello, ClientHelloReader

log = logging.getLogger(__name__)
_SO_ORIGINAL_DST = 80
_SOL_IPV6 = 41


class HostDecision(Protocol):
    @property
    def allowed(self) -> bool: ...


class HostRules(Protocol):
    def host_allowed(self, host: str) -> HostDecision: ...


@dataclass(frozen=True)
class _Denied:
    allowed: bool = False


class DenyAll:
    """The rules before any plan arrives and after a failure: nothing is reachable."""

    def host_allowed(self, host: str) -> HostDecision:
        return _Denied()


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


@dataclass
class _Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    deadline: float
    tunnel: Tunnel | None = field(default=None)


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
            if not rules.host_allowed(tunnel.host).allowed:
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
        client = _Client(reader, writer, loop.time() + self.config.head_timeout)
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
            self.stats.active -= 1
            if client.tunnel is not None:
                self._tunnels.discard(client.tunnel)
            writer.transport.abort() if writer.transport.is_closing() else writer.close()

    async def _read(self, client: _Client) -> bytes:
        remaining = client.deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError
        return await asyncio.wait_for(client.reader.read(4096), remaining)

    async def _transparent(self, client: _Client) -> None:
        original_port = _original_port(client.writer)
        first = await self._read(client)
        if not first:
            return
        if first[0] == 0x16:
            hello = ClientHelloReader(self.config.head_limit)
            result = hello.feed(first)
            while result is NEED_MORE:
                chunk = await self._read(client)
                if not chunk:
                    return
                result = hello.feed(chunk)
            host = result.server_name if isinstance(result, ClientHello) else None
            if host is None or not self._allowed(host):
                await close_gently(client.reader, client.writer, responses.TLS_ACCESS_DENIED)
                return
            await self._tunnel(client, host, original_port or self.config.tls_port, hello.raw)
            return
        head = RequestHeadReader(original_port or self.config.http_port, self.config.head_limit)
        parsed = head.feed(first)
        while parsed is NEED_MORE:
            chunk = await self._read(client)
            if not chunk:
                return
            parsed = head.feed(chunk)
        if isinstance(parsed, BadRequest) or not isinstance(parsed, RequestHead):
            await self._refuse_http(client, parsed)
            return
        if not self._allowed(parsed.host):
            await close_gently(
                client.reader, client.writer, responses.blocked_page(parsed.host, self._ui())
            )
            return
        port = original_port or parsed.port
        await self._tunnel(client, parsed.host, port, parsed.head + parsed.rest, http=True)

    async def _explicit(self, client: _Client) -> None:
        head = RequestHeadReader(80, self.config.head_limit)
        parsed = head.feed(b"")
        while parsed is NEED_MORE:
            chunk = await self._read(client)
            if not chunk:
                return
            parsed = head.feed(chunk)
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
            first = parsed.origin_form() + parsed.rest
            await self._tunnel(client, parsed.host, parsed.port, first, http=True)

    # -- helpers -------------------------------------------------------------------------------
    def _ui(self) -> int | None:
        return self.config.ui_port

    def _allowed(self, host: str) -> bool:
        if self._rules.host_allowed(host).allowed:
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
        upstream = await self._connect(host, port)
        if upstream is None:
            self.stats.upstream_errors += 1
            page = responses.error_page(502, "Bad Gateway", f"{host} could not be reached")
            await close_gently(client.reader, client.writer, page if (http or connect) else b"")
            return
        up_reader, up_writer = upstream
        if connect:
            client.writer.write(responses.CONNECT_OK)
        if first:
            up_writer.write(first)
        tunnel = Tunnel(host, client.writer, up_writer)
        client.tunnel = tunnel
        self._tunnels.add(tunnel)
        # The rules may have changed while we were connecting.
        if not self._rules.host_allowed(host).allowed:
            tunnel.close()
            return
        await relay(tunnel, client.reader, up_reader)

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.connect_timeout
        addresses = await asyncio.wait_for(
            self._resolver.resolve(host), self.config.connect_timeout
        )
        for address in addresses:
            if not usable_upstream(address, self.config.allow_loopback_upstream):
                continue
            if address in self.config.listen and port == self.port:
                continue  # would loop back into ourselves
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(address, port, limit=256 * 1024), remaining
                )
            except (OSError, TimeoutError):
                continue
        return None

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
