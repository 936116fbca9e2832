from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from agent.enforce import (
    EnforcementError,
    EnforceSettings,
    FailEnforcer,
    check_code,
    disable,
    safe_mode,
    select_backends,
)
from tests.agent.enforce.contract import closed_plan


def names(settings: EnforceSettings, platform: str) -> list[str]:
    return [b.name for b in select_backends(settings, platform=platform)]


def test_linux_with_enforce_gets_every_layer() -> None:
    settings = EnforceSettings(enforce=True)
    assert names(settings, "linux") == ["proxy", "nftables", "browser-policy", "processes"]
    assert not safe_mode(settings, "linux")


def test_without_enforce_only_the_loopback_proxy_and_a_reporting_watcher() -> None:
    settings = EnforceSettings(enforce=False)
    backends = select_backends(settings, platform="linux")
    assert [b.name for b in backends] == ["proxy", "processes"]
    assert backends[0].config.mode == "explicit"  # type: ignore[attr-defined]
    assert backends[0].config.listen == ("127.0.0.1",)  # type: ignore[attr-defined]
    assert backends[1].report_only  # type: ignore[attr-defined]
    assert safe_mode(settings, "linux")


def test_other_platforms_fail_with_an_actionable_message() -> None:
    (backend,) = select_backends(EnforceSettings(enforce=True), platform="win32")
    assert isinstance(backend, FailEnforcer)
    with pytest.raises(EnforcementError, match="set enforce = false"):
        backend.apply(closed_plan())
    assert not backend.health().ok


def test_disable_code_is_checked_against_its_hash(tmp_path: Path) -> None:
    argon = EnforceSettings(disable_code_hash=PasswordHasher().hash("IT-2468"), root=tmp_path)
    assert check_code(argon, "IT-2468")
    assert not check_code(argon, "IT-2469")
    sha = EnforceSettings(disable_code_hash=hashlib.sha256(b"IT-1").hexdigest())
    assert check_code(sha, "IT-1") and not check_code(sha, "it-1")
    assert not check_code(EnforceSettings(), "anything")


def test_disable_with_a_wrong_code_changes_nothing(tmp_path: Path) -> None:
    settings = EnforceSettings(disable_code_hash=PasswordHasher().hash("right"), root=tmp_path)
    policy = tmp_path / "etc/chromium/policies/managed/lessongate.json"
    policy.parent.mkdir(parents=True)
    policy.write_text("{}")
    assert disable(settings, "wrong") is False
    assert policy.exists()
