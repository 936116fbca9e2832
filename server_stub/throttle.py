"""Back-off after repeated failures (PINs, passwords), kept in the database so that every server
process sees the same counts: five failures are free, then each one locks the key for twice as long
as the one before (30 s, 60 s, ... up to 15 min). A success clears the count."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server_stub.db.models import Throttle

FREE_FAILURES = 5
FIRST_LOCK_S = 30
MAX_LOCK_S = 15 * 60
# A key that has not failed for this long starts again from zero.
FORGET_AFTER = timedelta(hours=1)


def retry_after(db: Session, scope: str, key: str, now: datetime) -> int | None:
    """Seconds the caller must wait before trying again, or None when it may try now."""
    row = db.get(Throttle, (scope, key))
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return max(1, math.ceil((row.locked_until - now).total_seconds()))


def record_failure(db: Session, scope: str, key: str, now: datetime) -> None:
    row = db.execute(
        select(Throttle).where(Throttle.scope == scope, Throttle.key == key).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        try:
            with db.begin_nested():
                db.add(Throttle(scope=scope, key=key, failures=1, updated_at=now))
            return
        except IntegrityError:
            row = db.get(Throttle, (scope, key), with_for_update=True)
            if row is None:  # pragma: no cover - the conflicting row vanished again
                return
    if now - row.updated_at > FORGET_AFTER:
        row.failures = 0
    row.failures += 1
    row.updated_at = now
    excess = row.failures - FREE_FAILURES
    if excess >= 0:
        row.locked_until = now + timedelta(seconds=min(MAX_LOCK_S, FIRST_LOCK_S * 2**excess))


def clear(db: Session, scope: str, key: str) -> None:
    row = db.get(Throttle, (scope, key))
    if row is not None:
        db.delete(row)
