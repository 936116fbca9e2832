from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

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
