"""Differential test: `policies.matcher` decides every corpus URL exactly as real Chromium does.

The fast tests compare the matcher with Chromium's recorded answers
(vectors/chromium_url_decisions.json, written by `python -m tests.policies.chromium_oracle
--record`); the live test asks Chromium again now, so a Chromium update that changes behaviour
shows up as a failure here instead of as a quietly wrong browser policy.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import pytest

from policies.matcher import Matcher
from tests.policies.chromium_oracle import VECTORS, check_informative, run_cases
from tests.policies.url_corpus import CASES

RECORDED: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
RERECORD = "re-record with: .venv/bin/python -m tests.policies.chromium_oracle --record"


def _matcher_decisions(allow: list[str], block: list[str], urls: list[str]) -> dict[str, str]:
    matcher = Matcher.from_patterns(allow, block)
    return {url: "allow" if matcher.decide(url).allowed else "block" for url in urls}


def _differences(want: dict[str, str], got: dict[str, str], want_by: str, got_by: str) -> str:
    lines = [
        f"  {url}: {want_by} {want[url]}, {got_by} {got.get(url)}"
        for url in want
        if got.get(url) != want[url]
    ]
    return "\n".join(lines)


@pytest.mark.parametrize("case", RECORDED["cases"], ids=lambda case: case["name"])
def test_matcher_decides_like_recorded_chromium(case: dict[str, Any]) -> None:
    want: dict[str, str] = case["decisions"]
    got = _matcher_decisions(case["allow"], case["block"], list(want))
    diff = _differences(want, got, "Chromium", "matcher")
    assert not diff, (
        f"case {case['name']!r} (allow={case['allow']}, block={case['block']}, "
        f"Chromium {RECORDED['chromium_version']}):\n{diff}"
    )


def test_recorded_vectors_hold_exactly_the_corpus() -> None:
    corpus = [(c["name"], c["allow"], c["block"], c["urls"]) for c in CASES]
    recorded = [
        (c["name"], c["allow"], c["block"], list(c["decisions"])) for c in RECORDED["cases"]
    ]
    assert recorded == corpus, f"the corpus changed since the vectors were recorded; {RERECORD}"


def test_every_recorded_case_tells_allow_from_block() -> None:
    # A case whose URLs all got one answer cannot show that the policy reached Chromium.
    one_sided = [
        c["name"] for c in RECORDED["cases"] if set(c["decisions"].values()) != {"allow", "block"}
    ]
    assert not one_sided


@pytest.mark.chromium
@pytest.mark.skipif(
    sys.platform != "linux",
    reason="needs Debian's /usr/bin/chromium, unshare and Linux mount/network namespaces",
)
def test_live_chromium_decides_like_matcher() -> None:
    live = run_cases(CASES)
    check_informative(live["cases"])  # raises if the policy did not reach Chromium
    report: list[str] = []
    drift: list[str] = []
    recorded = {c["name"]: c["decisions"] for c in RECORDED["cases"]}
    for case, result in zip(CASES, live["cases"], strict=True):
        want: dict[str, str] = result["decisions"]
        got = _matcher_decisions(case["allow"], case["block"], case["urls"])
        diff = _differences(want, got, "Chromium", "matcher")
        if diff:
            report.append(f"case {case['name']!r}:\n{diff}")
        old = _differences(want, recorded.get(case["name"], {}), "live", "recorded")
        if old:
            drift.append(f"case {case['name']!r}:\n{old}")
    if drift:
        warnings.warn(
            f"Chromium {live['chromium_version']} differs from the recorded vectors "
            f"(Chromium {RECORDED['chromium_version']}); {RERECORD}\n" + "\n".join(drift),
            stacklevel=1,
        )
    assert not report, (
        f"live Chromium {live['chromium_version']} and the matcher disagree:\n"
        + "\n".join(report)
        + ("\n\nand live Chromium differs from the recorded vectors:\n" + "\n".join(drift))
        * bool(drift)
    )
