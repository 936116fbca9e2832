"""Enrollment, heartbeats and event batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from sqlalchemy import func, select

from server_stub.db.models import AuditEntry, Device, DeviceEvent, EnrollmentToken
from tests.server_stub.conftest import World, heartbeat_body


def test_enrollment_returns_device_identity_and_signing_key(world: World) -> None:
    device = world.enroll(hostname="lab3a-pc01")
    assert device["device_id"].startswith("dev-")
    assert device["room_id"] == "lab-3a"
    assert device["school"] == "North Elementary"
    assert len(base64.b64decode(device["signing_public_key"])) == 32
    assert device["signing_public_key"] == world.state.key.public_b64
    with world.state.sessions() as db:
        row = db.get(Device, device["device_id"])
        assert row is not None
        # Only a digest of the token is stored.
        assert device["device_token"] not in row.token_hash


def test_school_token_places_device_by_policy_name(world: World) -> None:
    token = world.enrollment_token(room=None, school="North Elementary")
    r = world.client.post(
        "/api/v1/enroll", json={"token": token, "hostname": "x", "device_name": "pc-1"}
    )
    assert r.status_code == 201 and r.json()["room_id"] == "lab-3a"
    r = world.client.post("/api/v1/enroll", json={"token": token, "hostname": "unlisted"})
    assert r.status_code == 201 and r.json()["room_id"] is None


def test_unknown_expired_and_used_up_enrollment_tokens_are_refused(world: World) -> None:
    r = world.client.post("/api/v1/enroll", json={"token": "nope", "hostname": "x"})
    assert r.status_code == 401 and r.json()["detail"] == "unknown enrollment token"
    expired = world.enrollment_token(expires_in=timedelta(seconds=-1))
    r = world.client.post("/api/v1/enroll", json={"token": expired, "hostname": "x"})
    assert r.status_code == 403 and "expired" in r.json()["detail"]
    once = world.enrollment_token(uses=1)
    assert (
        world.client.post("/api/v1/enroll", json={"token": once, "hostname": "a"}).status_code
        == 201
    )
    r = world.client.post("/api/v1/enroll", json={"token": once, "hostname": "b"})
    assert r.status_code == 403 and "no uses left" in r.json()["detail"]
    with world.state.sessions() as db:
        assert db.execute(select(func.count()).select_from(Device)).scalar_one() == 1
        uses = db.execute(
            select(EnrollmentToken.uses).where(EnrollmentToken.max_uses == 1)
        ).scalar_one()
        assert uses == 1


def test_enroll_rejects_malformed_bodies(world: World) -> None:
    c = world.client
    bad = c.post(
        "/api/v1/enroll", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422
    wrong_type = c.post("/api/v1/enroll", json={"token": 5, "hostname": ["x"]})
    assert wrong_type.status_code == 422
    extra = c.post("/api/v1/enroll", json={"token": "t", "hostname": "h", "admin": True})
    assert extra.status_code == 422 and "admin" in extra.text
    big = c.post(
        "/api/v1/enroll",
        content=json.dumps({"token": "t", "hostname": "x" * 2_000_000}).encode(),
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413


def test_heartbeat_updates_device_state(world: World) -> None:
    device = world.enroll()
    session = {
        "objectives": ["sci-space"],
        "teacher_id": "alice",
        "expires_at": "2030-01-01T00:00:00Z",
    }
    r = world.client.post(
        "/api/v1/heartbeat",
        json=heartbeat_body(lock_state="open", session=session),
        headers=world.auth(device),
    )
    assert r.status_code == 200, r.text
    assert r.json()["room_id"] == "lab-3a"
    assert r.json()["heartbeat_interval_s"] == 30
    world.flush_heartbeats()
    with world.state.sessions() as db:
        row = db.get(Device, device["device_id"])
        assert row is not None and row.lock_state == "open"
        assert row.session is not None and row.session["objectives"] == ["sci-space"]
        assert row.blocked_counts == {"www.youtube.com": 3}
        assert row.last_seen_at is not None


def test_heartbeat_refuses_unknown_and_revoked_tokens(world: World) -> None:
    r = world.client.post("/api/v1/heartbeat", json=heartbeat_body())
    assert r.status_code == 401
    r = world.client.post(
        "/api/v1/heartbeat", json=heartbeat_body(), headers={"Authorization": "Bearer forged"}
    )
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    device = world.enroll()
    with world.state.sessions() as db:
        row = db.get(Device, device["device_id"])
        assert row is not None
        row.revoked_at = row.enrolled_at
        db.commit()
    r = world.client.post("/api/v1/heartbeat", json=heartbeat_body(), headers=world.auth(device))
    assert r.status_code == 401


def test_heartbeat_rejects_urls_and_bad_values(world: World) -> None:
    device = world.enroll()
    h = world.auth(device)
    for body in (
        heartbeat_body(blocked_counts={"https://www.youtube.com/watch?v=1": 1}),
        heartbeat_body(lock_state="ajar"),
        heartbeat_body(cpu_percent="lots"),
        heartbeat_body(uptime_s=-1),
        heartbeat_body(memory_percent=101),
    ):
        assert world.client.post("/api/v1/heartbeat", json=body, headers=h).status_code == 422


def _events(*ids: str, type_: str = "blocked") -> dict[str, object]:
    return {
        "events": [
            {"id": i, "type": type_, "at": "2026-11-30T10:00:00Z", "data": {"count": 1}}
            for i in ids
        ]
    }


def test_event_batches_are_idempotent(world: World) -> None:
    device = world.enroll()
    h = world.auth(device)
    first = world.client.post("/api/v1/events", json=_events("e1", "e2"), headers=h)
    assert first.status_code == 200
    assert first.json() == {"accepted": ["e1", "e2"], "duplicates": []}
    retry = world.client.post("/api/v1/events", json=_events("e1", "e2", "e3", "e3"), headers=h)
    assert retry.json() == {"accepted": ["e3"], "duplicates": ["e1", "e2", "e3"]}
    with world.state.sessions() as db:
        count = db.execute(select(func.count()).select_from(DeviceEvent)).scalar_one()
    assert count == 3


def test_same_event_id_from_two_devices_is_two_events(world: World) -> None:
    a, b = world.enroll(hostname="a"), world.enroll(hostname="b")
    for d in (a, b):
        r = world.client.post("/api/v1/events", json=_events("same"), headers=world.auth(d))
        assert r.json()["accepted"] == ["same"]


def test_session_events_land_in_the_audit_log_once(world: World) -> None:
    device = world.enroll()
    batch = {
        "events": [
            {
                "id": "s1",
                "type": "session_start",
                "at": "2026-11-30T10:00:00Z",
                "data": {"teacher_id": "alice", "objectives": ["sci-space"], "minutes": 30},
            }
        ]
    }
    for _ in range(2):
        world.client.post("/api/v1/events", json=batch, headers=world.auth(device))
    with world.state.sessions() as db:
        rows = (
            db.execute(select(AuditEntry).where(AuditEntry.action == "device_session_start"))
            .scalars()
            .all()
        )
    assert len(rows) == 1
    assert (
        rows[0].actor == "alice" and rows[0].objectives == ["sci-space"] and rows[0].minutes == 30
    )


def test_events_refuse_browsing_history_and_bad_batches(world: World) -> None:
    device = world.enroll()
    h = world.auth(device)
    leak = {
        "events": [
            {
                "id": "x",
                "type": "blocked",
                "at": "2026-11-30T10:00:00Z",
                "data": {"URL": "https://a/b"},
            }
        ]
    }
    r = world.client.post("/api/v1/events", json=leak, headers=h)
    assert r.status_code == 422 and "browsing history" in r.text
    assert world.client.post("/api/v1/events", json={"events": []}, headers=h).status_code == 422
    too_many = _events(*[f"e{i}" for i in range(501)])
    assert world.client.post("/api/v1/events", json=too_many, headers=h).status_code == 422
    sql = _events("x'); DROP TABLE device_events;--")
    assert world.client.post("/api/v1/events", json=sql, headers=h).status_code == 422
    ok = world.client.post(
        "/api/v1/events",
        json={
            "events": [
                {
                    "id": "q",
                    "type": "note",
                    "at": "2026-11-30T10:00:00Z",
                    "data": {"v": "'; DROP TABLE devices;--"},
                }
            ]
        },
        headers=h,
    )
    assert ok.status_code == 200
    with world.state.sessions() as db:
        assert db.execute(select(func.count()).select_from(Device)).scalar_one() == 1
    assert world.client.post("/api/v1/events", json=_events("z")).status_code == 401
