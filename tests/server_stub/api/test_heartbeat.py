"""The heartbeat fast path and the FastAPI route behind it give the same answers: requests the
fast path declines reach the route with their body intact."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import event

from server_stub.api.heartbeat import _refreshed_version
from server_stub.db.models import Device
from tests.server_stub.conftest import World, heartbeat_body


def test_declined_requests_reach_the_route_with_their_body(world: World) -> None:
    device = world.enroll()
    token = device["device_token"]
    raw = json.dumps(heartbeat_body(lock_state="open")).encode()
    # A +json content type: not the fast path's, but the route reads such a body as JSON.
    r = world.client.post(
        "/api/v1/heartbeat",
        content=raw,
        headers={"Authorization": f"bearer  {token}", "Content-Type": "application/x+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["room_id"] == "lab-3a"
    world.flush_heartbeats()
    with world.state.sessions() as db:
        row = db.get(Device, device["device_id"])
        assert row is not None and row.lock_state == "open"
    r = world.client.post(
        "/api/v1/heartbeat",
        content=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    assert r.status_code == 422
    r = world.client.post("/api/v1/heartbeat", content=raw, headers=world.auth(device))
    assert r.status_code == 422  # no content type at all


def test_both_paths_answer_alike(world: World) -> None:
    device = world.enroll()
    h = world.auth(device)
    fast = world.client.post("/api/v1/heartbeat", json=heartbeat_body(), headers=h)
    routed = world.client.post(
        "/api/v1/heartbeat",
        content=json.dumps(heartbeat_body()).encode(),
        headers={**h, "Content-Type": "application/vnd.lessongate+json"},
    )
    assert fast.status_code == routed.status_code == 200
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    a, b = fast.json(), routed.json()
    assert a.pop("server_time") <= b.pop("server_time")
    assert a == b
    # Refusals come from the route either way.
    forged = {"Authorization": "Bearer forged"}
    r = world.client.post("/api/v1/heartbeat", json=heartbeat_body(), headers=forged)
    assert r.status_code == 401 and r.json() == {"detail": "unknown or revoked device token"}
    r = world.client.post("/api/v1/heartbeat", json={"lock_state": "ajar"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"


def test_an_expired_policy_version_is_checked_once_for_many_heartbeats(world: World) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if "FROM policy_versions" in statement:
            statements.append(statement)

    async def many() -> list[str | None]:
        return await asyncio.gather(*(_refreshed_version(world.state, "lab-3a") for _ in range(30)))

    event.listen(world.state.engine, "before_cursor_execute", count)
    try:
        versions = asyncio.run(many())
    finally:
        event.remove(world.state.engine, "before_cursor_execute", count)
    assert set(versions) == {"v1"}
    # One look for the newest policy (and, this first time, one read of it), not thirty.
    assert sum("ORDER BY policy_versions.id DESC" in st for st in statements) == 1
    assert world.state.policy_refreshes == {}
