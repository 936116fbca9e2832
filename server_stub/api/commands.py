"""Commands long-poll: a device waits up to `wait` seconds for remote start/end/extend commands of
its room with ids above `after`."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from server_stub.api.deps import StateDep, device_token_hash, unauthorized
from server_stub.api.schemas import CommandOut, CommandsResponse, ErrorResponse
from server_stub.db.models import Command, Device
from server_stub.state import AppState

router = APIRouter(prefix="/api/v1", tags=["commands"])
MAX_BATCH = 100


def _device_room(state: AppState, token_hash: str) -> tuple[str, str | None]:
    with state.sessions() as db:
        row = db.execute(
            select(Device.id, Device.room_id).where(
                Device.token_hash == token_hash, Device.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        raise unauthorized()
    return row.id, row.room_id


def _latest(state: AppState, room_id: str) -> int:
    with state.sessions() as db:
        found = db.execute(
            select(func.max(Command.id)).where(Command.room_id == room_id)
        ).scalar_one_or_none()
    return int(found or 0)


def _after(state: AppState, room_id: str, after: int) -> list[CommandOut]:
    with state.sessions() as db:
        rows = db.execute(
            select(Command)
            .where(Command.room_id == room_id, Command.id > after)
            .order_by(Command.id)
            .limit(MAX_BATCH)
        ).scalars()
        return [
            CommandOut(
                id=c.id,
                kind=c.kind,
                room_id=c.room_id,
                objectives=list(c.objectives),
                minutes=c.minutes,
                teacher_id=c.teacher_id,
                teacher_name=c.teacher_name,
                issued_at=c.issued_at,
                ends_at=c.ends_at,
            )
            for c in rows
        ]


@router.get("/commands", responses={401: {"model": ErrorResponse}})
async def poll_commands(
    state: StateDep,
    token_hash: Annotated[str, Depends(device_token_hash)],
    after: Annotated[
        int | None,
        Query(ge=0, le=2**62, description="Last command id seen; omit to learn the cursor."),
    ] = None,
    wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for a command.")] = 25,
) -> CommandsResponse:
    """Commands for this device's room after `after`, waiting up to `wait` s for the first one.

    Without `after` the answer comes at once with the room's current cursor and no commands.
    """
    _, room_id = await run_in_threadpool(_device_room, state, token_hash)
    if room_id is None:
        # Unassigned devices get nothing, but still wait, so a misconfigured agent cannot spin.
        await asyncio.sleep(wait)
        return CommandsResponse(cursor=after or 0, commands=[])
    if after is None:
        return CommandsResponse(
            cursor=await run_in_threadpool(_latest, state, room_id), commands=[]
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    notifier = state.notifier
    while True:
        generation = notifier.generation(room_id)
        found = await run_in_threadpool(_after, state, room_id, after)
        remaining = deadline - loop.time()
        if found or remaining <= 0 or notifier.closing:
            return CommandsResponse(cursor=found[-1].id if found else after, commands=found)
        await notifier.wait(room_id, generation, min(remaining, state.settings.poll_interval_s))
