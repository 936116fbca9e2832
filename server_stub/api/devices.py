"""Device endpoints: enrollment, heartbeats, event batches, the signed policy bundle."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server_stub import audit
from server_stub.api.deps import (
    DbDep,
    DeviceDep,
    StateDep,
)
from server_stub.api.schemas import (
    EnrollRequest,
    EnrollResponse,
    ErrorResponse,
    Event,
    EventBatch,
    EventBatchResponse,
    PolicyBundleResponse,
)
from server_stub.db.models import Device, DeviceEvent, EnrollmentToken, Room, utcnow
from server_stub.security import new_token, token_digest

router = APIRouter(prefix="/api/v1", tags=["devices"])
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorResponse}}


@router.post(
    "/enroll",
    status_code=status.HTTP_201_CREATED,
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
)
def enroll(body: EnrollRequest, state: StateDep, db: DbDep) -> EnrollResponse:
    """Trade an enrollment token for a device id and token (shown once)."""
    now = utcnow()
    digest = token_digest(body.token)
    claimed = db.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.token_hash == digest,
            EnrollmentToken.revoked_at.is_(None),
            EnrollmentToken.expires_at > now,
            EnrollmentToken.uses < EnrollmentToken.max_uses,
        )
        .values(uses=EnrollmentToken.uses + 1)
        .returning(EnrollmentToken.id, EnrollmentToken.room_id, EnrollmentToken.school)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        db.rollback()
        raise _enrollment_refusal(db, digest, now)
    room_id, school = claimed.room_id, claimed.school
    name = body.device_name or body.hostname
    if room_id is not None:
        room = db.get(Room, room_id)
        school = room.school if room else school
    elif school is not None:
        room_id = _room_by_device_name(db, school, name)
    device_token = new_token()
    device = Device(
        id=f"dev-{secrets.token_hex(8)}",
        token_hash=token_digest(device_token),
        hostname=body.hostname,
        room_id=room_id,
        school=school,
        os=body.os,
        agent_version=body.agent_version or None,
        enrolled_at=now,
    )
    db.add(device)
    audit.record(
        db,
        actor=device.id,
        role="device",
        action="device_enroll",
        room_id=room_id,
        device_id=device.id,
        detail=f"host {body.hostname}, enrollment token #{claimed.id}",
    )
    db.commit()
    return EnrollResponse(
        device_id=device.id,
        device_token=device_token,
        room_id=room_id,
        school=school,
        signing_public_key=state.key.public_b64,
        signing_key_id=state.key.key_id,
        heartbeat_interval_s=state.settings.heartbeat_interval_s,
    )


def _enrollment_refusal(db: Session, digest: str, now: Any) -> HTTPException:
    tok = db.execute(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == digest)
    ).scalar_one_or_none()
    if tok is None:
        return HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown enrollment token")
    if tok.revoked_at is not None:
        reason = "enrollment token revoked"
    elif tok.expires_at <= now:
        reason = "enrollment token expired"
    else:
        reason = "enrollment token has no uses left"
    return HTTPException(status.HTTP_403_FORBIDDEN, reason)


def _room_by_device_name(db: Session, school: str, name: str) -> str | None:
    for room in db.execute(select(Room).where(Room.school == school)).scalars():
        if name in room.device_names:
            return room.id
    return None


@router.post("/events", responses=AUTH_ERRORS)
def post_events(body: EventBatch, device: DeviceDep, db: DbDep) -> EventBatchResponse:
    """Store a batch of events. Idempotent by event id: a retried batch stores nothing twice."""
    unique: dict[str, Event] = {}
    for ev in body.events:
        unique.setdefault(ev.id, ev)
    now = utcnow()
    rows = [
        {
            "device_id": device.id,
            "event_id": ev.id,
            "type": ev.type,
            "at": ev.at,
            "received_at": now,
            "data": ev.data,
        }
        for ev in unique.values()
    ]
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(DeviceEvent).values(rows).on_conflict_do_nothing().returning(DeviceEvent.event_id)
    new = set(db.execute(stmt).scalars())
    for ev in unique.values():
        if ev.id in new:  # sessions and the disable switch also go to the audit log
            audit.record_device_event(
                db,
                device_id=device.id,
                room_id=device.room_id,
                event_id=ev.id,
                event_type=ev.type,
                data=ev.data,
                at=ev.at,
            )
    db.commit()
    accepted = [ev.id for ev in unique.values() if ev.id in new]
    seen: set[str] = set()
    duplicates = []
    for ev in body.events:
        if ev.id not in new or ev.id in seen:
            duplicates.append(ev.id)
        seen.add(ev.id)
    return EventBatchResponse(accepted=accepted, duplicates=duplicates)


@router.get(
    "/policy",
    response_model=PolicyBundleResponse,
    responses={
        **AUTH_ERRORS,
        304: {"description": "Not modified (If-None-Match matched the ETag)."},
        404: {"model": ErrorResponse, "description": "No policy imported yet."},
        409: {"model": ErrorResponse, "description": "Device not assigned to a room."},
    },
)
def get_policy(
    device: DeviceDep,
    state: StateDep,
    db: DbDep,
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    """The signed policy bundle for the device's room; send the ETag back as If-None-Match."""
    if device.room_id is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "device is not assigned to a room")
    signed = state.policies.bundle_for_room(db, device.room_id)
    if signed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no policy for this device's room")
    headers = {"ETag": signed.etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and signed.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    body = PolicyBundleResponse(
        room_id=signed.room_id,
        version=signed.version,
        key_id=signed.key_id,
        signature=signed.signature,
        bundle=signed.bundle,
    )
    return JSONResponse(body.model_dump(mode="json"), headers=headers)
