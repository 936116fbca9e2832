"""Rooms: live device state per room, and starting, ending or extending a session for all of it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from server_stub import room_control
from server_stub.auth import Signed, check_csrf
from server_stub.dashboard.common import (
    DbDep,
    SignedDep,
    StateDep,
    device_view,
    page,
    templates,
    visible_room,
)
from server_stub.db.models import Device, Room
from server_stub.people import rooms_of
from server_stub.state import AppState

router = APIRouter()


def _room_context(db: Session, state: AppState, room: Room) -> dict[str, Any]:
    devices = db.execute(
        select(Device)
        .where(Device.room_id == room.id, Device.revoked_at.is_(None))
        .order_by(Device.hostname, Device.id)
    ).scalars()
    views = [device_view(d, state.settings.offline_after_s) for d in devices]
    policy = state.policies.policy(db)
    objectives = policy.objectives_for_room(room.id) if policy else ()
    titles = {o.id: o.title for o in objectives}
    return {
        "room": room,
        "devices": views,
        "online": sum(v.online for v in views),
        "open": sum(v.open and v.online for v in views),
        "warnings": sum(bool(v.problems) for v in views),
        "session": room_control.active_session(db, room.id),
        "objectives": objectives,
        "titles": titles,
    }


@router.get("/rooms", response_class=HTMLResponse)
def rooms_index(request: Request, state: StateDep, db: DbDep, who: SignedDep) -> Response:
    ids = rooms_of(db, who.user)
    rooms = [db.get(Room, r) for r in ids]
    summaries = [_room_context(db, state, r) for r in rooms if r is not None]
    return page(request, who, "rooms.html", rooms=summaries)


@router.get("/rooms/{room_id}", response_class=HTMLResponse)
def room_page(
    request: Request, room_id: str, state: StateDep, db: DbDep, who: SignedDep
) -> Response:
    room = visible_room(db, who, room_id)
    return page(request, who, "room.html", **_room_context(db, state, room))


@router.get("/rooms/{room_id}/live", response_class=HTMLResponse)
def room_live(
    request: Request, room_id: str, state: StateDep, db: DbDep, who: SignedDep
) -> Response:
    """The part of the room page that refreshes every few seconds."""
    room = visible_room(db, who, room_id)
    return templates.TemplateResponse(
        request, "_room_live.html", {"user": who.user, **_room_context(db, state, room)}
    )


def _act(
    request: Request,
    state: AppState,
    db: Session,
    who: Signed,
    room_id: str,
    csrf_token: str,
    action: str,
    objectives: list[str],
    minutes: int,
) -> Response:
    check_csrf(request, who, csrf_token)
    room = visible_room(db, who, room_id)
    policy = state.policies.policy(db)
    try:
        if policy is None:
            raise room_control.RoomActionError("no policy imported yet")
        if action == "start":
            room_control.start(db, state.notifier, policy, who.user, room.id, objectives, minutes)
        elif action == "extend":
            room_control.extend(db, state.notifier, policy, who.user, room.id, minutes)
        else:
            room_control.end(db, state.notifier, who.user, room.id)
    except room_control.RoomActionError as exc:
        db.rollback()
        ctx = _room_context(db, state, room)
        return page(request, who, "room.html", status.HTTP_400_BAD_REQUEST, error=str(exc), **ctx)
    return RedirectResponse(f"/rooms/{room.id}", status.HTTP_303_SEE_OTHER)


Minutes = Annotated[int, Form(ge=1, le=24 * 60)]
Csrf = Annotated[str, Form(max_length=100)]


@router.post("/rooms/{room_id}/start")
def room_start(
    request: Request,
    room_id: str,
    state: StateDep,
    db: DbDep,
    who: SignedDep,
    minutes: Minutes,
    csrf_token: Csrf = "",
    objectives: Annotated[list[str] | None, Form(max_length=50)] = None,
) -> Response:
    return _act(request, state, db, who, room_id, csrf_token, "start", objectives or [], minutes)


@router.post("/rooms/{room_id}/extend")
def room_extend(
    request: Request,
    room_id: str,
    state: StateDep,
    db: DbDep,
    who: SignedDep,
    minutes: Minutes,
    csrf_token: Csrf = "",
) -> Response:
    return _act(request, state, db, who, room_id, csrf_token, "extend", [], minutes)


@router.post("/rooms/{room_id}/end")
def room_end(
    request: Request,
    room_id: str,
    state: StateDep,
    db: DbDep,
    who: SignedDep,
    csrf_token: Csrf = "",
) -> Response:
    return _act(request, state, db, who, room_id, csrf_token, "end", [], 0)
