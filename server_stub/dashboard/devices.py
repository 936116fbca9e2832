"""Devices (IT only): versions, last seen, health, tamper events, enrollment tokens, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server_stub import audit
from server_stub.auth import Signed, check_csrf
from server_stub.dashboard.common import AdminDep, DbDep, StateDep, device_view, page
from server_stub.db.models import Device, DeviceEvent, EnrollmentToken, Room, utcnow
from server_stub.security import new_token, token_digest
from server_stub.state import AppState

router = APIRouter()
Csrf = Annotated[str, Form(max_length=100)]


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request, state: StateDep, db: DbDep, who: AdminDep) -> Response:
    return _render(request, state, db, who)


def _render(
    request: Request, state: AppState, db: Session, who: Signed, new_token_value: str = ""
) -> Response:
    devices = db.execute(select(Device).order_by(Device.room_id, Device.hostname)).scalars().all()
    tamper: dict[str, int] = {
        device_id: count
        for device_id, count in db.execute(
            select(DeviceEvent.device_id, func.count())
            .where(DeviceEvent.type.like("tamper%"))
            .group_by(DeviceEvent.device_id)
        )
    }
    tokens = db.execute(
        select(EnrollmentToken).order_by(EnrollmentToken.created_at.desc()).limit(100)
    ).scalars()
    rooms = db.execute(select(Room).order_by(Room.school, Room.id)).scalars().all()
    return page(
        request,
        who,
        "devices.html",
        devices=[device_view(d, state.settings.offline_after_s) for d in devices],
        tamper=tamper,
        tokens=list(tokens),
        rooms=rooms,
        schools=sorted({r.school for r in rooms}),
        now=utcnow(),
        new_token_value=new_token_value,
    )


@router.post("/devices/{device_id}/revoke")
def revoke_device(
    request: Request, device_id: str, db: DbDep, who: AdminDep, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, who, csrf_token)
    device = db.get(Device, device_id)
    if device is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such device")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        audit.record(
            db,
            actor=who.user.username,
            role=who.user.role,
            action="device_revoke",
            room_id=device.room_id,
            device_id=device.id,
            detail=device.hostname,
        )
        db.commit()
    return RedirectResponse("/devices", status.HTTP_303_SEE_OTHER)


@router.post("/devices/{device_id}/room")
def assign_room(
    request: Request,
    device_id: str,
    db: DbDep,
    who: AdminDep,
    room_id: Annotated[str, Form(max_length=64)],
    csrf_token: Csrf = "",
) -> Response:
    """Place a device (e.g. one enrolled with a school-wide token) in a room."""
    check_csrf(request, who, csrf_token)
    device = db.get(Device, device_id)
    room = db.get(Room, room_id)
    if device is None or room is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such device or room")
    previous = device.room_id
    device.room_id, device.school = room.id, room.school
    audit.record(
        db,
        actor=who.user.username,
        role=who.user.role,
        action="device_assign",
        room_id=room.id,
        device_id=device.id,
        detail=f"{device.hostname}: from {previous or 'unassigned'}",
    )
    db.commit()
    return RedirectResponse("/devices", status.HTTP_303_SEE_OTHER)


@router.post("/enrollment-tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    state: StateDep,
    db: DbDep,
    who: AdminDep,
    scope: Annotated[str, Form(max_length=300)],
    uses: Annotated[int, Form(ge=1, le=10000)] = 30,
    hours: Annotated[int, Form(ge=1, le=24 * 90)] = 72,
    label: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """`scope` is "room:<id>" or "school:<name>"; the token is shown once, on the next page."""
    check_csrf(request, who, csrf_token)
    kind, _, value = scope.partition(":")
    room_id = value if kind == "room" else None
    school = value if kind == "school" else None
    known = (
        db.get(Room, value) is not None
        if room_id
        else db.execute(select(Room.id).where(Room.school == value).limit(1)).first() is not None
    )
    if kind not in ("room", "school") or not known:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "unknown room or school")
    token = new_token()
    db.add(
        EnrollmentToken(
            token_hash=token_digest(token),
            label=label,
            room_id=room_id,
            school=school,
            expires_at=utcnow() + timedelta(hours=hours),
            max_uses=uses,
            created_by=who.user.username,
        )
    )
    audit.record(
        db,
        actor=who.user.username,
        role=who.user.role,
        action="enrollment_token_create",
        room_id=room_id,
        detail=f"{scope}; {uses} uses; {hours} h; {label}",
    )
    db.commit()
    return _render(request, state, db, who, new_token_value=token)


@router.post("/enrollment-tokens/{token_id}/revoke")
def revoke_token(
    request: Request, token_id: int, db: DbDep, who: AdminDep, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, who, csrf_token)
    tok = db.get(EnrollmentToken, token_id)
    if tok is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such enrollment token")
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        audit.record(
            db,
            actor=who.user.username,
            role=who.user.role,
            action="enrollment_token_revoke",
            room_id=tok.room_id,
            detail=f"token #{tok.id} {tok.label}",
        )
        db.commit()
    return RedirectResponse("/devices", status.HTTP_303_SEE_OTHER)
