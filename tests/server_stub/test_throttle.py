"""Back-off after failures: five free, then 30 s doubling to 15 min; success or an hour clears."""

from __future__ import annotations

from datetime import timedelta

from server_stub import throttle
from server_stub.db.models import utcnow
from tests.server_stub.conftest import World


def test_backoff_doubles_and_is_capped(world: World) -> None:
    now = utcnow()
    with world.state.sessions() as db:
        for _ in range(5):
            throttle.record_failure(db, "s", "k", now)
        db.commit()
        assert throttle.retry_after(db, "s", "k", now) == 30
        throttle.record_failure(db, "s", "k", now)
        assert throttle.retry_after(db, "s", "k", now) == 60
        for _ in range(10):
            throttle.record_failure(db, "s", "k", now)
        assert throttle.retry_after(db, "s", "k", now) == 15 * 60
        assert throttle.retry_after(db, "s", "k", now + timedelta(minutes=16)) is None
        assert throttle.retry_after(db, "s", "other", now) is None


def test_success_and_time_forgive(world: World) -> None:
    now = utcnow()
    with world.state.sessions() as db:
        for _ in range(4):
            throttle.record_failure(db, "s", "k", now)
        throttle.clear(db, "s", "k")
        throttle.record_failure(db, "s", "k", now)
        assert throttle.retry_after(db, "s", "k", now) is None
        for _ in range(4):
            throttle.record_failure(db, "s", "late", now)
        later = now + timedelta(hours=2)
        throttle.record_failure(db, "s", "late", later)
        # The old four were forgotten, so this is the first failure again: no lock.
        assert throttle.retry_after(db, "s", "late", later) is None
