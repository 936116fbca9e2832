"""Loopback helpers for proxy tests: a fake resolver, an upstream that says who it is."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class MapResolver:
    """Resolves test names from a dict; unknown names resolve to nothing."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(self, host: str) -> list[str]:
        if host in self.names:
            return [self.names[host]]
        try:
            socket.inet_pton(socket.AF_INET, host)
            return [host]
        except OSError:
            return []


@contextmanager
def upstream(label: bytes, host: str = "127.0.0.1") -> Iterator[int]:
    """A TCP server that answers every connection with `label`, then echoes what it gets."""
    srv = socket.create_server((host, 0), backlog=4096)
    port = srv.getsockname()[1]
    srv.settimeout(0.1)  # so the accept loop notices `stop`
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(label)
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        srv.close()
        thread.join(2)


def connect_via(proxy_port: int, host: str, port: int, timeout: float = 5.0) -> bytes:
    """CONNECT through an explicit proxy; the status line plus what the upstream said first."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout) as sock:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        return recv_until_closed_or(sock, b"\r\n\r\n", extra=True)


def recv_until_closed_or(sock: socket.socket, marker: bytes, extra: bool = False) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk
        if marker in data:
            if not extra:
                return data
            head, _, rest = data.partition(marker)
            if head.startswith(b"HTTP/1.1 200") and not rest:
                continue
            return data
