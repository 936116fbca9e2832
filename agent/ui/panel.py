"""`lessongate-agent panel`: the local UI in its own pywebview window.

Qt (QtWebEngine via PySide6) on Linux, the platform's native web view on Windows and macOS.
The window opens the running agent's UI with the per-start key from `ui_address_file()`;
it keeps its cookies in memory only. Links the page opens in a new window (the resource cards)
go to the system browser, where the filtering applies. Closing the window only closes it: the
device's state belongs to the agent, and no action is taken on close.

Test hook: with LESSONGATE_PANEL_PROBE=1 the panel waits for the page to show a screen, prints
one line `LESSONGATE-PANEL-TEXT <json>` (the page's visible text, read through pywebview), then
waits for a line on stdin before closing its window, so a test can take a screenshot first.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Literal

from agent.ui.server import UiAddressError, read_ui_address

PROBE_ENV = "LESSONGATE_PANEL_PROBE"
PROBE_PREFIX = "LESSONGATE-PANEL-TEXT "
PROBE_TIMEOUT = 30.0
_SCREEN_SHOWN = (
    "(() => { const c = document.getElementById('closed-screen');"
    " const s = document.getElementById('session-screen');"
    " return !!c && !!s && (!c.hidden || !s.hidden); })()"
)


def _find_url() -> str:
    from agent.config import load_config

    return read_ui_address(load_config().state_dir).panel_url


def _prepare_qt() -> None:
    # QtWebEngine's Chromium refuses to start as root with its sandbox on; root is how the
    # agent's own tools run on a lab machine, and the page is our loopback UI only.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = (flags + " --no-sandbox").strip()


def _gui() -> Literal["qt"] | None:
    return "qt" if sys.platform.startswith("linux") else None


def _probe(window: Any) -> None:
    """Runs on pywebview's worker thread once the window exists (see module docstring)."""
    deadline = time.monotonic() + PROBE_TIMEOUT
    shown = False
    while time.monotonic() < deadline:
        try:
            shown = bool(window.run_js(_SCREEN_SHOWN))
        except Exception:  # the page may still be loading
            shown = False
        if shown:
            break
        time.sleep(0.2)
    # run_js, not evaluate_js: the latter wraps the code in eval(), which the page's CSP forbids.
    text = window.run_js("document.body.innerText") if shown else None
    title = window.run_js("document.title") if shown else None
    print(PROBE_PREFIX + json.dumps({"shown": shown, "text": text, "title": title}), flush=True)
    sys.stdin.readline()
    window.destroy()


def main(url: str | None = None) -> int:
    """Opens the window and returns when it is closed: 0, or 2 when the agent's UI cannot be
    found, 3 when no window can be shown here."""
    try:
        target = url or _find_url()
    except UiAddressError as exc:
        print(f"lessongate-agent panel: {exc}", file=sys.stderr)
        return 2
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        print(
            "lessongate-agent panel: no graphical display here (DISPLAY is not set)",
            file=sys.stderr,
        )
        return 3
    _prepare_qt()
    try:
        import webview
    except ImportError as exc:
        print(f"lessongate-agent panel: pywebview is not installed ({exc})", file=sys.stderr)
        return 3

    webview.settings["OPEN_EXTERNAL_LINKS_IN_BROWSER"] = True
    webview.settings["ALLOW_FILE_URLS"] = False
    webview.settings["ALLOW_DOWNLOADS"] = False
    window = webview.create_window(
        "LessonGate", target, width=1100, height=760, min_size=(640, 480), text_select=False
    )
    if window is None:
        return 3
    probe = os.environ.get(PROBE_ENV) == "1"
    try:
        # private_mode keeps the key cookie in memory: it dies with the window.
        webview.start(
            _probe if probe else None, (window,) if probe else None, gui=_gui(), private_mode=True
        )
    except Exception as exc:
        print(f"lessongate-agent panel: cannot open a window ({exc})", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
