"""Entry point of the built `lessongate-agent` (PyInstaller), the service and its CLI.

The service bundle leaves out Qt and pywebview (see lessongate-agent.spec): `lessongate-agent
panel` therefore hands over to the separate `lessongate-panel` bundle installed next to it, with
the same arguments, so IT and teachers keep one command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _subcommand(argv: list[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _panel_binary() -> Path | None:
    # Two onedir bundles side by side: <prefix>/lessongate-agent/, <prefix>/lessongate-panel/
    folder = Path(sys.executable).resolve().parent.parent / "lessongate-panel"
    for candidate in (folder / "lessongate-panel", folder / "lessongate-panel.exe"):
        if candidate.is_file():
            return candidate
    return None


def main() -> int:
    argv = sys.argv[1:]
    if getattr(sys, "frozen", False) and _subcommand(argv) == "panel":
        panel = _panel_binary()
        if panel is None:
            print("lessongate-agent: the panel is not installed on this device", file=sys.stderr)
            return 2
        os.execv(panel, [str(panel), *argv])
    from agent.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
