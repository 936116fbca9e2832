"""Entry point of the built `lessongate-panel` bundle: the same CLI, with Qt and pywebview
included, so `lessongate-panel [--config FILE] panel` opens the window."""

from __future__ import annotations

import sys

from agent.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
