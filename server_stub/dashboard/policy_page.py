"""Policy: the current bundle version, its objectives and resources; read-only (the source of
truth is the policy directory in git, loaded with `lessongate-server import-policy`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from server_stub.dashboard.common import DbDep, SignedDep, StateDep, page
from server_stub.db.models import PolicyVersion
from server_stub.people import rooms_of

router = APIRouter()


@router.get("/policy", response_class=HTMLResponse)
def policy_page(request: Request, state: StateDep, db: DbDep, who: SignedDep) -> Response:
    meta = db.execute(
        select(PolicyVersion).order_by(PolicyVersion.id.desc()).limit(1)
    ).scalar_one_or_none()
    policy = state.policies.policy(db)
    rooms = []
    if policy is not None:
        mine = set(rooms_of(db, who.user))
        rooms = [
            (room, policy.objectives_for_room(room.id)) for room in policy.rooms if room.id in mine
        ]
    return page(request, who, "policy.html", meta=meta, policy=policy, rooms=rooms)
