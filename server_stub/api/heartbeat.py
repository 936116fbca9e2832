"""The heartbeat endpoint: most of the server's traffic (60,000 devices at one per 30 s is
2,000 a second), so it stays on the event loop when it can. The device comes from the token cache
(`DeviceDirectory`), the state goes to the write-behind buffer (`HeartbeatBuffer`), the room's
policy version from memory; the database is touched only by cache misses and the flush."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from server_stub.api.deps import StateDep, device_token_hash, unauthorized
from server_stub.api.schemas import ErrorResponse, Heartbeat, HeartbeatResponse
from server_stub.db.models import utcnow
from server_stub.heartbeat_buffer import state_row
from server_stub.state import AppState

router = APIRouter(prefix="/api/v1", tags=["devices"])
# A policy import reaches heartbeats within this many seconds; /policy always checks.
POLICY_CHECK_S = 2.0


@router.post(
    "/heartbeat",
    response_model=HeartbeatResponse,
    responses={401: {"model": ErrorResponse}},
)
async def heartbeat(
    body: Heartbeat,
    state: StateDep,
    token_hash: Annotated[str, Depends(device_token_hash)],
) -> Response:
    """Report the device's current state; the server keeps only the latest one."""
    device = await state.directory.find(token_hash)
    if device is None:
        raise unauthorized()
    now = utcnow()
    state.heartbeats.put(
        state_row(
            device.id,
            now,
            lock_state=body.lock_state,
            session=body.session.model_dump(mode="json") if body.session else None,
            policy_version=body.policy_version,
            health=body.health.model_dump(mode="json"),
            agent_version=body.agent_version,
            stats={
                "uptime_s": body.uptime_s,
                "cpu_percent": body.cpu_percent,
                "memory_percent": body.memory_percent,
            },
            blocked_counts=body.blocked_counts,
        )
    )
    version = None
    if device.room_id is not None:
        known, version = state.policies.recent_version(device.room_id, POLICY_CHECK_S)
        if not known:
            version = await run_in_threadpool(_policy_version, state, device.room_id)
    answer = HeartbeatResponse(
        server_time=now,
        heartbeat_interval_s=state.settings.heartbeat_interval_s,
        room_id=device.room_id,
        policy_version=version,
    )
    return Response(answer.model_dump_json(), media_type="application/json")


def _policy_version(state: AppState, room_id: str) -> Any:
    with state.sessions() as db:
        signed = state.policies.bundle_for_room(db, room_id)
        return signed.version if signed else None
