"""The heartbeat path's token cache: follows revocations and room moves made in this process at
once, answers a wave of cold tokens with one query, and never caches unknown tokens."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from server_stub.db.models import Device, utcnow
from server_stub.device_directory import DeviceDirectory
from server_stub.security import token_digest
from tests.server_stub.conftest import World, heartbeat_body


def _beat(world: World, device: dict[str, Any]) -> Any:
    answer = world.client.post(
        "/api/v1/heartbeat", json=heartbeat_body(), headers=world.auth(device)
    )
    # Written now, not by the flush tick: a tick's re-read of the device racing the change
    # below may cache the old row for one more heartbeat (the directory's documented bound).
    world.flush_heartbeats()
    return answer


def test_room_move_and_revocation_apply_to_the_next_heartbeat(world: World) -> None:
    device = world.enroll("lab-3a")
    assert _beat(world, device).json()["room_id"] == "lab-3a"  # now cached
    with world.state.sessions() as db:
        row = db.get(Device, device["device_id"])
        assert row is not None
        row.room_id = "lab-4b"
        db.commit()
    assert _beat(world, device).json()["room_id"] == "lab-4b"
    with world.state.sessions() as db:
        row = db.get(Device, device["device_id"])
        assert row is not None
        row.revoked_at = utcnow()
        db.commit()
    assert _beat(world, device).status_code == 401


def test_cold_tokens_are_looked_up_together_and_unknown_ones_not_cached(world: World) -> None:
    devices = [world.enroll(hostname=f"pc-{i}") for i in range(5)]
    directory = DeviceDirectory(world.state.engine)
    queries: list[str] = []

    def count(_conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if "FROM devices" in statement:
            queries.append(statement)

    hashes = [token_digest(d["device_token"]) for d in devices] + [token_digest("forged")]

    async def lookup_all() -> list[Any]:
        return await asyncio.gather(*(directory.find(h) for h in hashes))

    event.listen(world.state.engine, "before_cursor_execute", count)
    try:
        found = asyncio.run(lookup_all())
        again = asyncio.run(lookup_all())
    finally:
        event.remove(world.state.engine, "before_cursor_execute", count)
    assert [f.id if f else None for f in found] == [d["device_id"] for d in devices] + [None]
    assert again == found
    # One query for the first wave; the second asks only about the unknown token.
    assert len(queries) == 2
    assert len(directory) == 5
