"""systemd units of the agent and the server pass `systemd-analyze verify`, warnings included.

`verify` checks that every program a unit runs exists, so it runs against a small root that
holds the host's own units (for the targets the units name) and stand-ins for our programs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.installer.throwaway_root import REPO

UNITS = {
    "installer/systemd/lessongate-agent.service": "lessongate-agent.service",
    "installer/server/lessongate-server.service": "lessongate-server.service",
    "installer/server/lessongate-server@.service": "lessongate-server@8081.service",
    "installer/server/lessongate-server-migrate.service": "lessongate-server-migrate.service",
}
PROGRAMS = ("usr/bin/lessongate-agent", "opt/lessongate-server/bin/lessongate-server", "bin/sh")


def _host_units() -> Path:
    for candidate in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (candidate / "multi-user.target").exists():
            return candidate
    raise AssertionError("no systemd units on this machine: scripts/setup-test-env.sh installs it")


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unitroot")
    shutil.copytree(_host_units(), root / "usr/lib/systemd/system", symlinks=True)
    for program in PROGRAMS:
        path = root / program
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n", encoding="utf-8")
        path.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    for source in UNITS:
        shutil.copy(REPO / source, root / "etc/systemd/system")
    return root


def _verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", f"/etc/systemd/system/{unit}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("unit", sorted(UNITS.values()))
def test_unit_verifies_without_warnings(unit_root: Path, unit: str) -> None:
    done = _verify(unit_root, unit)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_a_misspelt_directive_would_be_caught(unit_root: Path) -> None:
    unit = (REPO / "installer/systemd/lessongate-agent.service").read_text(encoding="utf-8")
    broken = unit_root / "etc/systemd/system/broken.service"
    broken.write_text(unit.replace("MemoryMax=", "MemoryMx="), encoding="utf-8")
    assert "Unknown key" in _verify(unit_root, "broken.service").stderr


def test_agent_unit_keeps_the_device_closed_across_failures() -> None:
    text = (REPO / "installer/systemd/lessongate-agent.service").read_text(encoding="utf-8")
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in text.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert lines["Restart"] == "always"
    assert lines["StartLimitIntervalSec"] == "0"
    assert "display-manager.service" in lines["Before"]
    assert lines["WantedBy"] == "multi-user.target"
    assert lines["ProtectSystem"] == "strict"
    assert "CAP_NET_ADMIN" in lines["CapabilityBoundingSet"]
