"""The heartbeat endpoint: most of the server's traffic (60,000 devices at one per 30 s is
2,000 a second), so it stays on the event loop when it can. The device comes from the token cache
(`DeviceDirectory`), the state goes to the write-behind buffer (`HeartbeatBuffer`), the room's
policy version from memory; the database is touched only by cache misses and the flush.

`HeartbeatFastPath` answers well-formed heartbeats of known devices before FastAPI's routing,
dependency solving and response machinery, which cost more than the heartbeat itself. It
validates with the same model and answers with the same `accept` as the route; anything else
(bad JSON, a wrong field, an unknown token, another content type) is handed, body and all, to the
FastAPI route below, which owns the error answers and the OpenAPI description.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server_stub.api.deps import StateDep, device_token_hash, unauthorized
from server_stub.api.schemas import ErrorResponse, Heartbeat, HeartbeatResponse
from server_stub.db.models import utcnow
from server_stub.device_directory import KnownDevice
from server_stub.heartbeat_buffer import state_row
from server_stub.security import token_digest
from server_stub.state import AppState

PATH = "/api/v1/heartbeat"
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
    return Response(await accept(state, device, body), media_type="application/json")


async def accept(state: AppState, device: KnownDevice, body: Heartbeat) -> bytes:
    """Queue the state for the next flush; the answer as JSON bytes."""
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
            version = await _refreshed_version(state, device.room_id)
    answer = HeartbeatResponse(
        server_time=now,
        heartbeat_interval_s=state.settings.heartbeat_interval_s,
        room_id=device.room_id,
        policy_version=version,
    )
    return answer.model_dump_json().encode()


async def _refreshed_version(state: AppState, room_id: str) -> str | None:
    # One database check per room when the cached version expires, however many heartbeats
    # arrive meanwhile: they all wait for it instead of each starting their own.
    pending = state.policy_refreshes.get(room_id)
    if pending is None:
        pending = asyncio.ensure_future(run_in_threadpool(_policy_version, state, room_id))
        state.policy_refreshes[room_id] = pending
        pending.add_done_callback(lambda _: state.policy_refreshes.pop(room_id, None))
    return await asyncio.shield(pending)


def _policy_version(state: AppState, room_id: str) -> str | None:
    with state.sessions() as db:
        signed = state.policies.bundle_for_room(db, room_id)
        return signed.version if signed else None


class HeartbeatFastPath:
    """ASGI middleware; place it inside the body-size limit so that still applies."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        token = content_type = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                token = value
            elif name == b"content-type":
                content_type = value
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        answer = await self._answer(token, content_type, raw)
        if answer is None:
            await self.app(scope, _replay(raw, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, token: bytes, content_type: bytes, raw: bytes) -> bytes | None:
        # Parsed as HTTPBearer does, so both paths accept the same tokens.
        scheme, credentials = get_authorization_scheme_param(token.decode("latin-1"))
        if scheme.lower() != "bearer" or not credentials:
            return None
        if content_type.split(b";")[0].strip().lower() != b"application/json":
            return None
        try:
            body = Heartbeat.model_validate_json(raw)
        except ValidationError:
            return None
        device = await self.state.directory.find(token_digest(credentials))
        if device is None:
            return None
        return await accept(self.state, device, body)


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay
