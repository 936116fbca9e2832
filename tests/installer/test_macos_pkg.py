"""The macOS package recipe: a valid LaunchDaemon plist and shell scripts that pass shellcheck.
pkgbuild itself only exists on macOS (CI: .github/workflows/build.yml)."""

from __future__ import annotations

import plistlib
import subprocess

from tests.installer.throwaway_root import REPO

MACOS = REPO / "installer" / "macos"


def test_launch_daemon_plist() -> None:
    plist = MACOS / "org.lessongate.agent.plist"
    with plist.open("rb") as f:
        data = plistlib.load(f)
    assert data["Label"] == plist.stem
    assert data["RunAtLoad"] is True and data["KeepAlive"] is True
    program, *args = data["ProgramArguments"]
    # The daemon runs the binary where build-pkg.sh puts it.
    assert program == "/usr/local/lessongate/lessongate-agent/lessongate-agent"
    assert "usr/local/lessongate" in (MACOS / "build-pkg.sh").read_text(encoding="utf-8")
    assert args[-1] == "run"


def test_scripts_pass_shellcheck() -> None:
    scripts = [
        MACOS / "scripts" / "preinstall",
        MACOS / "scripts" / "postinstall",
        MACOS / "uninstall.sh",
        MACOS / "build-pkg.sh",
    ]
    done = subprocess.run(
        ["shellcheck", "--shell=sh", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    for script in scripts[:2]:
        assert script.stat().st_mode & 0o111, f"{script} must be executable for pkgbuild"
