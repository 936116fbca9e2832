"""Events are purged after the retention period; the audit log stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from server_stub.db.models import AuditEntry, DeviceEvent, utcnow
from server_stub.retention import purge
from tests.server_stub.conftest import World


def test_old_events_go_recent_stay(world: World) -> None:
    device = world.enroll()
    for i in range(3):
        world.client.post(
            "/api/v1/events",
            json={"events": [{"id": f"e{i}", "type": "blocked", "at": "2026-01-01T00:00:00Z"}]},
            headers=world.auth(device),
        )
    with world.state.sessions() as db:
        old = db.get(DeviceEvent, (device["device_id"], "e0"))
        assert old is not None
        old.received_at = utcnow() - timedelta(days=31)
        db.commit()
        audit_before = db.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        result = purge(db, retention_days=30)
        assert result.events == 1
        left = set(db.execute(select(DeviceEvent.event_id)).scalars())
        assert left == {"e1", "e2"}
        assert db.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == audit_before
        # A purged event id sent again is stored again: retention, not a tombstone list.
        assert purge(db, retention_days=30).events == 0
