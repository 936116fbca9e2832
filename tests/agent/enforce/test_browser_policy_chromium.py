"""Real Chromium reads the policy files we write, enforces them by path, and applies rewritten
ones while it runs (closed -> session, session -> session, session -> closed).

The first change lands right after launch, before Chromium watches its policy folder (see the
docstring of agent/enforce/browser_policy.py): it shows up once a later rewrite wakes the watch.
A page parked on chrome://policy (read without navigating) sees it; each later change is timed by
navigating a second page. The times are printed (pytest -s), only the deadlines are asserted.

Chromium runs with a window on a private Xvfb screen, as on a lab desktop, in a private mount
namespace (its /etc/chromium is a tmpfs there, with our policy folder bound in) and a private
network namespace with only loopback, where a tiny web server runs: the host's browser policy and
network are never touched."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

from agent.enforce.browser_policy import REWRITE_AFTER, BrowserPolicyEnforcer, write_atomically
from agent.enforce.settings import EnforceSettings
from agent.plan import EnforcementPlan, LockState
from policies.compiler import rules_from_patterns
from policies.export import browser_policy
from tests.chromium import CHROMIUM_ARGS
from tests.policies.chromium_oracle import _READ_POLICY_JS as READ_POLICY_JS

pytestmark = pytest.mark.chromium

WRAPPER = """#!/bin/sh
# Playwright starts this instead of Chromium; its pipes (fds 3 and 4) survive the execs
# (and must not be inherited by the web server, or Playwright loses track of the browser).
# Chromium ends up as PID 1 of its own PID namespace: when it exits, or unshare is killed,
# the kernel ends the web server too.
exec unshare --mount --net --pid --fork --kill-child --propagation private sh -c '
  mount -t tmpfs tmpfs /etc/chromium &&
  mkdir -p /etc/chromium/policies/managed &&
  mount --bind "{policies}" /etc/chromium/policies/managed &&
  ip link set lo up &&
  (cd "{site}" && exec python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 3>&- 4>&- &) &&
  exec /usr/bin/chromium "$@"' sh "$@"
"""


def plan(allow: list[str]) -> EnforcementPlan:
    return EnforcementPlan(LockState.OPEN, rules_from_patterns(allow), session_id="s")


def apply(backend: BrowserPolicyEnforcer, allow: list[str]) -> None:
    """The backend's real policy, except DeveloperToolsAvailability: "disallowed" also shuts
    the DevTools protocol Playwright drives Chromium through (launch hangs), so tests allow it."""
    backend.apply(plan(allow))
    path = backend.paths[0]
    policy = json.loads(path.read_text())
    assert policy["DeveloperToolsAvailability"] == 2
    del policy["DeveloperToolsAvailability"]
    write_atomically(path, json.dumps(policy).encode())


def outcome(page: Page, url: str) -> str:
    try:
        page.goto(url, timeout=5000)
    except PlaywrightError as exc:
        return "blocked" if "ERR_BLOCKED_BY_ADMINISTRATOR" in str(exc) else f"error: {exc}"
    return "loaded" if "lesson page" in page.content() else "other"


def wait_for(page: Page, url: str, wanted: str, limit: float = 30.0) -> float:
    """Seconds until `url` gives `wanted` (bounded); printed, never asserted."""
    start = time.monotonic()
    while (result := outcome(page, url)) != wanted:
        assert time.monotonic() - start < limit, f"still {result!r} after {limit}s"
        time.sleep(0.25)
    return time.monotonic() - start


@pytest.fixture
def browser_root(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "lesson.html").write_text("<title>x</title><p>lesson page</p>")
    (site / "other.html").write_text("<title>y</title><p>another lesson page</p>")
    root = tmp_path / "root"
    policies = root / "etc/chromium/policies/managed"
    policies.mkdir(parents=True)
    wrapper = tmp_path / "chromium-in-namespace"
    wrapper.write_text(WRAPPER.format(policies=policies, site=site))
    wrapper.chmod(0o755)
    yield root, wrapper


def test_chromium_opens_the_objective_path_and_blocks_the_rest_of_the_host(
    browser_root: tuple[Path, Path], tmp_path: Path
) -> None:
    root, wrapper = browser_root
    backend = BrowserPolicyEnforcer(EnforceSettings(root=root))
    apply(backend, ["127.0.0.1/lesson.html"])
    url = "http://127.0.0.1:8000/lesson.html"
    with sync_playwright() as pw:
        # A persistent context: the policy disables incognito, and Playwright's throw-away
        # contexts are incognito profiles, which Chromium then refuses to create.
        browser = pw.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=str(wrapper), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            wait_for(page, url, "loaded", limit=20)  # the web server may still be starting
            assert outcome(page, "http://127.0.0.1:8000/other.html") == "blocked"
        finally:
            browser.close()


def stripped_for_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    """Export the backend's real policy minus the two keys that stop Playwright
    (DeveloperToolsAvailability=2 shuts the DevTools protocol, IncognitoModeAvailability=1 breaks
    new pages), so each apply is still exactly one write, as on a device."""

    def without(rules: Any, browser: Any) -> dict[str, Any]:
        policy = browser_policy(rules, browser)
        policy.pop("DeveloperToolsAvailability", None)
        policy.pop("IncognitoModeAvailability", None)
        return policy

    monkeypatch.setattr("agent.enforce.browser_policy.browser_policy", without)


def shown_allowlist(page: Page) -> list[str] | None:
    row = page.evaluate(READ_POLICY_JS).get("URLAllowlist") or {}
    return None if row.get("value") is None else list(json.loads(row["value"]))


CLOSED = EnforcementPlan(LockState.CLOSED, rules_from_patterns([]))


def test_chromium_applies_rewritten_policies_without_a_restart(
    browser_root: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    display: str,
) -> None:
    root, wrapper = browser_root
    stripped_for_playwright(monkeypatch)
    backend = BrowserPolicyEnforcer(EnforceSettings(root=root))
    backend.apply(CLOSED)
    lesson, other = "http://127.0.0.1:8000/lesson.html", "http://127.0.0.1:8000/other.html"
    timings: dict[str, float] = {}
    with sync_playwright() as pw:
        # A window on a screen, as in a lab: Chromium's startup completes once it has painted.
        browser = pw.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=str(wrapper),
            args=CHROMIUM_ARGS,
            headless=False,
            env={**os.environ, "DISPLAY": display},
        )
        try:
            watch = browser.pages[0] if browser.pages else browser.new_page()
            watch.goto("chrome://policy/")
            # The page's rows come from the browser process after the page has loaded.
            watch.wait_for_function(
                f"() => (({READ_POLICY_JS})().URLAllowlist || {{}}).value != null", timeout=20_000
            )
            assert shown_allowlist(watch) == []
            start = time.monotonic()
            backend.apply(plan(["127.0.0.1/lesson.html"]))  # closed -> session (a path)
            want = json.loads(backend.paths[0].read_text())["URLAllowlist"]
            while (shown := shown_allowlist(watch)) != want:
                # At the latest: the last rewrite, then the 5 s settle.
                limit = REWRITE_AFTER[-1] + 30
                assert time.monotonic() - start < limit, f"chrome://policy still shows {shown}"
                time.sleep(0.5)
            timings["closed -> session, in Chromium's startup"] = time.monotonic() - start
            shown = watch.evaluate(READ_POLICY_JS)
            for name in ("EncryptedClientHelloEnabled", "QuicAllowed", "DnsOverHttpsMode"):
                assert name in shown and not (shown[name]["errors"] or "").strip(), shown.get(name)
            page = browser.new_page()
            wait_for(page, lesson, "loaded", limit=20)
            assert outcome(page, other) == "blocked"

            backend.apply(plan(["127.0.0.1/other.html"]))  # session A -> session B
            timings["session A -> session B"] = wait_for(page, other, "loaded")
            assert outcome(page, lesson) == "blocked"

            backend.apply(CLOSED)  # session -> closed
            timings["session -> closed"] = wait_for(page, other, "blocked")
            assert outcome(page, lesson) == "blocked"

            backend.apply(CLOSED)  # the same plan again: the file is left alone
            backend.apply(plan(["127.0.0.1/lesson.html"]))  # closed -> session, loader warm
            timings["closed -> session"] = wait_for(page, lesson, "loaded")
            assert outcome(page, other) == "blocked"
        finally:
            browser.close()
    print("policy pickup (s):", {k: round(v, 1) for k, v in timings.items()})
