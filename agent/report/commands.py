"""Remote start, end and extend from the dashboard, through the same session machine as a PIN.

The server's command id is also the cursor: the agent asks for commands after the last one it
handled, and writes the cursor to `<state_dir>/commands_cursor.json` only after AgentService has
handled the command. A crash in between handles that command again on restart, which the session
rules make harmless for start and end; an extend could count twice, still within the band's
maximum length.

A start that reaches the device late (it was off, or offline) opens only for the time the room's
session has left (`ends_at`, read through the server's clock as seen in heartbeats); one whose
time is over is skipped and reported. A start for a device that already has a session replaces it
(the server ended the room's previous session when it issued this one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.state_store import atomic_write_json, read_json

if TYPE_CHECKING:
    from agent.service import AgentService
    from agent.ui.controller import Outcome

FILE = "commands_cursor.json"


class CursorFile:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE

    def load(self) -> int | None:
        data = read_json(self.path).data
        value = data.get("cursor") if data else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def save(self, cursor: int) -> None:
        atomic_write_json(self.path, {"cursor": cursor})


@dataclass(frozen=True)
class Command:
    id: int
    kind: str
    objectives: tuple[str, ...]
    minutes: int | None
    teacher_id: str
    ends_at: float | None  # server's wall clock

    @classmethod
    def parse(cls, raw: Any) -> Command:
        """Raises ValueError/KeyError/TypeError on a malformed command."""
        if not isinstance(raw, dict):
            raise TypeError("a command must be an object")
        cid = raw["id"]
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise TypeError("command id must be an integer")
        objectives = raw.get("objectives") or []
        if not isinstance(objectives, list):
            raise TypeError("objectives must be a list")
        minutes = raw.get("minutes")
        if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool)):
            raise TypeError("minutes must be an integer")
        ends = raw.get("ends_at")
        return cls(
            id=cid,
            kind=str(raw["kind"]),
            objectives=tuple(str(o) for o in objectives),
            minutes=minutes,
            teacher_id=str(raw["teacher_id"]),
            ends_at=datetime.fromisoformat(ends).timestamp() if isinstance(ends, str) else None,
        )


def handle(service: AgentService, cmd: Command, server_now: float) -> Outcome | None:
    """Runs one command through the service; None when it was skipped (reported)."""
    cid = str(cmd.id)
    if cmd.kind == "start":
        minutes = cmd.minutes
        if cmd.ends_at is not None:
            left = cmd.ends_at - server_now
            if left <= 0:
                service.report(
                    "remote_command_skipped",
                    {
                        "command_id": cid,
                        "kind": cmd.kind,
                        "reason": "expired",
                        "teacher_id": cmd.teacher_id,
                    },
                )
                return None
            remaining = max(1, math.ceil(left / 60))
            minutes = remaining if minutes is None else min(minutes, remaining)
        outcome = service.remote_start(cid, cmd.teacher_id, list(cmd.objectives), minutes)
        if not outcome.ok and outcome.error == "already_open":
            service.remote_end(cid, cmd.teacher_id)
            outcome = service.remote_start(cid, cmd.teacher_id, list(cmd.objectives), minutes)
        return outcome
    if cmd.kind == "end":
        return service.remote_end(cid, cmd.teacher_id)
    if cmd.kind == "extend" and cmd.minutes:
        return service.remote_extend(cid, cmd.teacher_id, cmd.minutes)
    service.report(
        "remote_command_skipped",
        {"command_id": cid, "kind": cmd.kind, "reason": "unknown", "teacher_id": cmd.teacher_id},
    )
    return None
