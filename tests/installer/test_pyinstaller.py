"""The built agent (installer/lessongate-agent.spec) runs with no Python and no venv around it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import policies

CLEAN_ENV = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]


def _run(binary: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # env -i: no PYTHONPATH, no VIRTUAL_ENV, no venv on PATH; cwd outside the source tree.
    return subprocess.run(
        [*CLEAN_ENV, str(binary), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version(agent_dist: Path, tmp_path: Path) -> None:
    done = _run(agent_dist / "lessongate-agent" / "lessongate-agent", "--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"lessongate-agent {policies.__version__}"


def test_selftest_uses_the_bundled_policy_and_proxy(agent_dist: Path, tmp_path: Path) -> None:
    binary = agent_dist / "lessongate-agent" / "lessongate-agent"
    done = _run(binary, "selftest", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "selftest (built binary)" in out
    # The policy comes from inside the bundle, not from the source tree.
    bundled = agent_dist / "lessongate-agent" / "_internal" / "policies" / "default"
    assert f"({bundled})" in out
    assert "blocked:  CONNECT not-in-policy.selftest.invalid:443 -> 403" in out
    assert "allowed:  CONNECT accounts.google.com -> 200" in out
    assert out.rstrip().endswith("selftest passed")


def test_status_without_a_running_agent_says_so(agent_dist: Path, tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    binary = agent_dist / "lessongate-agent" / "lessongate-agent"
    done = _run(binary, "--config", str(config), "status", "--json", cwd=tmp_path)
    assert done.returncode == 3
    assert "control.sock" in done.stderr


def test_service_bundle_leaves_qt_to_the_panel_bundle(agent_dist: Path, tmp_path: Path) -> None:
    bundle = agent_dist / "lessongate-agent"
    assert not list(bundle.rglob("*Qt6WebEngine*")), "Qt WebEngine belongs in lessongate-panel"
    done = _run(bundle / "lessongate-agent", "panel", cwd=tmp_path)
    assert done.returncode == 2
    assert "the panel is not installed" in done.stderr
