"""How a device's last heartbeat turns into what the Rooms page shows."""

from __future__ import annotations

from datetime import timedelta

from server_stub.config import Settings
from server_stub.dashboard.common import _left, device_view
from server_stub.db.models import Device, utcnow

OFFLINE_AFTER = Settings().offline_after_s  # three 30 s heartbeats plus grace


def _device(seen_ago_s: float | None, **kw: object) -> Device:
    seen = None if seen_ago_s is None else utcnow() - timedelta(seconds=seen_ago_s)
    return Device(id="d", token_hash="h", hostname="pc", last_seen_at=seen, **kw)


def test_offline_after_three_missed_heartbeats_plus_grace() -> None:
    assert OFFLINE_AFTER == 105
    assert device_view(_device(31), OFFLINE_AFTER).online  # one missed beat is still online
    assert device_view(_device(95), OFFLINE_AFTER).online
    late = device_view(_device(120), OFFLINE_AFTER)
    assert not late.online and late.problems[0] == "offline"
    assert not device_view(_device(None), OFFLINE_AFTER).online


def test_session_health_and_blocked_counts() -> None:
    view = device_view(
        _device(
            5,
            lock_state="open",
            session={"objectives": ["a"], "expires_at": "2030-01-01T00:00:00"},
            health={"ok": False, "problems": []},
            blocked_counts={"a.example": 1, "b.example": 9, "c.example": 3, "d.example": 2},
        ),
        OFFLINE_AFTER,
    )
    assert view.open and view.objectives == ["a"]
    assert view.ends_at is not None and view.ends_at.tzinfo is not None
    assert view.blocked_total == 15
    assert view.blocked_top == [("b.example", 9), ("c.example", 3), ("d.example", 2)]
    assert view.problems == ["enforcement reports a problem"]


def test_time_left_reads_naturally() -> None:
    assert _left(utcnow() + timedelta(minutes=25, seconds=30)) in ("25:30", "25:29")
    assert _left(utcnow() + timedelta(hours=2, minutes=5, seconds=30)) == "2 h 05 min"
    assert _left(utcnow() - timedelta(seconds=1)) == "ended"
