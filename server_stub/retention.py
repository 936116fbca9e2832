"""Retention: device events older than the retention period are deleted, and expired dashboard
sessions and stale throttles with them. The audit log is the district's record and is kept."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from server_stub.db.models import DeviceEvent, Throttle, WebSession, utcnow

log = logging.getLogger(__name__)
PURGE_EVERY_S = 3600


@dataclass(frozen=True)
class PurgeResult:
    events: int
    web_sessions: int
    throttles: int


def purge(db: Session, retention_days: int, now: datetime | None = None) -> PurgeResult:
    now = now or utcnow()
    events = db.execute(
        delete(DeviceEvent).where(DeviceEvent.received_at < now - timedelta(days=retention_days))
    )
    sessions = db.execute(delete(WebSession).where(WebSession.expires_at < now))
    throttles = db.execute(delete(Throttle).where(Throttle.updated_at < now - timedelta(days=1)))
    db.commit()
    return PurgeResult(
        events=int(getattr(events, "rowcount", 0) or 0),
        web_sessions=int(getattr(sessions, "rowcount", 0) or 0),
        throttles=int(getattr(throttles, "rowcount", 0) or 0),
    )


async def purge_forever(sessions: sessionmaker[Session], retention_days: int) -> None:
    """Runs inside `serve`: once at start-up, then every hour."""
    while True:
        try:
            with sessions() as db:
                result = await asyncio.to_thread(purge, db, retention_days)
            if result.events:
                log.info("purged %d events older than %d days", result.events, retention_days)
        except Exception:  # a failed purge must not take the server down; retried next hour
            log.exception("retention purge failed")
        await asyncio.sleep(PURGE_EVERY_S)
