"""Request dependencies: the shared state, a database session, the calling device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from server_stub.db.models import Device
from server_stub.security import token_digest
from server_stub.state import AppState

bearer = HTTPBearer(auto_error=False, description="The device token from enrollment.")


# Trivial dependencies are `async def` so FastAPI runs them inline instead of in a worker thread.
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.lg
    return state


def get_db(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    with state.sessions() as db:
        yield db


def unauthorized(detail: str = "unknown or revoked device token") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def device_token_hash(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise unauthorized("missing device token (Authorization: Bearer <token>)")
    return token_digest(creds.credentials)


def current_device(
    token_hash: Annotated[str, Depends(device_token_hash)],
    db: Annotated[Session, Depends(get_db)],
) -> Device:
    device = db.execute(
        select(Device).where(Device.token_hash == token_hash, Device.revoked_at.is_(None))
    ).scalar_one_or_none()
    if device is None:
        raise unauthorized()
    return device


StateDep = Annotated[AppState, Depends(get_state)]
DbDep = Annotated[Session, Depends(get_db)]
DeviceDep = Annotated[Device, Depends(current_device)]
