"""The append-only audit log: who did what, in which room, for which objectives, for how long."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server_stub.db.models import AuditEntry, utcnow


def record(
    db: Session,
    *,
    actor: str,
    role: str,
    action: str,
    room_id: str | None = None,
    device_id: str | None = None,
    objectives: Sequence[str] = (),
    minutes: int | None = None,
    duration_s: int | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    db.add(
        AuditEntry(
            at=at or utcnow(),
            actor=actor,
            actor_role=role,
            action=action,
            room_id=room_id,
            device_id=device_id,
            objectives=list(objectives),
            minutes=minutes,
            duration_s=duration_s,
            detail=detail[:500],
        )
    )


# Device events that are also teacher or IT actions, by the agent's names (`agent.session`:
# session_started/ended/extended with `objective_ids`; `agent.disabling`) and the older short
# names (with `objectives`), mapped to the actions the Audit page lists and filters by.
DEVICE_ACTIONS = {
    "session_started": "device_session_start",
    "session_start": "device_session_start",
    "session_ended": "device_session_end",
    "session_end": "device_session_end",
    "session_extended": "device_session_extend",
    "session_extend": "device_session_extend",
    "enforcement_disabled": "device_enforcement_disabled",
    "enforcement_enabled": "device_enforcement_enabled",
    "disable_refused": "device_disable_refused",
}


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def record_device_event(
    db: Session,
    *,
    device_id: str,
    room_id: str | None,
    event_id: str,
    event_type: str,
    data: dict[str, Any],
    at: datetime,
) -> bool:
    """Adds the audit entry for a device event that needs one; False for other events."""
    action = DEVICE_ACTIONS.get(event_type)
    if action is None:
        return False
    objectives = data.get("objective_ids", data.get("objectives"))
    teacher = data.get("teacher_id")
    # `end` at the device's own CLI, or the disable switch: done on the device, not by a teacher.
    by_teacher = isinstance(teacher, str) and bool(teacher) and not teacher.startswith("cli:")
    detail = f"event {event_id}"
    for key in ("reason", "by", "source"):
        if isinstance(data.get(key), str):
            detail += f"; {key} {data[key]}"
    record(
        db,
        actor=str(teacher if by_teacher else device_id)[:64],
        role="teacher" if by_teacher else "device",
        action=action,
        room_id=room_id,
        device_id=device_id,
        objectives=[str(o) for o in objectives] if isinstance(objectives, list) else [],
        minutes=_whole(data.get("minutes")),
        duration_s=_whole(data.get("duration_s")),
        detail=detail,
        at=at,
    )
    return True
