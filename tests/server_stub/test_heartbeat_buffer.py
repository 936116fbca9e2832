"""Write-behind heartbeats: coalesced per device, visible after the flush, never lost by an
orderly shutdown, never written for revoked devices, never overwriting newer state with older."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from server_stub.config import Settings
from server_stub.db.models import Device
from server_stub.db.session import make_engine
from server_stub.heartbeat_buffer import state_row
from tests.server_stub.conftest import World, heartbeat_body, running_world
from tests.server_stub.serverproc import Server, enroll_many, prepare


@pytest.fixture
def held_world(settings: Settings) -> Iterator[World]:
    """A world whose timer never flushes during a test: only `flush_heartbeats` writes."""
    yield from running_world(replace(settings, heartbeat_flush_s=3600))


def _beat(world: World, device: dict[str, Any], **over: Any) -> datetime:
    r = world.client.post(
        "/api/v1/heartbeat", json=heartbeat_body(**over), headers=world.auth(device)
    )
    assert r.status_code == 200, r.text
    return datetime.fromisoformat(r.json()["server_time"])


def _row(world: World, device_id: str) -> Device:
    with world.state.sessions() as db:
        row = db.get(Device, device_id)
        assert row is not None
        return row


def test_coalesced_heartbeats_are_visible_after_the_flush(world: World) -> None:
    a, b = world.enroll(hostname="pc-a"), world.enroll(hostname="pc-b")
    _beat(world, a, lock_state="closed", blocked_counts={"games.example": 1})
    last_a = _beat(world, a, lock_state="open", blocked_counts={"games.example": 4})
    last_b = _beat(world, b, lock_state="closed")
    world.flush_heartbeats()
    row_a, row_b = _row(world, a["device_id"]), _row(world, b["device_id"])
    # The newest state of each device wins, stamped with the time the server received it.
    assert (row_a.lock_state, row_a.last_seen_at) == ("open", last_a)
    assert row_a.blocked_counts == {"games.example": 4}
    assert (row_b.lock_state, row_b.last_seen_at) == ("closed", last_b)
    assert world.state.heartbeats.pending == 0


def test_flush_never_writes_a_revoked_device(held_world: World) -> None:
    world = held_world
    device = world.enroll()
    _beat(world, device, lock_state="open")
    # Revoked behind this process's back (another server process, or SQL by hand).
    with world.state.engine.begin() as conn:
        conn.execute(
            update(Device)
            .where(Device.id == device["device_id"])
            .values(revoked_at=datetime.now().astimezone())
        )
    world.flush_heartbeats()
    assert _row(world, device["device_id"]).lock_state == "unknown"
    # The flush found the revocation and dropped the cached token: the device is refused now.
    r = world.client.post("/api/v1/heartbeat", json=heartbeat_body(), headers=world.auth(device))
    assert r.status_code == 401


def test_older_state_from_another_process_never_overwrites_newer(world: World) -> None:
    device = world.enroll()
    newest = _beat(world, device, lock_state="open")
    world.flush_heartbeats()
    stale = state_row(
        device["device_id"],
        newest - timedelta(seconds=1),
        lock_state="closed",
        session=None,
        policy_version=None,
        health={"ok": True, "problems": []},
        agent_version="0.1.0",
        stats={},
        blocked_counts={},
    )
    world.state.heartbeats.put(stale)
    world.flush_heartbeats()
    row = _row(world, device["device_id"])
    assert (row.lock_state, row.last_seen_at) == ("open", newest)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_shutdown_writes_pending_heartbeats(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_empty_url") if backend == "postgresql" else ""
    data = tmp_path / "data"
    token = prepare(data, url)
    # A flush interval far longer than the test, so only the shutdown can write these; two
    # worker processes on PostgreSQL, each with its own buffer.
    args = ("--heartbeat-flush-ms", "60000", *(("--workers", "2") if url else ()))
    srv = Server(data, url, extra_args=args)
    try:
        tokens = enroll_many(srv.url, token, 6)
        sent: dict[str, datetime] = {}
        with httpx.Client(base_url=srv.url) as client:
            for i, tok in enumerate(tokens):
                r = client.post(
                    "/api/v1/heartbeat",
                    json=heartbeat_body(lock_state="open", uptime_s=i),
                    headers={"Authorization": f"Bearer {tok}"},
                )
                assert r.status_code == 200, r.text
                sent[str(i)] = datetime.fromisoformat(r.json()["server_time"])
    finally:
        srv.stop()
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    assert srv.proc.returncode in (0, -signal.SIGTERM)
    engine = make_engine(Settings(data_dir=data, database_url=url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Device.lock_state, Device.stats, Device.last_seen_at)).all()
    finally:
        engine.dispose()
    assert len(rows) == 6
    assert {r.lock_state for r in rows} == {"open"}
    assert {str(r.stats["uptime_s"]): r.last_seen_at for r in rows} == sent
