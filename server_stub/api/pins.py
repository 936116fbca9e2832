"""Teacher PINs for devices: an online check (rate-limited per device and per teacher) and the
offline verifiers a device caches for when the server does not answer. PINs never leave as text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from server_stub import audit, throttle
from server_stub.api.deps import DbDep, DeviceDep, StateDep
from server_stub.api.schemas import (
    ErrorResponse,
    PinCheckRequest,
    PinCheckResponse,
    Verifier,
    VerifiersResponse,
)
from server_stub.db.models import TeacherRoom, User, utcnow

router = APIRouter(prefix="/api/v1", tags=["pins"])
PIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Wrong teacher or PIN, or bad device token."},
    429: {"model": ErrorResponse, "description": "Too many failures; see Retry-After."},
}


@router.post("/pin/check", responses=PIN_ERRORS)
def check_pin(
    body: PinCheckRequest, device: DeviceDep, state: StateDep, db: DbDep
) -> PinCheckResponse:
    """Is this the PIN of a teacher who may teach in the device's room?"""
    now = utcnow()
    keys = (("pin-device", device.id), ("pin-teacher", body.teacher_id))
    for scope, key in keys:
        wait = throttle.retry_after(db, scope, key, now)
        if wait is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many wrong PINs; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
    teacher = db.execute(
        select(User).where(
            User.username == body.teacher_id, User.role == "teacher", User.disabled.is_(False)
        )
    ).scalar_one_or_none()
    allowed = (
        teacher is not None
        and device.room_id is not None
        and db.get(TeacherRoom, (teacher.id, device.room_id)) is not None
    )
    # Verify even when the teacher is unknown, so timing does not reveal who exists.
    ok = state.hasher.verify_pin(teacher.pin_hash if allowed and teacher else None, body.pin)
    if not ok or teacher is None:
        for scope, key in keys:
            throttle.record_failure(db, scope, key, now)
        audit.record(
            db,
            actor=device.id,
            role="device",
            action="pin_failed",
            room_id=device.room_id,
            device_id=device.id,
            detail=f"teacher id tried: {body.teacher_id}",
        )
        db.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong teacher or PIN")
    for scope, key in keys:
        throttle.clear(db, scope, key)
    audit.record(
        db,
        actor=teacher.username,
        role="teacher",
        action="pin_ok",
        room_id=device.room_id,
        device_id=device.id,
    )
    db.commit()
    return PinCheckResponse(ok=True, teacher_id=teacher.username, teacher_name=teacher.display_name)


@router.get("/verifiers", responses={401: {"model": ErrorResponse}})
def verifiers(device: DeviceDep, db: DbDep) -> VerifiersResponse:
    """argon2id PIN hashes of the teachers who may teach in this device's room, for offline use."""
    rows: list[Verifier] = []
    if device.room_id is not None:
        teachers = db.execute(
            select(User)
            .join(TeacherRoom, TeacherRoom.user_id == User.id)
            .where(
                TeacherRoom.room_id == device.room_id,
                User.role == "teacher",
                User.disabled.is_(False),
                User.pin_hash.is_not(None),
            )
            .order_by(User.username)
        ).scalars()
        rows = [
            Verifier(teacher_id=t.username, teacher_name=t.display_name, pin_hash=t.pin_hash or "")
            for t in teachers
        ]
    return VerifiersResponse(room_id=device.room_id, generated_at=utcnow(), verifiers=rows)
