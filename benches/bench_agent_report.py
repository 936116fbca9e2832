"""Agent ⇄ server benchmarks (issue 6), with a real `lessongate-server` and `lessongate-agent`:

(a) steady state of an enrolled agent: heartbeats (every `--heartbeat` s) and an idle command
    long-poll, no session, over `--seconds`: CPU and RSS with psutil, next to a bare python
    interpreter measured at the same time. Targets: <= 60 MB RSS, <= 1 % of one core.
(b) outbox after an outage: 10,000 events queued while the server was down (the agent restarted
    during the outage, as a device would), then the server comes back: time until the server
    holds them all. Baseline: the same 10,000 events posted straight to /api/v1/events in
    batches of 250 by this process (the server's own intake speed). Target: <= 30 s.

    .venv/bin/python benches/bench_agent_report.py [--seconds 60] [--events 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.events import Event  # noqa: E402
from agent.report.http import ServerClient  # noqa: E402
from agent.report.outbox import Outbox  # noqa: E402
from agent.report.wire import to_wire  # noqa: E402
from tests.agent.report.harness import Agent, Server, scratch_dir, wait_for  # noqa: E402


def measure(proc: psutil.Process, seconds: float) -> tuple[float, float, float]:
    """(CPU % of one core, mean RSS MB, max RSS MB) over `seconds`, sampled every second."""
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.monotonic()
    rss: list[float] = []
    while time.monotonic() - t0 < seconds:
        rss.append(proc.memory_info().rss / 2**20)
        time.sleep(1)
    cpu1 = sum(proc.cpu_times()[:2])
    return 100 * (cpu1 - cpu0) / (time.monotonic() - t0), sum(rss) / len(rss), max(rss)


def count(server: Server, device: str) -> int:
    with contextlib.closing(server.db()) as db:
        found = db.execute(
            "SELECT count(*) FROM device_events WHERE device_id = ?", (device,)
        ).fetchone()
    return int(found[0])


def steady(
    root: Path, server: Server, seconds: float, heartbeat: float
) -> list[tuple[str, tuple[float, float, float]]]:
    (root / "steady").mkdir()
    agent = Agent(root / "steady", heartbeat=heartbeat)
    agent.enroll(server, server.token())
    agent.start()
    bare = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds + 30})"])
    try:
        wait_for(lambda: agent.server().get("policy_bundle"), 60)
        time.sleep(3)  # start-up work settles; steady state is what is measured
        assert agent.proc is not None
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(measure, psutil.Process(agent.proc.pid), seconds)
            b = pool.submit(measure, psutil.Process(bare.pid), seconds)
            rows = [("bare python sleep (baseline)", b.result()), ("enrolled agent", a.result())]
        contact = agent.server().get("last_contact") or 0
        assert time.time() - contact < heartbeat * 3, "the agent stopped talking to the server"
        return rows
    finally:
        agent.stop()
        bare.terminate()
        bare.wait(10)


def outage(root: Path, server: Server, events: int) -> list[tuple[str, float]]:
    # Baseline: this process posts the same number of events straight to the server.
    direct_token = server.token()
    body = ServerClient(server.url).enroll(direct_token, "bench-direct", "bench-direct", "bench")
    direct = ServerClient(server.url, body["device_token"])
    wire = [to_wire(Event.new("session_started", {"n": i}), i) for i in range(events)]
    t0 = time.perf_counter()
    for i in range(0, events, 250):
        direct.post_events(wire[i : i + 250])
    baseline = time.perf_counter() - t0

    (root / "outage").mkdir()
    agent = Agent(root / "outage", heartbeat=2.0)
    device = agent.enroll(server, server.token())
    server.stop()
    outbox = Outbox(agent.state / "outbox.sqlite3")
    for i in range(events):
        outbox.append(Event.new("session_started", {"teacher_id": "t-bench", "n": i}))
    outbox.close()
    agent.start()  # restarted during the outage; it finds the server gone and backs off
    wait_for(lambda: agent.server().get("last_error"), 60)
    try:
        server.start()
        t0 = time.perf_counter()
        wait_for(lambda: count(server, device) >= events, 120, every=0.05)
        drained = time.perf_counter() - t0
    finally:
        agent.stop()
    return [
        ("direct POST, 250 per batch (baseline)", baseline),
        ("agent outbox after outage", drained),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--heartbeat", type=float, default=5.0)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    with scratch_dir() as root:
        server = Server(root / "server")
        server.data_dir.mkdir()
        server.setup()
        server.start()
        try:
            rows = steady(root, server, args.seconds, args.heartbeat)
            print(
                f"\n(a) steady state over {args.seconds:.0f} s, heartbeat every "
                f"{args.heartbeat:g} s + idle long-poll (targets <= 60 MB RSS, <= 1 % CPU)"
            )
            print(
                f"{'process':34} {'CPU %':>8} {'RSS mean MB':>12} {'RSS max MB':>11}"
                f" {'RSS ratio':>10}"
            )
            base = rows[0][1][1]
            for name, (cpu, rss, rss_max) in rows:
                print(f"{name:34} {cpu:8.2f} {rss:12.1f} {rss_max:11.1f} {rss / base:10.1f}")
            drain = outage(root, server, args.events)
        finally:
            server.stop()
    print(f"\n(b) {args.events} queued events delivered after an outage (target <= 30 s)")
    print(f"{'case':40} {'seconds':>9} {'events/s':>10} {'ratio':>7}")
    for name, secs in drain:
        print(f"{name:40} {secs:9.2f} {args.events / secs:10.0f} {secs / drain[0][1]:7.1f}")


if __name__ == "__main__":
    main()
