"""The service's asyncio side: the expiry tick, the CLI's control socket and the local UI."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from agent.control import serve_control

if TYPE_CHECKING:
    from agent.service import AgentService

TICK_SECONDS = 1.0  # "end or expiry: closed again within 1 s"


async def run_service(service: AgentService, stop: asyncio.Event, *, ui: bool = True) -> None:
    service.startup()
    tasks = [asyncio.create_task(_tick_loop(service, stop))]
    tasks += [asyncio.create_task(job(stop)) for job in service.background]
    server = await serve_control(service, service.config.control_socket)
    if ui:
        tasks.append(asyncio.create_task(_serve_ui(service)))
    try:
        await stop.wait()
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(FileNotFoundError):
            service.config.control_socket.unlink()
        service.shutdown()


async def _tick_loop(service: AgentService, stop: asyncio.Event) -> None:
    while not stop.is_set():
        service.tick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TICK_SECONDS)


async def _serve_ui(service: AgentService) -> None:
    from agent.ui.server import UiAddress, new_secret, serve_ui

    ready: asyncio.Future[UiAddress] = asyncio.get_running_loop().create_future()

    def on_ready(f: asyncio.Future[UiAddress]) -> None:
        if not f.cancelled() and f.exception() is None:
            service.ui_url = f.result().url

    ready.add_done_callback(on_ready)
    try:
        await serve_ui(
            service,
            "127.0.0.1",
            service.config.ui_port,
            new_secret(),
            state_dir=service.config.state_dir,
            ready=ready,
        )
    except OSError as e:  # the device still enforces; only the screen is missing
        service.report("ui_failed", {"detail": str(e)})
