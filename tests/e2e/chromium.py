"""Headless Chromium as the student (uid nobody) inside the device namespace, reading the
managed policy the real agent wrote into the device's /etc (a copy without the developer-tools
switch, bound over /etc/chromium/policies/managed in a private mount namespace), on the network
the device's nftables and proxy control."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from agent.enforce.browser_policy import write_atomically
from tests.chromium import CHROMIUM_ARGS
from tests.e2e.lab import DROP_PRIVILEGES, Lab


def policy_for_automation(lab: Lab) -> Path:
    """The policy the agent wrote, minus DeveloperToolsAvailability=2, which also shuts the
    protocol Playwright drives Chromium with; a copy, so the agent's own file stays as it is."""
    written = lab.device_file("/etc/chromium/policies/managed/lessongate.json")
    policy = json.loads(written.read_text())
    policy.pop("DeveloperToolsAvailability", None)
    folder = lab.dir / "chromium-policy"
    folder.mkdir(mode=0o755, exist_ok=True)
    write_atomically(folder / "lessongate.json", json.dumps(policy).encode())
    return folder


@contextmanager
def student_chromium(lab: Lab) -> Iterator[Callable[[str], str]]:
    policies = policy_for_automation(lab)
    profile = lab.dir / "chromium-profile"
    profile.mkdir(exist_ok=True)
    os.chown(profile, 65534, 65534)
    wrapper = lab.dir / "chromium-as-student"
    inner = f'mount --bind "{policies}" /etc/chromium/policies/managed && '
    argv = lab.in_device(["/usr/bin/chromium"], student=False, mounts=inner)
    # Drop to the student only for Chromium itself, after the mounts.
    argv = [*argv[:-1], "env", f"HOME={profile}", *DROP_PRIVILEGES, "/usr/bin/chromium"]
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in argv) + ' "$@"\n')
    wrapper.chmod(0o755)

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(wrapper),
            args=CHROMIUM_ARGS,
            headless=True,
            ignore_https_errors=True,
        )
        page = context.pages[0] if context.pages else context.new_page()

        def outcome(url: str) -> str:
            try:
                page.goto(url, timeout=10_000)
            except PlaywrightError as exc:
                if "ERR_BLOCKED_BY_ADMINISTRATOR" in str(exc):
                    return "blocked by policy"
                return f"error {str(exc).splitlines()[0]}"
            return "loaded" if "site=203.0.113." in page.content() else "other"

        try:
            yield outcome
        finally:
            context.close()
