"""Load generator for bench_proxy.py, run inside the device namespace by /usr/bin/python3
(stdlib only: it also runs as the unprivileged student). Prints one JSON line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import sys
import time


def ttfb(host: str, host_ip: str, count: int, cafile: str) -> dict[str, float]:
    ctx = ssl.create_default_context(cafile=cafile)
    samples = []
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    for _ in range(count):
        start = time.perf_counter()
        raw = socket.create_connection((host_ip, 443), timeout=5)
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(request)
            tls.recv(1)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50_ms": samples[len(samples) // 2], "p99_ms": samples[int(len(samples) * 0.99) - 1]}


def throughput(host: str, host_ip: str, size: int) -> dict[str, float]:
    start = time.perf_counter()
    got = 0
    with socket.create_connection((host_ip, 80), timeout=10) as sock:
        sock.sendall(f"GET /big?bytes={size} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        buf = bytearray(1 << 20)
        while n := sock.recv_into(buf):
            got += n
    elapsed = time.perf_counter() - start
    return {"MB_per_s": got / elapsed / 1e6, "bytes": got}


async def _tunnel(host_ip: str, hello: bytes, sem: asyncio.Semaphore) -> bool:
    async with sem:
        try:
            reader, writer = await asyncio.open_connection(host_ip, 443)
            writer.write(hello)
            ok = bool(await asyncio.wait_for(reader.read(1), 5))
            writer.close()
            return ok
        except (OSError, TimeoutError):
            return False


def tunnels(host: str, host_ip: str, seconds: float, concurrency: int) -> dict[str, float]:
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=host)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()

    async def run() -> dict[str, float]:
        sem = asyncio.Semaphore(concurrency)
        done = ok = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            results = await asyncio.gather(*(_tunnel(host_ip, hello, sem) for _ in range(200)))
            done += len(results)
            ok += sum(results)
        elapsed = time.perf_counter() - start
        return {"per_s": ok / elapsed, "failed": done - ok}

    return asyncio.run(run())


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "ttfb":
        result = ttfb(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif mode == "throughput":
        result = throughput(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        result = tunnels(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    print(json.dumps(result))
