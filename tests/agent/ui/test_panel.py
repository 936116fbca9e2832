"""`lessongate-agent panel` as a person meets it: a real pywebview (Qt) window under Xvfb,
showing the closed screen of a running UI server, found through the agent's address file."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.ui import panel
from tests.agent.ui.conftest import RunningUi
from tests.agent.ui.fake_controller import FakeController

GRAB = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(sys.argv[:1])
sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1], "PNG") else 1)
"""
LOCK_BLUE = (0x1A, 0x5F, 0xB4)  # the closed screen's padlock and Teacher button


def agent_config(tmp_path: Path, state_dir: Path) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(f'state_dir = "{state_dir}"\n')
    return config


def read_probe(proc: subprocess.Popen[str], timeout: float) -> dict[str, object]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith(panel.PROBE_PREFIX):
                probe: dict[str, object] = json.loads(line[len(panel.PROBE_PREFIX) :])
                return probe
    raise AssertionError(f"the panel printed no page text (exit code {proc.poll()})")


def pixels_near(png: Path, colour: tuple[int, int, int]) -> tuple[int, int]:
    """(distinct colours, pixels close to `colour`) over a grid of samples."""
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert not image.isNull()
    seen: set[int] = set()
    near = 0
    for y in range(0, image.height(), 4):
        for x in range(0, image.width(), 4):
            rgb = image.pixel(x, y) & 0xFFFFFF
            seen.add(rgb)
            r, g, b = rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF
            if abs(r - colour[0]) + abs(g - colour[1]) + abs(b - colour[2]) < 30:
                near += 1
    return len(seen), near


def test_panel_window_shows_the_closed_screen(
    ui: RunningUi, fake: FakeController, display: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DISPLAY": display,
        panel.PROBE_ENV: "1",
        "LESSONGATE_AGENT_CONFIG": str(agent_config(tmp_path, ui.state_dir)),
    }
    env.pop("WAYLAND_DISPLAY", None)
    log = (tmp_path / "panel.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.ui.panel"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        probe = read_probe(proc, timeout=60)
        assert probe["shown"] is True
        text = str(probe["text"])
        assert "The Internet opens when your teacher starts a lesson" in text
        assert "Lab 3A" in text
        assert "Teacher" in text
        assert probe["title"] == "LessonGate"

        shot = tmp_path / "panel.png"
        deadline = time.monotonic() + 20  # the DOM is ready before the software painter is
        while True:
            grab = subprocess.run(
                [sys.executable, "-c", GRAB, str(shot)], env=env, timeout=60, capture_output=True
            )
            assert grab.returncode == 0, grab.stderr
            assert shot.stat().st_size > 0
            colours, blue = pixels_near(shot, LOCK_BLUE)
            if (colours > 20 and blue > 50) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert colours > 20, "the screenshot is blank"
        assert blue > 50, "the closed screen's padlock and Teacher button are not on screen"

        assert proc.stdin is not None
        proc.stdin.write("\n")  # the probe closes the window, as a person closing it would
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    # Closing the window asked nothing of the agent: the device is as closed as before.
    assert fake.calls == []
    assert fake.view().state == "closed"


def test_panel_without_a_running_agent_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LESSONGATE_AGENT_CONFIG", str(agent_config(tmp_path, tmp_path / "s")))
    assert panel.main() == 2
    assert "is the LessonGate agent running?" in capsys.readouterr().err


def test_panel_without_a_display_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert panel.main("http://127.0.0.1:9/?k=x") == 3
    assert "no graphical display" in capsys.readouterr().err
