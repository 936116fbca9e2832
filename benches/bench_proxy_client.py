"""Load generator for bench_proxy.py, run inside the device namespace by /usr/bin/python3
(stdlib only: it also runs as the unprivileged student).

A long-lived worker: bench_proxy.py starts one as root (exempt: direct) and one as the student
(redirected through the proxy) and sends both the same commands in turn, one JSON line each way,
so direct and proxied connections alternate one by one under the same load.

    hello <ip> <sni> <n>             n times: connect, send a real ClientHello, read the first
                                     byte; the milliseconds of each
    tls <ip> <sni> <cafile> <n>      n times: a full TLS handshake, a GET, the first byte
    throughput <ip> <host> <bytes>   one HTTP download; MB/s
    tunnels <ip> <sni> <seconds> <concurrency>   hellos as fast as they are answered; per second
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import sys
import time
from typing import Any


def client_hello(sni: str) -> bytes:
    """The bytes a real TLS client sends first, for `sni`."""
    tls = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), False, sni)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return out.read()


def hello(ip: str, sni: str, close: str, n: int) -> list[float]:
    """Milliseconds from connect to the first byte of the answer, `n` times. Then, with close
    "graceful", the rest of the answer is read and the connection ended with a FIN, as a TLS
    client does; with "abort" it is closed with the answer unread, which sends a reset."""
    blob = client_hello(sni)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        with socket.create_connection((ip, 443), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(blob)
            if not sock.recv(1):
                raise ConnectionError("closed before the first byte")
            samples.append((time.perf_counter() - start) * 1000)
            if close == "graceful":
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
    return samples


def tls(ip: str, sni: str, cafile: str, n: int) -> list[float]:
    ctx = ssl.create_default_context(cafile=cafile)
    request = f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        with ctx.wrap_socket(
            socket.create_connection((ip, 443), timeout=5), server_hostname=sni
        ) as s:
            s.sendall(request)
            s.recv(1)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def throughput(ip: str, host: str, size: int) -> dict[str, float]:
    got = 0
    start = time.perf_counter()
    with socket.create_connection((ip, 80), timeout=10) as sock:
        sock.sendall(f"GET /big?bytes={size} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        buf = bytearray(1 << 20)
        while n := sock.recv_into(buf):
            got += n
    elapsed = time.perf_counter() - start
    return {"MB_per_s": got / elapsed / 1e6, "bytes": got}


def tunnels(ip: str, sni: str, seconds: float, concurrency: int) -> dict[str, float]:
    blob = client_hello(sni)

    async def one() -> bool:
        try:
            reader, writer = await asyncio.open_connection(ip, 443)
        except OSError:
            return False
        try:
            writer.write(blob)
            return bool(await asyncio.wait_for(reader.read(1), 5))
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()

    async def lane(stop: float, counts: list[int]) -> None:
        while time.perf_counter() < stop:
            counts[0 if await one() else 1] += 1

    async def run() -> dict[str, float]:
        counts = [0, 0]
        start = time.perf_counter()
        await asyncio.gather(*(lane(start + seconds, counts) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        return {"per_s": counts[0] / elapsed, "failed": counts[1]}

    return asyncio.run(run())


def answer(words: list[str]) -> Any:
    mode, args = words[0], words[1:]
    if mode == "hello":
        return hello(args[0], args[1], args[2], int(args[3]))
    if mode == "tls":
        return tls(args[0], args[1], args[2], int(args[3]))
    if mode == "throughput":
        return throughput(args[0], args[1], int(args[2]))
    if mode == "tunnels":
        return tunnels(args[0], args[1], float(args[2]), int(args[3]))
    raise ValueError(f"unknown command {mode!r}")


if __name__ == "__main__":
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        try:
            result: Any = answer(line.split())
        except Exception as exc:  # reported to the bench, which stops with it
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)
