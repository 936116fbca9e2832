"""`lessongate-agent selftest`, from the source tree (the built binary is tested in
tests/installer/test_pyinstaller.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from agent import selftest
from tests.policies.policy_dirs import DISTRICT, write_policy


def test_cli_selftest_passes_and_reports_both_decisions() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "selftest"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"blocked:  CONNECT {selftest.BLOCKED_HOST}:443 -> 403" in out.stdout
    assert "allowed:  CONNECT accounts.google.com -> 200" in out.stdout
    assert out.stdout.rstrip().endswith("selftest passed")


def test_policy_with_its_own_always_allow_host_is_probed(tmp_path: Path) -> None:
    district = DISTRICT.replace('["accounts.google.com"]', '["https://.portal.example.org/x"]')
    lines = asyncio.run(selftest.run_checks(write_policy(tmp_path, {"district.toml": district})))
    assert any("CONNECT portal.example.org -> 200" in line for line in lines)


def test_no_usable_always_allow_host_fails_clearly(tmp_path: Path) -> None:
    district = DISTRICT.replace('["accounts.google.com"]', "[]")
    with pytest.raises(selftest.SelftestError, match="always_allow"):
        asyncio.run(selftest.run_checks(write_policy(tmp_path, {"district.toml": district})))


def test_broken_policy_fails_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_policy(tmp_path, {"rooms.toml": "[[room]]\nid = 3\n"})
    monkeypatch.setattr(selftest.policies, "DEFAULT_POLICY_DIR", policy)
    assert selftest.main() == 1
    out = capsys.readouterr().out
    assert "selftest FAILED: bundled policy" in out and "rooms.toml" in out


def test_only_supervised_rooms_are_probed(tmp_path: Path) -> None:
    # lab-3a (3-5) becomes filtered, where unknown hosts are open by design: kinder-1 is used.
    district = DISTRICT.replace('id = "3-5"\nmode = "supervised"', 'id = "3-5"\nmode = "filtered"')
    assert 'mode = "filtered"' in district
    lines = asyncio.run(selftest.run_checks(write_policy(tmp_path, {"district.toml": district})))
    assert any("closed state of room kinder-1" in line for line in lines)


def test_policy_without_supervised_rooms_fails(tmp_path: Path) -> None:
    district = DISTRICT.replace('mode = "supervised"', 'mode = "open"')
    with pytest.raises(selftest.SelftestError, match="no room in a supervised band"):
        asyncio.run(selftest.run_checks(write_policy(tmp_path, {"district.toml": district})))
