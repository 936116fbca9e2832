"""What every dashboard page shares: templates, the signed-in user, room visibility."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from server_stub.api.deps import get_state
from server_stub.auth import Signed, require
from server_stub.db.models import Device, Room, utcnow
from server_stub.people import rooms_of
from server_stub.state import AppState

# Jinja2Templates turns autoescaping on for .html, so every name a person or a device chose is
# escaped when shown.
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _left(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = int((value - utcnow()).total_seconds())
    if seconds <= 0:
        return "ended"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60}:{seconds % 60:02d}"


templates.env.filters["ago"] = _ago
templates.env.filters["left"] = _left


def db_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    with state.sessions() as db:
        yield db


StateDep = Annotated[AppState, Depends(get_state)]
DbDep = Annotated[Session, Depends(db_session)]


def page(request: Request, who: Signed, name: str, status_code: int = 200, **ctx: Any) -> Response:
    return templates.TemplateResponse(
        request,
        name,
        {"user": who.user, "csrf": who.session.csrf_token, **ctx},
        status_code=status_code,
    )


def signed(request: Request, db: DbDep) -> Signed:
    return require(request, db)


def signed_admin(request: Request, db: DbDep) -> Signed:
    return require(request, db, role="admin")


SignedDep = Annotated[Signed, Depends(signed)]
AdminDep = Annotated[Signed, Depends(signed_admin)]


def visible_room(db: Session, who: Signed, room_id: str) -> Room:
    """The room, if this person may see it; otherwise 404, saying nothing about other rooms."""
    room = db.get(Room, room_id)
    if room is None or room_id not in rooms_of(db, who.user):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such room")
    return room


@dataclass(frozen=True)
class DeviceView:
    device: Device
    online: bool
    open: bool
    objectives: list[str]
    ends_at: datetime | None
    blocked_total: int
    blocked_top: list[tuple[str, int]]
    problems: list[str]


def device_view(device: Device, offline_after_s: int) -> DeviceView:
    now = utcnow()
    online = device.last_seen_at is not None and device.last_seen_at >= now - timedelta(
        seconds=offline_after_s
    )
    session = device.session or {}
    ends_at = None
    if session.get("expires_at"):
        try:
            ends_at = datetime.fromisoformat(str(session["expires_at"]))
        except ValueError:
            ends_at = None
        if ends_at is not None and ends_at.tzinfo is None:
            ends_at = ends_at.replace(tzinfo=UTC)
    counts = {str(k): int(v) for k, v in (device.blocked_counts or {}).items()}
    health = device.health or {}
    problems = [str(p) for p in health.get("problems", [])]
    if health and not health.get("ok", True) and not problems:
        problems = ["enforcement reports a problem"]
    if not online:
        problems = ["offline", *problems]
    return DeviceView(
        device=device,
        online=online,
        open=device.lock_state == "open",
        objectives=[str(o) for o in session.get("objectives", [])],
        ends_at=ends_at,
        blocked_total=sum(counts.values()),
        blocked_top=sorted(counts.items(), key=lambda kv: -kv[1])[:3],
        problems=problems,
    )
