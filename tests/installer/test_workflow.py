"""The CI workflow for the platforms this machine cannot build (Windows, macOS) is well-formed and
builds, self-tests and packages on each (it runs on GitHub's runners, not here)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.installer.throwaway_root import REPO


def _workflow() -> dict[str, Any]:
    text = (REPO / ".github" / "workflows" / "build.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_each_platform_builds_selftests_and_uploads() -> None:
    jobs = _workflow()["jobs"]
    expected = {"windows": "windows-latest", "macos": "macos-latest"}
    for job, runner in expected.items():
        steps = jobs[job]["steps"]
        scripts = "\n".join(str(step.get("run", "")) for step in steps)
        assert jobs[job]["runs-on"] == runner
        assert "installer/lessongate-agent.spec" in scripts
        assert "selftest" in scripts
        assert any(
            str(step.get("uses", "")).startswith("actions/upload-artifact") for step in steps
        )
    assert "makensis" in "\n".join(str(s.get("run", "")) for s in jobs["windows"]["steps"])
    assert "build-pkg.sh" in "\n".join(str(s.get("run", "")) for s in jobs["macos"]["steps"])
