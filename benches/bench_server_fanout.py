"""Room command fan-out: time from a teacher's Start (or End) on the dashboard until every one of
30 long-polling devices of the room has the command; p50/p99 over rounds.

Runs a real `lessongate-server serve` on SQLite, and two serve processes on one PostgreSQL database
(devices poll one, the teacher posts to the other, so every command crosses LISTEN/NOTIFY). The
baseline is a GET /healthz round trip in the same run. Bounded: a fixed number of rounds.

    .venv/bin/python benches/bench_server_fanout.py [--rounds 20] [--devices 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from policies import DEFAULT_POLICY_DIR
from policies.loader import load_policy
from tests.server_stub.serverproc import (
    PASSWORD,
    Server,
    enroll_many,
    prepare,
    scratch_postgres,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def sign_in(client: httpx.AsyncClient) -> str:
    form = await client.get("/login")
    token = CSRF.search(form.text)
    assert token is not None
    await client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    page = await client.get("/rooms/lab-3a")
    token = CSRF.search(page.text)
    assert token is not None, "sign-in failed"
    return token.group(1)


async def fanout(teacher_url: str, device_url: str, tokens: list[str], rounds: int) -> list[float]:
    objective = load_policy(DEFAULT_POLICY_DIR).objectives_for_room("lab-3a")[0].id
    limits = httpx.Limits(max_connections=len(tokens) + 5)
    async with (
        httpx.AsyncClient(base_url=device_url, limits=limits, timeout=60) as devices,
        httpx.AsyncClient(base_url=teacher_url, timeout=60) as teacher,
    ):
        csrf = await sign_in(teacher)
        auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
        cursors = [
            (await devices.get("/api/v1/commands", headers=h)).json()["cursor"] for h in auth
        ]
        spans: list[float] = []
        for n in range(rounds):
            received: list[float] = []

            async def poll(i: int, received: list[float] = received) -> None:
                r = await devices.get(
                    "/api/v1/commands", params={"after": cursors[i], "wait": 20}, headers=auth[i]
                )
                body = r.json()
                if body["commands"]:
                    received.append(time.perf_counter())
                    cursors[i] = body["cursor"]

            polls = [asyncio.create_task(poll(i)) for i in range(len(tokens))]
            await asyncio.sleep(1.0)  # every device is waiting in its long-poll
            action = "start" if n % 2 == 0 else "end"
            data = {"csrf_token": csrf, "minutes": "20", "objectives": [objective]}
            t0 = time.perf_counter()
            r = await teacher.post(f"/rooms/lab-3a/{action}", data=data)
            assert r.status_code in (200, 303), r.text
            await asyncio.gather(*polls)
            if len(received) != len(tokens):
                raise RuntimeError(f"round {n}: only {len(received)} of {len(tokens)} devices")
            spans.append(max(received) - t0)
        return spans


async def healthz(url: str, count: int = 200) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=url) as c:
        for _ in range(count):
            t0 = time.perf_counter()
            await c.get("/healthz")
            out.append(time.perf_counter() - t0)
    return out


@contextlib.contextmanager
def servers(tmp: Path, kind: str, count: int) -> Iterator[tuple[list[Server], str]]:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(scratch_postgres()) if kind == "postgresql" else ""
        data = tmp / kind
        token = prepare(data, url)
        running = [stack.enter_context(Server(data, url)) for _ in range(count)]
        yield running, token


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--devices", type=int, default=30)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        setups = [("SQLite, 1 process", "sqlite", 1)]
        if not args.skip_postgres:
            setups.append(("PostgreSQL, 2 processes", "postgresql", 2))
        for label, kind, count in setups:
            with servers(Path(tmp), kind, count) as (running, enroll_token):
                first, last = running[0], running[-1]
                tokens = enroll_many(last.url, enroll_token, args.devices)
                base = asyncio.run(healthz(first.url))
                spans = asyncio.run(fanout(first.url, last.url, tokens, args.rounds))
                rows.append((label, base, spans))
    print(
        f"\nRoom fan-out: {args.devices} long-polling devices, {args.rounds} rounds "
        "(Start/End alternating), teacher on the dashboard\n"
    )
    print(
        f"{'setup':<26} {'healthz p50':>12} {'all-have-it p50':>16} {'p99':>8} {'max':>8} "
        f"{'p99/healthz':>12}"
    )
    for label, base, spans in rows:
        b = pct(base, 0.5) * 1000
        p50, p99, mx = (pct(spans, 0.5) * 1000, pct(spans, 0.99) * 1000, max(spans) * 1000)
        print(
            f"{label:<26} {b:>10.1f}ms {p50:>14.1f}ms {p99:>6.0f}ms {mx:>6.0f}ms {p99 / b:>11.1f}x"
        )
    print(f"\ntarget: p99 <= 2000 ms; load average at the end {os.getloadavg()[0]:.1f} (2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
