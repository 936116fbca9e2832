"""A cheap, fast "internet" for bench_proxy.py, run in the lab's internet namespace instead of
tests/e2e/internet.py, so that the baseline (direct) is not the bottleneck:

- allowed.test:443 answers the first bytes of any connection at once with 2 KiB (a stand-in for
  ServerHello + certificate: the proxy only reads the ClientHello, it never sees inside TLS);
- allowed.test:80 streams `/big?bytes=N` from memory with 1 MiB blocking sendall calls;
- cdn.test:443 is a real TLS server (the lab's certificate), for a full-handshake variant;
- the test names resolve through dnslib, as in the lab.

    ip netns exec <internet> python benches/bench_proxy_upstream.py <cert> <key>
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnslib.server import DNSServer

from tests.e2e.internet import SITES, TestNames

SERVER_HELLO = b"\x16\x03\x03" + b"\x00" * 2045
BIG = memoryview(b"\0" * (1 << 20))


class Instant(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.answered = False

    def data_received(self, data: bytes) -> None:
        if not self.answered:
            self.answered = True
            self.transport.write(SERVER_HELLO)

    def eof_received(self) -> bool:
        self.transport.close()
        return False


def stream(conn: socket.socket) -> None:
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data:
                return
            head += data
        target = head.split(b" ", 2)[1].decode("latin-1")
        size = int(parse_qs(urlsplit(target).query).get("bytes", ["0"])[0])
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        try:
            while size > 0:
                n = min(size, len(BIG))
                conn.sendall(BIG[:n])
                size -= n
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError:
            pass


def serve_http(server: socket.socket) -> None:
    while True:
        conn, _ = server.accept()
        threading.Thread(target=stream, args=(conn,), daemon=True).start()


async def tls_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    writer.close()


async def main(cert: str, key: str) -> None:
    loop = asyncio.get_running_loop()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    await loop.create_server(Instant, SITES["allowed.test"], 443, backlog=4096)
    await asyncio.start_server(tls_page, SITES["cdn.test"], 443, ssl=tls, backlog=4096)
    http = socket.create_server((SITES["allowed.test"], 80), backlog=1024)
    threading.Thread(target=serve_http, args=(http,), daemon=True).start()
    DNSServer(TestNames(), address=SITES["dns.test"], port=53).start_thread()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(sys.argv[1], sys.argv[2]))
    except ImportError:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
