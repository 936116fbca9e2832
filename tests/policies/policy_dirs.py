"""Small policy directories written to disk, for loader and CLI tests.

`write_policy(tmp_path)` writes a minimal valid policy; pass `files={name: text}` to replace or add
files (text is dedented; `None` leaves the file out).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

DISTRICT = """\
name = "Test District"
always_allow = ["accounts.google.com"]
never_allow = ["translate.google.com"]
blocklist = ["games.example"]

[[band]]
id = "K-2"
mode = "supervised"
max_session_minutes = 45
default_session_minutes = 30

[[band]]
id = "3-5"
mode = "supervised"
"""

ROOMS = """\
[[room]]
id = "lab-3a"
name = "Room 3A Computer Lab"
school = "Elm Elementary"
band = "3-5"
devices = ["demo-device", "lab3a-01"]

[[room]]
id = "kinder-1"
name = "Kindergarten"
school = "Elm Elementary"
band = "K-2"
devices = ["k1-01"]
"""

SCIENCE = """\
[[objective]]
id = "NGSS.3-LS1-1"
title = "Life cycles"
band = "3-5"
subject = "Science"

  [[objective.resources]]
  title = "Animals"
  url = "https://kids.nationalgeographic.com/animals"
  assets = ["i.natgeofe.com"]

[[objective]]
id = "NGSS.K-ESS2-1"
title = "Weather patterns"
band = "K-2"
subject = "Science"

  [[objective.resources]]
  title = "Clouds"
  url = "https://scijinks.gov/clouds/"
  bands = ["K-2", "3-5"]
"""

BASE_FILES: dict[str, str] = {
    "district.toml": DISTRICT,
    "rooms.toml": ROOMS,
    "objectives/science.toml": SCIENCE,
}


def write_policy(root: Path, files: Mapping[str, str | bytes | None] | None = None) -> Path:
    """Write the minimal policy with `files` applied over it into `root/policy`; return that."""
    directory = root / "policy"
    merged: dict[str, str | bytes | None] = {**BASE_FILES, **(files or {})}
    for name, content in merged.items():
        if content is None:
            continue
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
    return directory


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of (dedented) `text` containing `needle`."""
    for number, line in enumerate(textwrap.dedent(text).splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")
