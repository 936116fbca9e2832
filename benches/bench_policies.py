"""Policy matching speed and memory with 100,000 patterns, against a linear scan.

Targets (issue 2): host decision median <= 2 us and p99 <= 10 us; full URL decision median
<= 20 us; compiling 100,000 patterns <= 2 s and <= 50 MB.
Run: .venv/bin/python benches/bench_policies.py

Besides the linear scan, the table shows one dictionary lookup timed the same way, so a reader
can tell how busy the machine was from the same run.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable

from policies.compiler import rules_from_patterns
from policies.matcher import LinearMatcher, Rule
from policies.urlrules import chromium_pattern

N_PATTERNS = 100_000
N_QUERIES = 20_000
N_BASELINE = 30
WORDS = ["kids", "learn", "science", "math", "read", "space", "earth", "code", "play", "art"]


def make_patterns(rng: random.Random) -> list[str]:
    out = []
    for i in range(N_PATTERNS):
        host = f"{rng.choice(WORDS)}{i}.{rng.choice(['org', 'com', 'edu', 'gov'])}"
        if rng.random() < 0.3:
            host = f"{rng.choice(WORDS)}.{host}"
        if rng.random() < 0.2:
            host = "." + host
        path = f"/{rng.choice(WORDS)}/{rng.choice(WORDS)}" if rng.random() < 0.5 else ""
        scheme = "https://" if rng.random() < 0.3 else ""
        out.append(f"{scheme}{host}{path}")
    return out


def make_urls(rng: random.Random, patterns: list[str]) -> list[str]:
    urls = []
    for _ in range(N_QUERIES):
        if rng.random() < 0.5:
            p = rng.choice(patterns).removeprefix("https://").lstrip(".")
            urls.append(f"https://www.{p}/page?x=1" if rng.random() < 0.5 else f"https://{p}/a")
        else:
            urls.append(f"https://unknown{rng.randrange(10**6)}.example.net/some/path")
    return urls


def timed(fn: Callable[[str], object], inputs: list[str]) -> list[float]:
    samples = []
    clock = time.perf_counter_ns
    for item in inputs:
        t0 = clock()
        fn(item)
        samples.append((clock() - t0) / 1000)
    return samples


def pct(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


def main() -> None:
    rng = random.Random(7)
    patterns = make_patterns(rng)
    urls = make_urls(rng, patterns)
    hosts = [u.split("/")[2] for u in urls]

    gc.collect()
    t0 = time.perf_counter()
    rules = rules_from_patterns(patterns)
    compile_s = time.perf_counter() - t0
    # Memory in a second build, as tracemalloc slows allocation down several times.
    del rules
    gc.collect()
    tracemalloc.start()
    rules = rules_from_patterns(patterns)
    compile_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()

    linear_rules = [Rule(p, True) for p in map(chromium_pattern, patterns) if p is not None]
    catch_all = chromium_pattern("*")
    assert catch_all is not None
    linear = LinearMatcher([*linear_rules, Rule(catch_all, False)])
    table = {h: True for h in hosts}

    dict_us = timed(table.get, hosts)
    host_us = timed(rules.allows_host, hosts)
    explain_us = timed(rules.host_allowed, hosts)
    url_us = timed(rules.decide, urls)
    base_us = timed(linear.decide, urls[:N_BASELINE])
    agree = sum(linear.decide(u).allowed == rules.decide(u).allowed for u in urls[:N_BASELINE])

    rows = [
        ("one dict lookup (machine load)", statistics.median(dict_us), pct(dict_us, 0.99), ""),
        ("host decision (index)", statistics.median(host_us), pct(host_us, 0.99), "<= 2 / <= 10"),
        ("host decision + explanation", statistics.median(explain_us), pct(explain_us, 0.99), ""),
        ("URL decision (index)", statistics.median(url_us), pct(url_us, 0.99), "<= 20 median"),
        ("URL decision (linear scan)", statistics.median(base_us), pct(base_us, 0.99), "baseline"),
    ]
    base = statistics.median(base_us)
    print(f"policies bench: {N_PATTERNS:,} patterns, {N_QUERIES:,} decisions")
    print(f"{'what':30} {'median us':>10} {'p99 us':>10} {'vs linear':>10}  target")
    for name, med, p99, target in rows:
        print(f"{name:30} {med:10.2f} {p99:10.2f} {base / med:9.0f}x  {target}")
    print(f"{'compile 100k patterns':30} {compile_s:9.2f}s {'':>21}  <= 2 s")
    print(f"{'memory for them (tracemalloc)':30} {compile_mb:8.1f}MB {'':>21}  <= 50 MB")
    print(f"the linear scan agreed on {agree}/{N_BASELINE} sampled decisions")


if __name__ == "__main__":
    main()
