"""Filtering proxy costs, measured in the e2e namespaces: the same client as the student
(redirected through the proxy) and as root (exempt: direct), in the same run.

    .venv/bin/python benches/bench_proxy.py

Targets (issue 4): added TTFB for a new HTTPS connection <= 1 ms p50 / 5 ms p99; throughput
>= 80 % of direct for 200 MB; >= 500 new tunnels per second with the proxy on one core.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.lab import Lab

PIN_AGENT: list[str] = (sys.argv[1:2] == ["--pin"] and ["taskset", "-c", "0"]) or []
IP = "203.0.113.10"  # the client connects by address: DNS time is not the proxy's
CLIENT = str(Path(__file__).with_name("bench_proxy_client.py"))


def measure(lab: Lab, student: bool, *args: str) -> dict[str, float]:
    argv = ["taskset", "-c", "1", "/usr/bin/python3", CLIENT, *args]
    done = subprocess.run(
        lab.in_device(argv, student=student), capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return dict(json.loads(done.stdout))


def main() -> None:
    lab = Lab()
    lab.agent_prefix = PIN_AGENT
    try:
        lab.up()
        lab.start_agent()
        assert lab.command("open E2E.SCI-1") == "ok open"
        rows = []
        for label, args in (
            ("TTFB new HTTPS (ms)", ("ttfb", "allowed.test", IP, "300", str(lab.ca))),
            ("throughput 200 MB HTTP (MB/s)", ("throughput", "allowed.test", IP, str(200_000_000))),
            ("new TLS tunnels/s", ("tunnels", "allowed.test", IP, "5", "64")),
        ):
            direct = measure(lab, False, *args)
            proxied = measure(lab, True, *args)
            rows.append((label, direct, proxied))
    finally:
        lab.down()
    print(f"{'measure':32} {'direct':>22} {'through proxy':>22} {'ratio/added':>14}")
    for label, direct, proxied in rows:
        if "p50_ms" in direct:
            for key in ("p50_ms", "p99_ms"):
                added = proxied[key] - direct[key]
                print(
                    f"{label + ' ' + key:32} {direct[key]:22.2f} {proxied[key]:22.2f} "
                    f"{added:+13.2f}ms"
                )
        elif "MB_per_s" in direct:
            ratio = proxied["MB_per_s"] / direct["MB_per_s"]
            print(
                f"{label:32} {direct['MB_per_s']:22.0f} {proxied['MB_per_s']:22.0f} {ratio:13.0%}"
            )
        else:
            ratio = proxied["per_s"] / direct["per_s"]
            print(
                f"{label:32} {direct['per_s']:22.0f} {proxied['per_s']:22.0f} {ratio:13.0%}"
                f"  (failed: {proxied['failed']:.0f})"
            )


if __name__ == "__main__":
    main()
