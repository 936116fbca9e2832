"""The test "internet", run inside its own network namespace by tests/e2e/lab.py.

Every address answers HTTP (80), HTTPS (443), TCP 853 and 8080 with a line naming the address
that answered, echoes UDP 443 (QUIC-ish), and `/big?bytes=N` streams N bytes (for benches).
203.0.113.53 also answers DNS for the test names.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from urllib.parse import parse_qs, urlsplit

from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSServer

SITES = {
    "allowed.test": "203.0.113.10",
    "cdn.test": "203.0.113.11",
    "other.test": "203.0.113.20",
    "dns.test": "203.0.113.53",
}
CHUNK = b"\0" * (1 << 20)


class TestNames(BaseResolver):  # type: ignore[misc]
    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name in SITES and request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(SITES[name]), ttl=60))
        return reply


async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    local, port = writer.get_extra_info("sockname")[:2]
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1] if " " in lines[0] else "/"
    host = next(
        (v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "host"),
        "",
    )
    url = urlsplit(target)
    if url.path == "/big":
        size = int(parse_qs(url.query).get("bytes", ["0"])[0])
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode()
        )
        while size > 0:
            writer.write(CHUNK[: min(size, len(CHUNK))])
            size -= len(CHUNK)
            await writer.drain()
    else:
        line = f"site={local} port={port} host={host} path={url.path}"
        body = f"<html><title>{url.path}</title><p>{line}</p></html>\n".encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
    try:
        await writer.drain()
    finally:
        writer.close()


async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    local, port = writer.get_extra_info("sockname")[:2]
    writer.write(f"site={local} port={port}\n".encode())
    await writer.drain()
    writer.close()


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]


async def main(cert: str, key: str) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    loop = asyncio.get_running_loop()
    for address in SITES.values():
        await asyncio.start_server(http, address, 80, backlog=4096)
        await asyncio.start_server(http, address, 443, ssl=tls, backlog=4096)
        await asyncio.start_server(plain, address, 853)
        await asyncio.start_server(plain, address, 8080)
        await loop.create_datagram_endpoint(Echo, local_addr=(address, 443))
    dns = DNSServer(TestNames(), address=SITES["dns.test"], port=53)
    dns.start_thread()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
