"""Sustained heartbeats per second from many simulated devices against a real
`lessongate-server serve`, on SQLite and on PostgreSQL, with p50/p99 latency.

The baseline is the same load on GET /healthz (no database) in the same run, so the ratio says
what authentication plus the state write cost. Load generator and server share this machine's
cores, so absolute numbers are a floor. Bounded: a few seconds per measurement.

    .venv/bin/python benches/bench_server_heartbeats.py [--seconds 10] [--devices 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server_stub.serverproc import (
    Server,
    enroll_many,
    prepare,
    scratch_postgres,
)

CONCURRENCY = 64


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def heartbeat(i: int) -> dict[str, object]:
    return {
        "lock_state": "closed" if i % 3 else "open",
        "session": None,
        "policy_version": "bench",
        "health": {"ok": True, "problems": []},
        "agent_version": "0.1.0",
        "uptime_s": 1000 + i,
        "cpu_percent": 2.5,
        "memory_percent": 31.0,
        "blocked_counts": {"www.youtube.com": i % 7, "games.example": 1},
    }


class Conn:
    """One keep-alive HTTP/1.1 connection with raw asyncio streams: far cheaper per request than
    a full client library, so the generator does not hide the server's cost."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def raw_request(method: str, path: str, body: bytes = b"", token: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def load(label: str, port: int, seconds: float, requests: list[bytes]) -> Result:
    latencies: list[float] = []
    errors = 0
    conns = [await Conn.open(port) for _ in range(CONCURRENCY)]
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(w: int) -> None:
        nonlocal errors
        i = w
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            status = await conns[w].request(requests[i % len(requests)])
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += status != 200
            i += CONCURRENCY

    await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    return Result(label, len(latencies), errors, elapsed, latencies)


def measure(label: str, port: int, tokens: list[str], seconds: float) -> list[Result]:
    rng = random.Random(1)
    beats = [
        raw_request(
            "POST", "/api/v1/heartbeat", json.dumps(heartbeat(i)).encode(), rng.choice(tokens)
        )
        for i in range(2000)
    ]
    healthz = [raw_request("GET", "/healthz")]
    base = asyncio.run(load(f"{label}: GET /healthz (baseline)", port, seconds / 2, healthz))
    hb = asyncio.run(load(f"{label}: POST /api/v1/heartbeat", port, seconds, beats))
    return [base, hb]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--devices", type=int, default=300)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sqlite"
        token = prepare(data)
        with Server(data) as srv:
            tokens = enroll_many(srv.url, token, args.devices)
            results += measure("SQLite", srv.port, tokens, args.seconds)
        if not args.skip_postgres:
            with scratch_postgres() as url:
                data = Path(tmp) / "pg"
                token = prepare(data, url)
                with Server(data, url) as srv:
                    tokens = enroll_many(srv.url, token, args.devices)
                    results += measure("PostgreSQL", srv.port, tokens, args.seconds)
    print(
        f"\nHeartbeats: {args.devices} devices, {CONCURRENCY} concurrent connections, "
        f"one server process, load generator on the same machine\n"
    )
    print(
        f"{'measurement':<42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs base':>8}"
    )
    base = None
    for r in results:
        if "baseline" in r.label:
            base = r
        ratio = r.rate / base.rate if base else float("nan")
        print(
            f"{r.label:<42} {r.rate:>8.0f} {r.pct(0.5):>8.1f} {r.pct(0.99):>8.1f} "
            f"{r.errors:>7} {ratio:>7.2f}x"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    median = statistics.median(r.rate for r in results if "heartbeat" in r.label)
    print(f"\nmedian heartbeat rate {median:.0f}/s; target 2000/s (60,000 devices at 30 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
