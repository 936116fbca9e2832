from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policies import DEFAULT_POLICY_DIR
from policies.cli import main

SEASONS = "https://spaceplace.nasa.gov/seasons/en/"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_json_is_one_object_per_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        str(DEFAULT_POLICY_DIR),
        "--objective",
        "NGSS.3-ESS2-1",
        SEASONS,
        "https://spaceplace.nasa.gov/other",
        "--json",
    )
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["decision"] == "allow" and first["objective"] == "NGSS.3-ESS2-1"
    assert first["pattern"] == SEASONS
    assert set(first) == {"url", "decision", "pattern", "objective", "reason"}
    assert second == {
        "url": "https://spaceplace.nasa.gov/other",
        "decision": "block",
        "pattern": "*",
        "objective": None,
        "reason": "not part of today's lesson",
    }


def test_explain_without_objectives_shows_the_closed_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "explain", str(DEFAULT_POLICY_DIR), "--room", "lab-3a", SEASONS)
    assert code == 0 and out.startswith("BLOCK") and "closed until a teacher" in out


def test_explain_ad_hoc_patterns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        "--allow",
        "example.com/kids",
        "--block",
        "example.com",
        "https://example.com/kids",
        "https://example.com/",
    )
    assert code == 0
    assert out.splitlines()[0].startswith("ALLOW") and out.splitlines()[1].startswith("BLOCK")


def test_ignored_pattern_is_an_error_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", "--allow", "*.example.com", "https://example.com/")
    assert code == 1 and "--allow[0]" in err and "write example.com" in err


def test_unknown_objective_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", str(DEFAULT_POLICY_DIR), "--objective", "NOPE", SEASONS)
    assert code == 1 and "NOPE" in err


@pytest.mark.parametrize("fmt", ["chrome", "edge", "firefox"])
def test_export_prints_the_managed_policy(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = run(
        capsys, "export", str(DEFAULT_POLICY_DIR), "--objective", "NGSS.3-ESS2-1", "--format", fmt
    )
    assert code == 0
    policy = json.loads(out)
    if fmt == "firefox":
        assert policy["policies"]["WebsiteFilter"]["Block"][0] == "<all_urls>"
    else:
        assert policy["URLBlocklist"][0] == "*" and SEASONS in policy["URLAllowlist"]


def test_export_refuses_past_the_browser_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "policy"
    shutil.copytree(DEFAULT_POLICY_DIR, target)
    assets = ", ".join(f'"site{i}.example.org"' for i in range(990))
    (target / "objectives" / "big.toml").write_text(
        '[[objective]]\nid = "BIG.1"\ntitle = "Big"\nband = "3-5"\nsubject = "Science"\n'
        '[[objective.resources]]\ntitle = "A"\nurl = "https://a.example.org/"\n'
        f"assets = [{assets}]\n"
        '[[objective.resources]]\ntitle = "B"\nurl = "https://b.example.org/"\n'
    )
    code, _, err = run(
        capsys,
        "export",
        str(target),
        "--objective",
        "BIG.1",
        "--objective",
        "NGSS.3-ESS2-1",
        "--format",
        "chrome",
    )
    assert (code == 1 and "1,000" in err) or "1000" in err


def test_console_script_runs_explain() -> None:
    exe = [sys.executable, "-m", "policies.cli"]
    done = subprocess.run(
        [*exe, "explain", "--allow", "example.com", "https://example.com/", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and json.loads(done.stdout)["decision"] == "allow"
