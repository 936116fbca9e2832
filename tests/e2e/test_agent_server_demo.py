"""`make demo`'s script, unattended: blocked, a lesson from the dashboard opens it, ended, blocked.
It runs in its own network namespace, so nothing it does leaves the machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def test_demo_check_runs_the_whole_story() -> None:
    out = subprocess.run(
        [sys.executable, str(DEMO), "--check"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any("before the lesson" in x for x in lines)
    assert any(x.strip().endswith("-> 403") for x in lines)
    assert any("lesson started from the dashboard" in x and "-> 403" not in x for x in lines)
    assert lines[-1] == "--- check passed"
