"""Runs the real UI server (serve_ui, uvicorn) on a free loopback port in a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.ui.controller import UiController
from agent.ui.server import UiAddress, new_secret, serve_ui
from tests.agent.ui.fake_controller import FakeController


@dataclass
class RunningUi:
    address: UiAddress
    controller: UiController
    state_dir: Path


class UiThread:
    def __init__(self, controller: UiController, state_dir: Path) -> None:
        self.controller = controller
        self.state_dir = state_dir
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._address: Future[UiAddress] = Future()
        self._thread = threading.Thread(target=self._run, name="ui-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            ready: asyncio.Future[UiAddress] = self._loop.create_future()
            ready.add_done_callback(lambda f: self._address.set_result(f.result()))
            self._task = asyncio.ensure_future(
                serve_ui(
                    self.controller,
                    "127.0.0.1",
                    0,
                    new_secret(),
                    state_dir=self.state_dir,
                    ready=ready,
                )
            )
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except BaseException as exc:
                if not self._address.done():
                    self._address.set_exception(exc)

        self._loop.run_until_complete(main())
        self._loop.close()

    def start(self) -> UiAddress:
        self._thread.start()
        return self._address.result(timeout=20)

    def stop(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=20)
        assert not self._thread.is_alive(), "UI server thread did not stop"


def run_ui(controller: UiController, state_dir: Path) -> Iterator[RunningUi]:
    server = UiThread(controller, state_dir)
    address = server.start()
    try:
        yield RunningUi(address, controller, state_dir)
    finally:
        server.stop()


@pytest.fixture
def fake() -> FakeController:
    return FakeController()


@pytest.fixture
def ui(fake: FakeController, tmp_path: Path) -> Iterator[RunningUi]:
    yield from run_ui(fake, tmp_path / "state")
