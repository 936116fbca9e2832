"""`lessongate-policy check`: 0 and a summary when valid, 1 with every problem, 2 on misuse."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from policies import DEFAULT_POLICY_DIR
from policies.cli import main
from tests.policies.policy_dirs import DISTRICT, ROOMS, line_of, write_policy

REPO = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r"^policy OK: (\d+) rooms, (\d+) objectives, (\d+) resources, version (\w+)$")


def test_check_valid_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(write_policy(tmp_path))]) == 0

    out, err = capsys.readouterr()
    match = SUMMARY.match(out.strip())
    assert match, out
    assert match.group(1, 2, 3) == ("2", "2", "2")
    assert err == ""


def test_check_lists_every_problem_with_paths_to_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    district = DISTRICT.replace('"translate.google.com"', '"*.translate.google.com"')
    rooms = ROOMS.replace('band = "K-2"', 'band = "6-8"')
    directory = write_policy(tmp_path, {"district.toml": district, "rooms.toml": rooms})

    assert main(["check", str(directory)]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{directory}/district.toml:{line_of(district, '*.translate')}: ")
    assert "never_allow[0]" in lines[0] and "translate.google.com (it already" in lines[0]
    assert lines[1].startswith(f"{directory}/rooms.toml:{line_of(rooms, '6-8')}: room[1].band")
    assert lines[2] == f"policy NOT OK: 2 problems in {directory}"


def test_check_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nope'} is not a directory" in err


@pytest.mark.parametrize("argv", [[], ["check"], ["frobnicate", "x"], ["check", "a", "b"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: lessongate-policy" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    assert "DIR" in capsys.readouterr().out


def _installed_script() -> Path:
    return Path(sys.executable).parent / "lessongate-policy"


def test_installed_script_checks_the_default_policy() -> None:
    result = subprocess.run(
        [str(_installed_script()), "check", "policies/default"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    match = SUMMARY.match(result.stdout.strip())
    assert match, result.stdout
    assert int(match.group(2)) >= 12
    assert DEFAULT_POLICY_DIR.samefile(REPO / "policies" / "default")


def test_installed_script_never_prints_a_traceback(tmp_path: Path) -> None:
    directory = write_policy(tmp_path, {"rooms.toml": b"\xff\xfe[[room]]\n"})
    result = subprocess.run(
        [str(_installed_script()), "check", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        f"{directory}/rooms.toml:1: is not UTF-8 text: byte 0xff at byte offset 0" in result.stderr
    )
