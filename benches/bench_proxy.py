"""Filtering proxy costs, measured in the e2e namespaces against direct, in the same run.

    sudo .venv/bin/python benches/bench_proxy.py [--quick]

The lab's internet is replaced by bench_proxy_upstream.py (answers at once, streams from memory),
so the baseline is not the bottleneck. Two long-lived clients run in the device namespace: root
(exempt from nftables: direct) and the student (redirected to the proxy); they take turns one
connection at a time, so "added" is proxied minus direct per pair of consecutive connections.
With two or more CPUs the agent (proxy) is pinned to CPU 0 and clients and upstream to the last
CPU, so "tunnels/s" is the proxy on one core.

The TTFB client reads each answer and closes with a FIN, as a TLS client does. A client that
resets its connections instead (closing with the answer unread) is measured for reference: the
reset leaves the redirected connection's conntrack entry in CLOSE state while its port is free
again at once; when the proxy's own connection upstream picks that port for the same server, the
clash shows as conntrack "invalid" packets and 12-17 ms for that connection (found with this
bench: 1 in 25 connections after a few thousand resets).

Download throughput is measured twice. First with no limit on the lab's link, for reference:
both paths are then bound by CPU, not by a network. Direct is one TCP connection whose two ends
(the client and the stand-in server) share one CPU; through the proxy there are two, and part of
the second one's kernel work lands on that same CPU too (loopback and veth run the receiving side
in the sender's context, and the client's ACKs clock the proxy's sends). That ratio says more
about the bench's CPU placement than about the proxy, and it swings from run to run. Then with
the lab's link shaped to 10 Gbit/s (tbf on the internet's end of the veth, inside the lab's
namespace), ten times the 1 Gbit/s Ethernet of a typical school device: the target row. A proxy
that cannot carry 10 Gbit/s on its one core fails it.

Targets (issue 4): added TTFB for a new HTTPS connection <= 1 ms p50 / 5 ms p99; throughput
>= 80 % of direct for 200 MB; >= 500 new tunnels per second with the proxy on one core.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.internet import SITES
from tests.e2e.lab import REPO, Lab, run

HERE = Path(__file__).resolve().parent
QUICK = "--quick" in sys.argv
CPUS = os.cpu_count() or 1
PIN = CPUS > 1 and "--no-pin" not in sys.argv
PROXY_CPU, LOAD_CPU = "0", str(CPUS - 1)
PIN_LOAD = ["taskset", "-c", LOAD_CPU] if PIN else []
# With --nice, the bench's own processes (proxy, clients, upstream alike) run at nice -10, so the
# machine's other work delays their wake-ups less; printed with the results.
NICE = ["nice", "-n", "-10"] if "--nice" in sys.argv else []
ALLOWED, CDN = SITES["allowed.test"], SITES["cdn.test"]
PAIRS = 300 if QUICK else 2000
TLS_PAIRS = 100 if QUICK else 500
SIZE = 200_000_000
LINK = "10gbit"  # ten times the 1 Gbit/s Ethernet a school device usually has


class Worker:
    def __init__(self, lab: Lab, student: bool) -> None:
        argv = [*NICE, *PIN_LOAD, "/usr/bin/python3", str(HERE / "bench_proxy_client.py")]
        self.proc = lab._spawn(lab.in_device(argv, student=student), stdin=True)
        assert self.ask() == "ready"

    def ask(self, *words: object) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if words:
            self.proc.stdin.write(" ".join(map(str, words)) + "\n")
            self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(answer["error"])
        return answer


def fast_internet(lab: Lab) -> None:
    """Swap the lab's Python internet for the cheap one (the lab started it; we end it by pid)."""
    internet = lab.procs[0]
    internet.kill()
    internet.wait(10)
    certs = [str(lab.dir / "server.pem"), str(lab.dir / "server.key")]
    argv = ["ip", "netns", "exec", lab.inet, *NICE, *PIN_LOAD, sys.executable]
    proc = lab._spawn([*argv, str(HERE / "bench_proxy_upstream.py"), *certs])
    lab._expect(proc, "ready")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def paired(direct: Worker, proxied: Worker, n: int, *words: object) -> dict[str, float]:
    d, p = [], []
    for _ in range(n):
        d += direct.ask(*words, 1)
        p += proxied.ask(*words, 1)
    added = [b - a for a, b in zip(d, p, strict=True)]
    return {
        "direct_p50": pct(d, 0.5),
        "direct_p99": pct(d, 0.99),
        "proxied_p50": pct(p, 0.5),
        "proxied_p99": pct(p, 0.99),
        "added_p50": pct(added, 0.5),
        "added_p99": pct(added, 0.99),
    }


def best_of(worker: Worker, runs: int, *words: object) -> dict[str, float]:
    results = [worker.ask(*words) for _ in range(runs)]
    key = "MB_per_s" if "MB_per_s" in results[0] else "per_s"
    return max(results, key=lambda r: float(r[key]))


def busy(cpu: str) -> tuple[int, int]:
    """Jiffies the CPU spent busy (not idle, not waiting for I/O), and in all, so far."""
    with open("/proc/stat") as stat:
        for line in stat:
            name, *fields = line.split()
            if name == f"cpu{cpu}":
                ticks = [int(f) for f in fields]
                return sum(ticks) - ticks[3] - ticks[4], sum(ticks)
    raise LookupError(f"cpu{cpu} not in /proc/stat")


def download(worker: Worker, runs: int, size: int) -> tuple[float, float]:
    """MB/s of one download, best of `runs`; and how busy the proxy's CPU was meanwhile, in %."""
    busy0, total0 = busy(PROXY_CPU)
    mb_s = best_of(worker, runs, "throughput", ALLOWED, "allowed.test", size)["MB_per_s"]
    busy1, total1 = busy(PROXY_CPU)
    return mb_s, 100 * (busy1 - busy0) / max(1, total1 - total0)


def shape(lab: Lab, rate: str) -> None:
    """Limit what the lab's internet sends to the device to `rate` (token bucket on its end of
    the veth; inside the lab's own namespace, like everything the bench touches)."""
    tbf = ["tbf", "rate", rate, "burst", "1mb", "latency", "5ms"]
    run("ip", "netns", "exec", lab.inet, "tc", "qdisc", "add", "dev", "eth0", "root", *tbf)


def main() -> None:
    lab = Lab()
    lab.agent_prefix = (["taskset", "-c", PROXY_CPU] if PIN else []) + NICE
    rows: list[tuple[str, float, float, str, str, bool | None]] = []
    try:
        lab.up()
        fast_internet(lab)
        lab.start_agent()
        assert lab.command("open E2E.SCI-1") == "ok open"
        direct, proxied = Worker(lab, student=False), Worker(lab, student=True)
        for w in (direct, proxied):  # warm up: DNS cache, first-connection costs
            w.ask("hello", ALLOWED, "allowed.test", "graceful", 20)
        hello = paired(direct, proxied, PAIRS, "hello", ALLOWED, "allowed.test", "graceful")
        for q, limit in (("p50", 1.0), ("p99", 5.0)):
            rows.append(
                (
                    f"TTFB new HTTPS conn {q} (ms)",
                    hello[f"direct_{q}"],
                    hello[f"proxied_{q}"],
                    f"{hello[f'added_{q}']:+.3f} ms",
                    f"added <= {limit:g} ms",
                    hello[f"added_{q}"] <= limit,
                )
            )
        full = paired(direct, proxied, TLS_PAIRS, "tls", CDN, "cdn.test", lab.ca)
        for q in ("p50", "p99"):
            rows.append(
                (
                    f"  same, real TLS handshake {q} (ms)",
                    full[f"direct_{q}"],
                    full[f"proxied_{q}"],
                    f"{full[f'added_{q}']:+.3f} ms",
                    "(for reference)",
                    None,
                )
            )
        # Last of the TTFB rows: the resets leave conntrack entries behind for 10 s.
        aborted = paired(direct, proxied, TLS_PAIRS, "hello", ALLOWED, "allowed.test", "abort")
        for q in ("p50", "p99"):
            rows.append(
                (
                    f"  same, client resets each conn {q} (ms)",
                    aborted[f"direct_{q}"],
                    aborted[f"proxied_{q}"],
                    f"{aborted[f'added_{q}']:+.3f} ms",
                    "(for reference)",
                    None,
                )
            )
        runs = 1 if QUICK else 3
        size = SIZE // 4 if QUICK else SIZE
        (d, _), (p, _) = download(direct, runs, size), download(proxied, runs, size)
        unshaped = ("  same, no link limit (MB/s)", d, p, f"{p / d:.0%}", "(for reference)", None)
        secs = 2 if QUICK else 5
        dt = best_of(direct, 1, "tunnels", ALLOWED, "allowed.test", secs, 32)
        pt = best_of(proxied, 1, "tunnels", ALLOWED, "allowed.test", secs, 32)
        rows.append(
            (
                "new tunnels/s (proxy on one core)",
                dt["per_s"],
                pt["per_s"],
                f"{pt['per_s'] / dt['per_s']:.0%} (failed {pt['failed']:.0f})",
                ">= 500/s",
                pt["per_s"] >= 500 and not pt["failed"],
            )
        )
        shape(lab, LINK)
        (d, d_cpu), (p, p_cpu) = download(direct, runs, size), download(proxied, runs, size)
        link_row = f"download {size // 10**6} MB, {LINK} link (MB/s)"
        rows.append((link_row, d, p, f"{p / d:.0%}", ">= 80 %", p / d >= 0.8))
        if PIN:  # the proxy's headroom at that rate
            cpu_row = f"  proxy's CPU {PROXY_CPU} busy at {LINK} (%)"
            rows.append((cpu_row, d_cpu, p_cpu, "", "(for reference)", None))
        rows.append(unshaped)
        stats = lab.command("status")
    finally:
        lab.down()
    load = os.getloadavg()
    print(f"\nproxy bench ({REPO.name}); {CPUS} CPUs; load average {load[0]:.2f} {load[1]:.2f}")
    pinning = f"proxy CPU {PROXY_CPU}, clients + upstream CPU {LOAD_CPU}" if PIN else "none"
    print(f"pinning: {pinning}; nice: {NICE[-1] if NICE else 0}; {PAIRS} TTFB pairs")
    header = f"{'measure':42} {'direct':>10} {'proxied':>10} {'added/ratio':>22} {'target':>16}"
    print(header + "  met")
    for label, direct_v, proxied_v, added, target, met in rows:
        print(
            f"{label:42} {direct_v:10.3f} {proxied_v:10.3f} {added:>22} {target:>16}  "
            f"{'-' if met is None else 'yes' if met else 'NO'}"
        )
    print(stats)


if __name__ == "__main__":
    main()
