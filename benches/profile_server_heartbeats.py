"""Where a heartbeat's server time goes: py-spy samples a real `lessongate-server serve` under
warm heartbeat saturation (the load of bench_server_heartbeats.py) and this prints the share of
samples per stage and the functions with the most samples of their own.

    .venv/bin/pip install py-spy   # bench-only tool, not a project dependency
    .venv/bin/python benches/profile_server_heartbeats.py [--postgres] [--seconds 12]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_server_heartbeats import add_devices, saturate, token_stream

from tests.server_stub.serverproc import Server, prepare, scratch_postgres

# First match wins, so the order goes from the most specific stack frame to the least.
STAGES = [
    ("flush thread: UPDATE executemany, bind values, JSON", ["HeartbeatBuffer._write"]),
    ("token cache misses (batched SELECT)", ["DeviceDirectory._select"]),
    ("policy version check (per room, every 2 s)", ["_policy_version"]),
    ("response write: uvicorn send -> socket", ["RequestResponseCycle.send"]),
    ("heartbeat: JSON validation (pydantic)", ["model_validate_json"]),
    ("heartbeat: state row and answer", ["accept (server_stub"]),
    ("heartbeat: token digest, cache lookup", ["token_digest", "DeviceDirectory.find"]),
    ("fast path: headers, body read", ["HeartbeatFastPath"]),
    ("ASGI middleware above the fast path", ["RequestResponseCycle.run_asgi"]),
    ("HTTP parsing (httptools callbacks)", ["HttpToolsProtocol"]),
    ("worker threads: bookkeeping, GIL waits", ["Thread._bootstrap"]),
    ("event loop (uvloop: epoll, recv, timers)", ["Runner.run"]),
]


def record(url: str, seconds: float, out: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy not found: .venv/bin/pip install py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        prepare(data, url)
        tokens = add_devices(data, url, 3000, "profile")
        with Server(data, url) as srv:
            uvloop.run(saturate(srv.port, 5, token_stream(tokens)))  # every token cached
            cmd = [spy, "record", "-r", "200", "-d", str(seconds), "-f", "raw", "-o", str(out)]
            cmd += ["--pid", str(srv.proc.pid), "--subprocesses", "--nonblocking"]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            uvloop.run(saturate(srv.port, seconds, token_stream(tokens)))
            proc.wait(60)


def report(raw: Path) -> None:
    stages: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [f for f in stack.split(";")[1:] if f]
        if frames:
            own[frames[-1].split(" (")[0]] += n
        stage = next((label for label, keys in STAGES if any(k in stack for k in keys)), "other")
        stages[stage] += n
    print(f"\n{total} samples of the server process (py-spy, 200 Hz, idle threads left out)\n")
    print(f"{'stage':<55} {'share':>6}")
    for label in [s for s, _ in STAGES] + ["other"]:
        print(f"{label:<55} {stages[label] / max(1, total):>6.0%}")
    print(f"\n{'function (own samples)':<55} {'share':>6}")
    for name, n in own.most_common(15):
        print(f"{name[:55]:<55} {n / max(1, total):>6.1%}")


@contextlib.contextmanager
def database(postgres: bool) -> Iterator[str]:
    if not postgres:
        yield ""
        return
    with scratch_postgres() as url:
        yield url


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--seconds", type=float, default=12)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.postgres) as url:
        raw = Path(tmp) / "samples.txt"
        record(url, args.seconds, raw)
        report(raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
