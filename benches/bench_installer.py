"""Installer benchmarks (issue 7), on the PyInstaller build of the current tree (cached in .cache/):

(a) size of the built service bundle (and of the panel bundle when `make build` made one);
(b) cold start of `lessongate-agent status` from the built binary, answered by a running agent
    (safe mode, temp state), N runs: median and p90, next to `python -c pass` and to the same
    command from the source tree (the venv), measured in the same run;
(c) service start to ready: the built agent, installed from the .deb into the throwaway Debian
    root with its own network namespace (tests/installer/throwaway_root.py), started in enforce
    mode until `status` reports every backend healthy (nftables table loaded, proxy listening);
    several starts, median and max. Target: <= 3 s.

    .venv/bin/python benches/bench_installer.py [--runs 10] [--starts 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.installer import builds  # noqa: E402
from tests.installer.throwaway_root import debian_root, run_in_root  # noqa: E402

READY_SCRIPT = r"""
set -u
dpkg -i /srv/test/agent.deb >/dev/null 2>&1 || { echo "@ ERROR dpkg"; exit 1; }
n=0
while [ "$n" -lt STARTS ]; do
  t0=$(date +%s%N)
  lessongate-agent --config /etc/lessongate/agent.toml run >/tmp/agent.log 2>&1 &
  pid=$!
  ready=
  i=0
  while [ "$i" -lt 1000 ]; do
    if s=$(lessongate-agent --config /etc/lessongate/agent.toml status --json 2>/dev/null) \
        && printf '%s' "$s" | grep -q '"name": "nftables"' \
        && ! printf '%s' "$s" | grep -q '"ok": false'; then
      ready=$(date +%s%N)
      break
    fi
    i=$((i + 1))
    sleep 0.01
  done
  nft list table inet lessongate >/dev/null 2>&1 || ready=
  echo "@ READY_NS ${ready:+$((ready - t0))}"
  kill "$pid"; wait "$pid"
  n=$((n + 1))
done
"""


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _timed(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return times


def _p90(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.9 * len(values)) - 1)]


def bench_sizes(dist: Path) -> None:
    agent = dist / "lessongate-agent"
    print("(a) built sizes")
    print(f"  {'bundle':<34}{'MB':>8}")
    print(f"  {'lessongate-agent/ (service, CLI)':<34}{_du(agent) / 1e6:>8.1f}")
    exe_mb = (agent / "lessongate-agent").stat().st_size / 1e6
    print(f"  {'  lessongate-agent (executable)':<34}{exe_mb:>8.1f}")
    panel = REPO / "dist" / "lessongate-panel"
    if panel.is_dir():
        print(f"  {'lessongate-panel/ (Qt WebEngine)':<34}{_du(panel) / 1e6:>8.1f}")
    else:
        print("  lessongate-panel/: not built (make build)")


def bench_status(dist: Path, runs: int) -> None:
    binary = dist / "lessongate-agent" / "lessongate-agent"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "agent.toml"
        config.write_text(f'state_dir = "{tmp}/state"\nproxy_port = 0\n', encoding="utf-8")
        clean = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        agent = subprocess.Popen(
            [str(binary), "--config", str(config), "run"],
            env=clean,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            status = [str(binary), "--config", str(config), "status", "--json"]
            deadline = time.monotonic() + 30
            while subprocess.run(status, env=clean, capture_output=True).returncode != 0:
                if time.monotonic() > deadline:
                    raise SystemExit("agent did not answer within 30 s")
                time.sleep(0.1)
            rows = [
                ("python -c pass (baseline)", _timed([sys.executable, "-c", "pass"], runs)),
                ("built: lessongate-agent status", _timed(status, runs, clean)),
                (
                    "venv: lessongate-agent status",
                    _timed(
                        [str(REPO / ".venv/bin/lessongate-agent"), *status[1:]],
                        runs,
                        {**clean, "PATH": f"{REPO}/.venv/bin:/usr/bin:/bin"},
                    ),
                ),
            ]
        finally:
            agent.terminate()
            agent.wait(10)
    base = statistics.median(rows[0][1])
    print(f"\n(b) cold start, {runs} runs each")
    print(f"  {'command':<34}{'median ms':>10}{'p90 ms':>10}{'x baseline':>12}")
    for name, times in rows:
        med = statistics.median(times)
        print(f"  {name:<34}{med * 1e3:>10.1f}{_p90(times) * 1e3:>10.1f}{med / base:>12.1f}")


def bench_ready(dist: Path, starts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        deb = builds.deb_package(dist, Path(tmp) / "deb")
        done = run_in_root(
            debian_root(),
            READY_SCRIPT.replace("STARTS", str(starts)),
            Path(tmp) / "root",
            files={"/srv/test/agent.deb": deb},
            timeout=120 + 15 * starts,
        )
    values = [
        line.split()[2] if len(line.split()) > 2 else ""
        for line in done.stdout.splitlines()
        if line.startswith("@ READY_NS")
    ]
    print(f"\n(c) service start to ready (enforce, own netns), {starts} starts")
    if not values or "" in values:
        print(f"  not ready within 10 s in some start: {values}\n{done.stdout[-2000:]}")
        return
    secs = [int(v) / 1e9 for v in values]
    med, worst = statistics.median(secs), max(secs)
    print(f"  {'median s':>10}{'max s':>10}{'target s':>10}{'max/target':>12}")
    print(f"  {med:>10.2f}{worst:>10.2f}{3.0:>10.1f}{worst / 3.0:>12.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_installer: needs root (namespaces, chroot)", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    dist = builds.agent_bundle()
    print(f"PyInstaller service bundle ready in {time.monotonic() - t0:.0f} s (cached when 0)\n")
    bench_sizes(dist)
    bench_status(dist, args.runs)
    bench_ready(dist, args.starts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
