"""The append-only audit log: who did what, in which room, for which objectives, for how long."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
