"""The app factory: one FastAPI app serving the device API and the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from server_stub import __version__, dashboard
from server_stub.api import commands, devices, heartbeat, pins
from server_stub.auth import LoginRequired
from server_stub.config import Settings
from server_stub.db.session import make_engine, make_sessionmaker
from server_stub.device_directory import DeviceDirectory
from server_stub.heartbeat_buffer import HeartbeatBuffer
from server_stub.limits import BodySizeLimit, SecurityHeaders
from server_stub.notify import Notifier, PostgresNotifier
from server_stub.policy_store import PolicyCache
from server_stub.retention import purge_forever
from server_stub.security import Hasher
from server_stub.signing import load_or_create
from server_stub.state import AppState

STATIC_DIR = Path(__file__).parent / "static"


def build_state(settings: Settings) -> AppState:
    engine = make_engine(settings)
    key = load_or_create(settings.key_path)
    notifier: Notifier
    if settings.is_postgres:
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        notifier = PostgresNotifier(conninfo)
    else:
        notifier = Notifier()
    sessions = make_sessionmaker(engine)
    directory = DeviceDirectory(engine)
    directory.watch_sessions(sessions)
    write_lock = threading.Lock()
    heartbeats = HeartbeatBuffer(
        engine,
        directory,
        settings.heartbeat_flush_s,
        write_lock=None if settings.is_postgres else write_lock,
    )
    return AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        key=key,
        policies=PolicyCache(key),
        hasher=Hasher(fast=settings.fast_hashing),
        notifier=notifier,
        directory=directory,
        heartbeats=heartbeats,
        write_lock=write_lock,
    )


def create_app(settings: Settings, *, run_purge: bool = False) -> FastAPI:
    """Build the app. The schema must already be migrated (`lessongate-server migrate`, or
    `serve`, which migrates first)."""
    state = build_state(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.notifier.start()
        await state.heartbeats.start()
        purger = (
            asyncio.create_task(purge_forever(state.sessions, settings.retention_days))
            if run_purge
            else None
        )
        try:
            yield
        finally:
            if purger is not None:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
            await state.notifier.stop()
            # After uvicorn has answered the last requests: no heartbeat state is lost.
            await state.heartbeats.close()
            state.engine.dispose()

    app = FastAPI(
        title="LessonGate server",
        version=__version__,
        description="Device API (/api/v1) for LessonGate agents, and the dashboard.",
        lifespan=lifespan,
        # No OpenTelemetry here; left on, FastAPI looks for a tracer provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.lg = state
    # Inside the body-size limit, which must still apply to heartbeats.
    app.add_middleware(heartbeat.HeartbeatFastPath, state=state)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(devices.router)
    app.include_router(heartbeat.router)
    app.include_router(pins.router)
    app.include_router(commands.router)

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, str]:  # async: a liveness probe needs no worker thread
        """Liveness probe; also the benches' baseline endpoint."""
        return {"status": "ok"}

    app.include_router(dashboard.router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _to_login(request: Request, exc: Exception) -> Response:
    if request.url.path.endswith("/live"):
        # The live fragment's fetch sees 401 and sends the page to /login itself.
        return Response("signed out", status.HTTP_401_UNAUTHORIZED)
    return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
