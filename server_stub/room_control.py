"""Remote sessions for a whole room: start, end, extend. Each one is a command every device of the
room receives by long-poll, a row in room_sessions, and an audit entry.

The devices still run each command through their own session state machine, so the policy's rules
(grade band, maximum length) hold on the device as well; the checks here give the teacher a clear
answer up front.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.model import Policy
from server_stub import audit
from server_stub.db.models import Command, RoomSession, User, utcnow
from server_stub.notify import Notifier


class RoomActionError(ValueError):
    """A request the policy or the room's state does not allow; the message is for the teacher."""


def active_session(db: Session, room_id: str) -> RoomSession | None:
    now = utcnow()
    return db.execute(
        select(RoomSession)
        .where(
            RoomSession.room_id == room_id,
            RoomSession.ended_at.is_(None),
            RoomSession.ends_at > now,
        )
        .order_by(RoomSession.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _max_minutes(policy: Policy, room_id: str) -> int:
    room = policy.room(room_id)
    band = policy.district.band(room.band) if room else None
    return band.max_session_minutes if band else 60


def start(
    db: Session,
    notifier: Notifier,
    policy: Policy,
    user: User,
    room_id: str,
    objectives: Sequence[str],
    minutes: int,
) -> Command:
    if policy.room(room_id) is None:
        raise RoomActionError(f"room {room_id!r} is not in the current policy")
    offered = {o.id for o in policy.objectives_for_room(room_id)}
    chosen = list(dict.fromkeys(objectives))
    if not chosen:
        raise RoomActionError("pick at least one objective")
    unknown = [o for o in chosen if o not in offered]
    if unknown:
        raise RoomActionError(f"not offered in this room: {', '.join(unknown)}")
    limit = _max_minutes(policy, room_id)
    if not 1 <= minutes <= limit:
        raise RoomActionError(f"a session in this room lasts 1 to {limit} minutes")
    now = utcnow()
    current = active_session(db, room_id)
    if current is not None:
        current.ended_at = now
    ends = now + timedelta(minutes=minutes)
    db.add(
        RoomSession(
            room_id=room_id,
            teacher_id=user.username,
            objectives=chosen,
            started_at=now,
            ends_at=ends,
        )
    )
    cmd = _command(db, notifier, user, room_id, "start", chosen, minutes, ends)
    _audit_and_commit(db, notifier, user, "room_start", room_id, chosen, minutes=minutes)
    return cmd


def end(db: Session, notifier: Notifier, user: User, room_id: str) -> Command:
    now = utcnow()
    current = active_session(db, room_id)
    duration = None
    objectives: list[str] = []
    if current is not None:
        current.ended_at = now
        duration = int((now - current.started_at).total_seconds())
        objectives = list(current.objectives)
    # Sent even without a known session: devices opened by a local PIN close as well.
    cmd = _command(db, notifier, user, room_id, "end", objectives, None, None)
    _audit_and_commit(db, notifier, user, "room_end", room_id, objectives, duration_s=duration)
    return cmd


def extend(
    db: Session, notifier: Notifier, policy: Policy, user: User, room_id: str, minutes: int
) -> Command:
    current = active_session(db, room_id)
    if current is None:
        raise RoomActionError("no session is running in this room")
    limit = _max_minutes(policy, room_id)
    new_end = current.ends_at + timedelta(minutes=minutes)
    if minutes < 1 or new_end - current.started_at > timedelta(minutes=limit):
        raise RoomActionError(f"a session in this room lasts at most {limit} minutes in all")
    current.ends_at = new_end
    objectives = list(current.objectives)
    cmd = _command(db, notifier, user, room_id, "extend", objectives, minutes, new_end)
    _audit_and_commit(db, notifier, user, "room_extend", room_id, objectives, minutes=minutes)
    return cmd


def _audit_and_commit(
    db: Session,
    notifier: Notifier,
    user: User,
    action: str,
    room_id: str,
    objectives: list[str],
    *,
    minutes: int | None = None,
    duration_s: int | None = None,
) -> None:
    """The audit row goes in the same transaction as the command; devices are woken after it."""
    audit.record(
        db,
        actor=user.username,
        role=user.role,
        action=action,
        room_id=room_id,
        objectives=objectives,
        minutes=minutes,
        duration_s=duration_s,
    )
    db.commit()
    notifier.after_commit(room_id)


def _command(
    db: Session,
    notifier: Notifier,
    user: User,
    room_id: str,
    kind: str,
    objectives: list[str],
    minutes: int | None,
    ends_at: object,
) -> Command:
    cmd = Command(
        room_id=room_id,
        kind=kind,
        objectives=objectives,
        minutes=minutes,
        teacher_id=user.username,
        teacher_name=user.display_name,
        issued_at=utcnow(),
        ends_at=ends_at,
    )
    db.add(cmd)
    db.flush()
    notifier.published_in(db, room_id)
    return cmd
