"""Crash-safe persistence of small JSON state files (the session, the PIN lockout).

A write goes to a temporary file in the same folder, is fsynced, renamed over the old file with
`os.replace` (atomic on POSIX), and the folder is fsynced so the rename itself survives power
loss. A reader therefore sees the old file or the new one, never half of either.

Every file carries `format` and `version`; anything unreadable, of another format or of a newer
version is reported as a problem (the caller comes up closed and reports it) and moved aside
as `<name>.corrupt` for IT to look at, so the next good write starts clean.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.atomic import write_atomically

FORMAT = "lessongate-agent-state"
VERSION = 1
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Loaded:
    data: dict[str, Any] | None  # None: no file, or a problem
    problem: str | None = None  # why the file could not be used


def boot_id(path: Path = BOOT_ID_PATH) -> str:
    """Changes on every boot; empty where the kernel has none (every start is then a boot)."""
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def ensure_private_dir(path: Path) -> None:
    """The state folder holds the control socket and lockout state: owner-only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    payload = {"format": FORMAT, "version": VERSION, "data": data}
    write_atomically(path, json.dumps(payload, sort_keys=True, indent=1).encode("utf-8"))


def read_json(path: Path) -> Loaded:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Loaded(None)
    except OSError as e:
        return Loaded(None, f"{path}: cannot read: {e.strerror or e}")
    problem = _check(raw, path)
    if problem is not None:
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(path.name + ".corrupt"))
        return Loaded(None, problem)
    data: dict[str, Any] = json.loads(raw)["data"]
    return Loaded(data)


def _check(raw: bytes, path: Path) -> str | None:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        return f"{path}: not valid JSON ({e})"
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        return f"{path}: not a LessonGate agent state file (missing 'format': {FORMAT!r})"
    if payload.get("version") != VERSION:
        return f"{path}: state version {payload.get('version')!r} is not {VERSION}"
    if not isinstance(payload.get("data"), dict):
        return f"{path}: 'data' must be an object"
    return None


class StateStore:
    """The session state file, `<state_dir>/session.json`."""

    def __init__(self, state_dir: Path, name: str = "session.json") -> None:
        self.path = state_dir / name

    def load(self) -> Loaded:
        return read_json(self.path)

    def save(self, data: dict[str, Any]) -> None:
        atomic_write_json(self.path, data)
