"""The signed policy bundle: signature over canonical JSON, ETag/If-None-Match, room scoping."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policies.bundle import canonical_json, policy_from_bundle
from server_stub.policy_store import bundle_serial_for, store_policy
from tests.server_stub.conftest import World, demo_policy


def test_bundle_is_signed_with_the_enrollment_key(world: World) -> None:
    device = world.enroll("lab-3a")
    r = world.client.get("/api/v1/policy", headers=world.auth(device))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["room_id"] == "lab-3a" and body["version"] == "v1"
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(device["signing_public_key"]))
    key.verify(base64.b64decode(body["signature"]), canonical_json(body["bundle"]))
    policy = policy_from_bundle(body["bundle"])
    # Only this room, and only the objectives offered in it.
    assert [room.id for room in policy.rooms] == ["lab-3a"]
    tampered = dict(body["bundle"], version="v0")
    with pytest.raises(InvalidSignature):
        key.verify(base64.b64decode(body["signature"]), canonical_json(tampered))


def test_etag_gives_304_until_the_policy_changes(world: World) -> None:
    device = world.enroll("lab-3a")
    h = world.auth(device)
    first = world.client.get("/api/v1/policy", headers=h)
    etag = first.headers["etag"]
    again = world.client.get("/api/v1/policy", headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    with world.state.sessions() as db:
        store_policy(db, demo_policy("v2"), "test")
        db.commit()
    changed = world.client.get("/api/v1/policy", headers={**h, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["version"] == "v2"
    assert changed.headers["etag"] != etag
    hb = world.client.post(
        "/api/v1/heartbeat",
        json={
            "lock_state": "closed",
            "health": {"ok": True},
            "agent_version": "1",
            "uptime_s": 1,
            "cpu_percent": 0,
            "memory_percent": 0,
        },
        headers=h,
    )
    assert hb.json()["policy_version"] == "v2"


def test_unassigned_device_and_missing_policy(world: World) -> None:
    token = world.enrollment_token(room=None, school="North Elementary")
    r = world.client.post("/api/v1/enroll", json={"token": token, "hostname": "stray"})
    stray = r.json()
    r = world.client.get("/api/v1/policy", headers=world.auth(stray))
    assert r.status_code == 409 and "not assigned" in r.json()["detail"]
    assert world.client.get("/api/v1/policy").status_code == 401


def test_every_import_gives_a_higher_serial_even_of_older_files(world: World) -> None:
    """Devices refuse a bundle with a lower serial than theirs (a replay); IT rolls back by
    importing the old files again, which must come out newer."""
    device = world.enroll("lab-3a")
    serials = [world.client.get("/api/v1/policy", headers=world.auth(device)).json()]
    for version in ("v2", "v1"):
        with world.state.sessions() as db:
            store_policy(db, demo_policy(version), "test")
            db.commit()
        serials.append(world.client.get("/api/v1/policy", headers=world.auth(device)).json())
    assert [b["version"] for b in serials] == ["v1", "v2", "v1"]
    numbers = [b["bundle"]["serial"] for b in serials]
    assert numbers == sorted(set(numbers)) and numbers[0] >= 1


def test_a_serial_is_the_import_time_so_a_restored_database_does_not_go_back() -> None:
    at = datetime(2026, 11, 30, 6, 0, 0, 123456)
    assert bundle_serial_for(at) == bundle_serial_for(at.replace(tzinfo=UTC))  # SQLite: naive
    assert bundle_serial_for(at) == 1_796_018_400_123_456
    assert bundle_serial_for(at + timedelta(microseconds=1)) == bundle_serial_for(at) + 1
