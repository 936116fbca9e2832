"""Sustained heartbeats per second from many simulated devices against a real
`lessongate-server serve`, on SQLite and on PostgreSQL (one and two worker processes), with
p50/p99 latency.

Baselines in the same run: GET /healthz (no database) against the same server, and optionally
the server as it was at an older commit (`--before REV`, run from `git archive` of that commit).

Two kinds of load:
- saturation: 64 keep-alive connections, each sending its next request when the last is answered
  (latency here is mostly queueing: 64 / rate);
- paced: the target rate (2,000/s) offered on a fixed schedule by 200 connections; latency counts
  from the scheduled send time, so a server that falls behind cannot hide it.
"Cold" heartbeats come from devices the server has not seen since it started (token cache misses,
the wave after a restart); "warm" ones from devices it has seen (the steady state).

The load generator is one process with uvloop and raw keep-alive connections; its own CPU share
is printed, and so is the server's CPU time per request, which stays meaningful when other work
loads the machine: 1e6 / (CPU us per request) is what one free core could serve.

    .venv/bin/python benches/bench_server_heartbeats.py [--seconds 6] [--devices 60000]
        [--before 2d22dd0] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server_stub.config import Settings
from server_stub.db.models import Device, utcnow
from server_stub.db.session import make_engine
from server_stub.security import token_digest
from tests.server_stub.serverproc import Server, prepare, scratch_postgres

SATURATION_CONNS = 64
PACED_CONNS = 200
TARGET_RATE = 2000
ERROR = -1.0  # in place of a latency: the answer was not 200


@dataclass
class Result:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float
    db_cpu_s: float
    client_cpu_s: float
    load: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms) or [float("nan")]
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def server_us(self) -> float:
        return self.server_cpu_s / max(1, self.requests) * 1e6

    @property
    def db_us(self) -> float:
        return self.db_cpu_s / max(1, self.requests) * 1e6


def heartbeat(i: int) -> bytes:
    body = {
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
    return json.dumps(body).encode()


def raw_request(method: str, path: str, body: bytes = b"", token: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, parsed by hand: a few microseconds per request."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at) % (len(head) + 1)]) if at >= 0 else 0
        if len(self.buf) < end + 4 + length:
            return
        del self.buf[: end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"server closed the connection ({exc})"))

    async def request(self, raw: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def _open(port: int, n: int) -> list[Conn]:
    loop = asyncio.get_running_loop()
    return [(await loop.create_connection(Conn, "127.0.0.1", port))[1] for _ in range(n)]


async def saturate(port: int, seconds: float, next_request: Callable[[], bytes]) -> list[float]:
    latencies: list[float] = []
    conns = await _open(port, SATURATION_CONNS)
    deadline = time.perf_counter() + seconds

    async def worker(c: Conn) -> None:
        while time.perf_counter() < deadline:
            raw = next_request()
            t0 = time.perf_counter()
            status = await c.request(raw)
            latencies.append((time.perf_counter() - t0) * 1000 if status == 200 else ERROR)

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        assert c.transport is not None
        c.transport.close()
    return latencies


async def paced(port: int, seconds: float, next_request: Callable[[], bytes]) -> list[float]:
    latencies: list[float] = []
    conns = await _open(port, PACED_CONNS)
    start = time.perf_counter() + 0.05
    gap = PACED_CONNS / TARGET_RATE

    async def worker(k: int, c: Conn) -> None:
        due = start + k / TARGET_RATE
        while due < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            status = await c.request(next_request())
            late = max(0.0, time.perf_counter() - due) * 1000
            latencies.append(late if status == 200 else ERROR)
            due += gap

    await asyncio.gather(*(worker(k, c) for k, c in enumerate(conns)))
    for c in conns:
        assert c.transport is not None
        c.transport.close()
    return latencies


def postgres_cpu() -> dict[tuple[int, float], float]:
    """CPU seconds of each PostgreSQL process on the machine (others' queries included, if any),
    keyed by (pid, start time) so that processes that come and go are told apart."""
    found = {}
    for p in psutil.process_iter(["name", "cpu_times", "create_time"]):
        times = p.info["cpu_times"]
        if p.info["name"] == "postgres" and times is not None:
            found[(p.pid, p.info["create_time"])] = times.user + times.system
    return found


def postgres_cpu_since(before: dict[tuple[int, float], float]) -> float:
    # Backends that ended during the window take their CPU time with them: a slight undercount.
    return sum(t - before.get(key, 0.0) for key, t in postgres_cpu().items())


def cpu_seconds(pid: int) -> float:
    total = 0.0
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def srv_uses_postgres(srv: Server) -> bool:
    return "--database-url" in [str(a) for a in srv.proc.args]  # type: ignore[union-attr]


def measure(label: str, srv: Server, seconds: float, mode: str, gen: Callable[[], bytes]) -> Result:
    run = saturate if mode == "saturation" else paced
    cpu0, db0 = cpu_seconds(srv.proc.pid), postgres_cpu()
    client0, t0 = time.process_time(), time.perf_counter()
    lat = uvloop.run(run(srv.port, seconds, gen))
    elapsed = time.perf_counter() - t0
    ok = [x for x in lat if x != ERROR]
    return Result(
        label,
        len(ok),
        len(lat) - len(ok),
        elapsed,
        ok,
        cpu_seconds(srv.proc.pid) - cpu0,
        postgres_cpu_since(db0) if srv_uses_postgres(srv) else 0.0,
        time.process_time() - client0,
        os.getloadavg()[0],
    )


def add_devices(data: Path, url: str, count: int, tag: str) -> list[str]:
    """Devices straight into the database (enrolling 60,000 over HTTP would take minutes)."""
    prefix = secrets.token_hex(4)
    tokens = [f"bench-{prefix}-{i}-{secrets.token_hex(8)}" for i in range(count)]
    engine = make_engine(Settings(data_dir=data, database_url=url))
    now = utcnow()
    rows = [
        {
            "id": f"dev-{prefix}-{i:06d}",
            "token_hash": token_digest(t),
            "hostname": f"sim-{i:06d}",
            "room_id": "lab-3a",
            "school": tag[:200],
            "os": "linux",
            "enrolled_at": now,
            "lock_state": "unknown",
        }
        for i, t in enumerate(tokens)
    ]
    with engine.begin() as conn:
        conn.execute(Device.__table__.insert(), rows)  # type: ignore[attr-defined]
    engine.dispose()
    return tokens


def token_stream(tokens: list[str]) -> Callable[[], bytes]:
    bodies = [heartbeat(i) for i in range(64)]
    pos = 0

    def next_request() -> bytes:
        nonlocal pos
        tok = tokens[pos % len(tokens)]
        pos += 1
        return raw_request("POST", "/api/v1/heartbeat", bodies[pos % 64], tok)

    return next_request


@contextmanager
def old_checkout(rev: str) -> Iterator[list[str]]:
    """The server as it was at `rev`, as a command line."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(repo), "archive", rev], capture_output=True)
        archive.check_returncode()
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        code = f"import sys; sys.path.insert(0, {tmp!r}); from server_stub.cli import main; "
        yield [sys.executable, "-c", code + "sys.exit(main())"]


def bench_backend(
    name: str, url: str, tmp: Path, args: argparse.Namespace, before: list[str] | None
) -> list[Result]:
    results: list[Result] = []
    setups: list[tuple[str, tuple[str, ...], list[str] | None]] = []
    if before is not None:
        setups.append((f"before ({args.before})", (), before))
    setups.append(("1 process", (), None))
    if url:
        setups.append(("2 workers", ("--workers", "2"), None))
    for label, extra, command in setups:
        with database(url, command is not None) as db_url:
            results += bench_server(f"{name}, {label}", db_url, tmp, args, extra, command)
    return results


@contextmanager
def database(url: str, separate: bool) -> Iterator[str]:
    """The old code gets a database of its own: today's stored policy may not load in it."""
    if url and separate:
        with scratch_postgres() as other:
            yield other
    else:
        yield url


def bench_server(
    tag: str,
    url: str,
    tmp: Path,
    args: argparse.Namespace,
    extra: tuple[str, ...],
    command: list[str] | None,
) -> list[Result]:
    data = tmp / tag.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    if command is None:
        prepare(data, url)
    else:
        argv = [*command, "import-policy", "--data-dir", str(data)]
        subprocess.run([*argv, *(["--database-url", url] if url else [])], check=True)
    # Fresh devices for each server, so its "cold" requests really are its first from them.
    tokens = add_devices(data, url, args.devices, tag)
    healthz = raw_request("GET", "/healthz")
    s = args.seconds
    log = Path(tempfile.gettempdir()) / f"bench-heartbeats-{data.name}.log"
    results = []
    with Server(data, url, log=log, extra_args=extra, command=command) as srv:
        results.append(measure(f"{tag}: /healthz", srv, s / 2, "saturation", lambda: healthz))
        results.append(
            measure(f"{tag}: heartbeat cold", srv, s, "saturation", token_stream(tokens))
        )
        seen = tokens[: max(1, results[-1].requests)]
        results.append(measure(f"{tag}: heartbeat warm", srv, s, "saturation", token_stream(seen)))
        results.append(measure(f"{tag}: warm, paced 2000/s", srv, s, "paced", token_stream(seen)))
    return results


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\nHeartbeats: {args.devices} simulated devices; saturation = {SATURATION_CONNS} "
        f"connections, paced = {TARGET_RATE}/s over {PACED_CONNS}; generator and server share "
        f"{psutil.cpu_count()} cores\n"
    )
    head = (
        f"{'measurement':<50} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} "
        f"{'vs hz':>6} {'srv us':>6} {'db us':>5} {'ceiling':>7} {'gen cpu':>7} {'load':>5}"
    )
    print(head)
    base: Result | None = None
    for r in results:
        if r.label.endswith("/healthz"):
            base = r
        ratio = r.rate / base.rate if base else float("nan")
        print(
            f"{r.label:<50} {r.rate:>7.0f} {r.pct(0.5):>7.1f} {r.pct(0.99):>7.1f} {r.errors:>4} "
            f"{ratio:>5.2f}x {r.server_us:>6.0f} {r.db_us:>5.0f} {ceiling(r):>7.0f} "
            f"{r.client_cpu_s / r.seconds:>6.0%} {r.load:>5.1f}"
        )
    print(
        "\nvs hz: rate against /healthz on the same server in the same run. srv us / db us: CPU "
        "time per answered request of the server (all its processes) and of PostgreSQL (all its "
        "processes on the machine). ceiling: requests/s those CPU costs allow on two otherwise "
        "idle cores (one core for a single server process, whose Python runs one thread at a "
        "time). gen cpu: the load generator's share of one core. load: 1-minute load average "
        "after the measurement."
    )


def ceiling(r: Result) -> float:
    processes = 2 if "2 workers" in r.label else 1
    return min(processes * 1e6 / max(1.0, r.server_us), 2e6 / max(1.0, r.server_us + r.db_us))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--devices", type=int, default=60000)
    ap.add_argument("--before", help="also measure the server at this git revision")
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with contextmanager_or_none(args.before) as before:
            results += bench_backend("SQLite", "", tmp, args, before)
            if not args.skip_postgres:
                with scratch_postgres() as url:
                    results += bench_backend("PostgreSQL", url, tmp, args, before)
    print_table(results, args)
    return 0


@contextmanager
def contextmanager_or_none(rev: str | None) -> Iterator[list[str] | None]:
    if rev is None:
        yield None
        return
    with old_checkout(rev) as command:
        yield command


if __name__ == "__main__":
    sys.exit(main())
