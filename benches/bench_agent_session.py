"""Agent session benchmarks (issue 3):

(a) a teacher's Start to the new plan handed to the enforcers, through `AgentService.start`
    (token already issued; includes the session machine, rule compilation, the event log write)
    next to an empty function call measured the same way. Target: p99 <= 50 ms.
(b) an idle `lessongate-agent run` (no session, UI not open, enforce = false) over N seconds with
    psutil: resident memory and CPU, next to a bare `python -c "import time; time.sleep(N)"`.
    Targets: <= 60 MB, <= 1 % of one core.

    .venv/bin/python benches/bench_agent_session.py [--runs 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from argon2 import PasswordHasher

import policies
from agent.config import AgentConfig
from agent.enforce.base import Health
from agent.plan import EnforcementPlan, LockState
from agent.service import AgentService

OBJ = "CCSS.MATH.3.OA.A.1"


class StampingEnforcer:
    name = "stamp"

    def __init__(self) -> None:
        self.opened_at = 0

    def apply(self, plan: EnforcementPlan) -> None:
        if plan.state is LockState.OPEN:
            self.opened_at = time.perf_counter_ns()

    def revert(self) -> None: ...

    def health(self) -> Health:
        return Health(self.name, True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_start(runs: int, state: Path) -> list[tuple[str, list[float]]]:
    teachers = state / "teachers.toml"
    teachers.write_text(f'[teachers]\n"t-ada" = "{PasswordHasher().hash("4821")}"\n')
    cfg = AgentConfig(
        state_dir=state / "s",
        policy_dir=policies.DEFAULT_POLICY_DIR,
        verifier_file=teachers,
        device_id="demo-device",
    )
    stamp = StampingEnforcer()
    service = AgentService(cfg, [stamp])
    service.startup()
    token = service.teacher_login("t-ada", "4821").token
    assert token

    def noop() -> None:
        pass

    def timed(fn: Callable[[], None]) -> float:
        t0 = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t0) / 1e6

    baseline = [timed(noop) for _ in range(runs)]
    to_plan: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        outcome = service.start(token, [OBJ], 30)
        assert outcome.ok, outcome
        to_plan.append((stamp.opened_at - t0) / 1e6)
        service.end(token)
    return [("empty function call (baseline)", baseline), ("Start -> plan at enforcers", to_plan)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(proc: psutil.Process, seconds: float) -> tuple[float, float, float]:
    """(CPU % of one core, mean RSS MB, max RSS MB) over `seconds`, sampled every second."""
    family = [proc, *proc.children(recursive=True)]
    cpu0 = sum(sum(p.cpu_times()[:2]) for p in family)
    t0 = time.monotonic()
    rss: list[float] = []
    while time.monotonic() - t0 < seconds:
        rss.append(sum(p.memory_info().rss for p in family) / 2**20)
        time.sleep(1)
    cpu1 = sum(sum(p.cpu_times()[:2]) for p in family)
    return 100 * (cpu1 - cpu0) / (time.monotonic() - t0), statistics.mean(rss), max(rss)


def bench_idle(seconds: float, state: Path) -> list[tuple[str, tuple[float, float, float]]]:
    conf = state / "agent.toml"
    conf.write_text(
        f'state_dir = "idle"\ndevice_id = "demo-device"\nenforce = false\nui_port = 0\n'
        f"proxy_port = {free_port()}\n"
    )
    env = {**os.environ, "LESSONGATE_AGENT_CONFIG": str(conf)}
    agent = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "run"], env=env, stderr=subprocess.DEVNULL
    )
    bare = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds + 30})"])
    try:
        sock = state / "idle" / "control.sock"
        deadline = time.monotonic() + 60
        while not sock.exists():
            if agent.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the agent did not start")
            time.sleep(0.1)
        time.sleep(2)  # let start-up work settle; idle is what is measured
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(measure, psutil.Process(agent.pid), seconds)
            b = pool.submit(measure, psutil.Process(bare.pid), seconds)
            return [
                ("bare python sleep (baseline)", b.result()),
                ("lessongate-agent run", a.result()),
            ]
    finally:
        for p in (agent, bare):
            p.terminate()
            p.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_start(args.runs, Path(tmp))
        base50 = pct(rows[0][1], 0.5)
        print(f"\n(a) Start -> enforcement plan, {args.runs} runs (target p99 <= 50 ms)")
        print(f"{'case':34} {'p50 ms':>10} {'p99 ms':>10} {'max ms':>10} {'p50/baseline':>13}")
        for name, values in rows:
            p50, p99 = pct(values, 0.5), pct(values, 0.99)
            ratio = p50 / base50 if base50 else float("nan")
            print(f"{name:34} {p50:10.4f} {p99:10.4f} {max(values):10.4f} {ratio:13.0f}")
        idle = bench_idle(args.seconds, Path(tmp))
        print(f"\n(b) idle over {args.seconds:.0f} s (targets <= 60 MB RSS, <= 1 % CPU)")
        print(
            f"{'process':34} {'CPU %':>8} {'RSS mean MB':>12} {'RSS max MB':>11} {'RSS ratio':>10}"
        )
        base_rss = idle[0][1][1]
        for name, (cpu, rss, rss_max) in idle:
            print(f"{name:34} {cpu:8.2f} {rss:12.1f} {rss_max:11.1f} {rss / base_rss:10.1f}")


if __name__ == "__main__":
    main()
