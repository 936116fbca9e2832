"""IT admins and teachers: creation, password checks, room assignments."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server_stub import audit
from server_stub.db.models import Room, TeacherRoom, User
from server_stub.security import Hasher

ROLES = ("admin", "teacher")
MIN_PASSWORD = 10


class PeopleError(ValueError):
    pass


def create_user(
    db: Session,
    hasher: Hasher,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    pin: str | None = None,
    rooms: Iterable[str] = (),
    actor: str = "cli",
) -> User:
    """Create or update (password, PIN, rooms) a user. Rooms must exist (import a policy first)."""
    if role not in ROLES:
        raise PeopleError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise PeopleError(f"password must have at least {MIN_PASSWORD} characters")
    if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise PeopleError("PIN must be 4 to 12 digits")
    rooms = list(dict.fromkeys(rooms))
    missing = [r for r in rooms if db.get(Room, r) is None]
    if missing:
        raise PeopleError(f"unknown room(s): {', '.join(missing)} (run import-policy first)")
    user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        user = User(username=username, display_name=display_name, role=role, password_hash="")
        db.add(user)
    user.display_name, user.role = display_name, role
    user.password_hash = hasher.hash(password)
    if pin is not None:
        user.pin_hash = hasher.hash_pin(pin)
    db.flush()
    if rooms:
        db.execute(delete(TeacherRoom).where(TeacherRoom.user_id == user.id))
        db.add_all(TeacherRoom(user_id=user.id, room_id=r) for r in rooms)
    audit.record(
        db,
        actor=actor,
        role="admin",
        action=f"create_{role}",
        detail=f"{username}; rooms: {', '.join(rooms) or '-'}",
    )
    db.commit()
    return user


def rooms_of(db: Session, user: User) -> list[str]:
    """The room ids a user may see and act on: every room for IT, assigned rooms for teachers."""
    if user.role == "admin":
        return list(db.execute(select(Room.id).order_by(Room.id)).scalars())
    return list(
        db.execute(
            select(TeacherRoom.room_id)
            .where(TeacherRoom.user_id == user.id)
            .order_by(TeacherRoom.room_id)
        ).scalars()
    )
