from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.enforce import browser_policy
from agent.enforce.base import EnforcementError, Enforcer
from agent.enforce.browser_policy import TARGETS, BrowserPolicyEnforcer
from agent.enforce.settings import EnforceSettings
from tests.agent.enforce.contract import EnforcerContract, closed_plan, open_plan


class TestBrowserPolicyEnforcer(EnforcerContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Enforcer]:
        self.root = tmp_path
        yield BrowserPolicyEnforcer(EnforceSettings(root=tmp_path))

    def files(self) -> dict[str, object]:
        return {
            rel: json.loads((self.root / rel).read_text())
            for _, rel in TARGETS
            if (self.root / rel).exists()
        }

    def observe(self, backend: Enforcer) -> object:
        return self.files()

    def installed(self, backend: Enforcer) -> bool:
        return bool(self.files())

    def is_closed(self, backend: Enforcer) -> bool:
        for rel, policy in self.files().items():
            assert isinstance(policy, dict)
            if "firefox" in rel:
                allowed = policy["policies"]["WebsiteFilter"]["Exceptions"]
            else:
                assert "*" in policy["URLBlocklist"]
                allowed = policy["URLAllowlist"]
            if any("allowed.test" in a for a in allowed):
                return False
        return bool(self.files())

    @contextlib.contextmanager
    def broken(self, backend: Enforcer) -> Iterator[None]:
        # A file where a folder must be: Edge's policy cannot be written.
        blocker = self.root / "etc/opt/edge"
        (self.root / "etc/opt/edge/policies/managed/lessongate.json").unlink()
        for sub in ("policies/managed", "policies"):
            (blocker / sub).rmdir()
        blocker.rmdir()
        blocker.write_text("not a folder")
        yield


def test_session_policy_carries_the_exact_urls_and_the_lockdown(tmp_path: Path) -> None:
    BrowserPolicyEnforcer(EnforceSettings(root=tmp_path)).apply(open_plan())
    chromium = json.loads((tmp_path / "etc/chromium/policies/managed/lessongate.json").read_text())
    assert chromium["URLBlocklist"] == ["*"]
    assert "assets.allowed.test/lib" in chromium["URLAllowlist"]
    assert chromium["IncognitoModeAvailability"] == 1
    assert chromium["DnsOverHttpsMode"] == "off"
    edge = json.loads((tmp_path / "etc/opt/edge/policies/managed/lessongate.json").read_text())
    assert edge["InPrivateModeAvailability"] == 1
    firefox = json.loads((tmp_path / "etc/firefox/policies/policies.json").read_text())
    assert firefox["policies"]["WebsiteFilter"]["Block"] == ["<all_urls>"]
    assert not list(tmp_path.rglob(".lessongate-*"))  # no temp files left behind


def test_a_failed_write_restores_the_earlier_files_then_blocks_all(tmp_path: Path) -> None:
    backend = BrowserPolicyEnforcer(EnforceSettings(root=tmp_path))
    backend.apply(closed_plan())
    (tmp_path / "etc/firefox/policies/policies.json").unlink()
    (tmp_path / "etc/firefox/policies").rmdir()
    (tmp_path / "etc/firefox/policies").write_text("not a folder")
    with pytest.raises(EnforcementError, match=r"etc/firefox/policies/policies\.json"):
        backend.apply(open_plan())
    chromium = json.loads((tmp_path / "etc/chromium/policies/managed/lessongate.json").read_text())
    assert chromium["URLBlocklist"] == ["*"] and chromium["URLAllowlist"] == []


def test_refuses_the_real_etc_without_enforce() -> None:
    backend = BrowserPolicyEnforcer(EnforceSettings(enforce=False, root=Path("/")))
    with pytest.raises(EnforcementError, match="enforce is not set"):
        backend.apply(closed_plan())
    with pytest.raises(EnforcementError, match="enforce is not set"):
        backend.revert()


def test_reapplying_the_same_plan_leaves_the_files_untouched(tmp_path: Path) -> None:
    """Chromium reloads only after the newest mtime in its folder has held still for 5 s: a
    rewrite of the same policy would push a pending change back, so an unchanged file is kept."""
    backend = BrowserPolicyEnforcer(EnforceSettings(root=tmp_path))
    backend.apply(closed_plan())
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in backend.paths}
    backend.apply(closed_plan())
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in backend.paths} == before
    backend.apply(open_plan())
    changed = [p for p in backend.paths if p.stat().st_ino != before[p][0]]
    assert changed == backend.paths


def wait_until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit, "condition not met in time"
        time.sleep(0.01)


def test_after_a_change_chromium_files_are_written_again_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that a Chromium launched just before the change, which installs its folder watch only
    after its startup, still sees it within seconds (browser_policy's docstring)."""
    written: Counter[Path] = Counter()
    real_write = browser_policy.write_atomically

    def counting_write(path: Path, data: bytes) -> None:
        real_write(path, data)
        written[path] += 1

    monkeypatch.setattr(browser_policy, "write_atomically", counting_write)
    backend = BrowserPolicyEnforcer(EnforceSettings(root=tmp_path), rewrite_after=(0.05, 0.1))
    backend.apply(open_plan())
    chromium = [p for p in backend.paths if "firefox" not in str(p)]
    firefox = [p for p in backend.paths if "firefox" in str(p)]
    content = {p: p.read_bytes() for p in backend.paths}
    wait_until(lambda: all(written[p] == 3 for p in chromium))  # the change, then two rewrites
    assert {p: p.read_bytes() for p in backend.paths} == content
    assert all(written[p] == 1 for p in firefox)  # Firefox reads at start only
    assert not list(tmp_path.rglob(".lessongate-*"))


def test_a_later_change_or_a_revert_stops_the_rewrites_of_an_earlier_one(tmp_path: Path) -> None:
    backend = BrowserPolicyEnforcer(EnforceSettings(root=tmp_path), rewrite_after=(0.2,))
    backend.apply(open_plan())
    backend.apply(closed_plan())  # before the first rewrite: it must not put the session back
    closed = {p: p.read_bytes() for p in backend.paths}
    time.sleep(0.5)
    assert {p: p.read_bytes() for p in backend.paths} == closed
    backend.apply(open_plan())
    backend.revert()
    time.sleep(0.5)
    assert not any(p.exists() for p in backend.paths)  # not recreated after an uninstall
