"""A teacher's Start on the dashboard reaches a whole room of devices: 30 lightweight pollers
using the agent's own HTTP client, each long-polling the real server like an agent does."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from agent.report.http import ServerClient
from tests.agent.report.harness import OBJECTIVE, PASSWORD, ROOM, TEACHER, Server

ROOM_SIZE = 30
DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def _dashboard(url: str) -> Any:
    spec = importlib.util.spec_from_file_location("lessongate_demo", DEMO)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Dashboard(url)


def test_remote_start_reaches_every_device_of_the_room(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.setup()
    token = server.token(uses=ROOM_SIZE)
    server.start()
    try:
        devices = []
        for i in range(ROOM_SIZE):
            body = ServerClient(server.url).enroll(token, f"lab3a-pc{i:02d}", f"pc{i:02d}", "test")
            devices.append(ServerClient(server.url, body["device_token"]))
        cursors = [d.poll_commands(None, 0)["cursor"] for d in devices]
        got: dict[int, list[dict[str, Any]]] = {}
        ready = threading.Barrier(ROOM_SIZE + 1)

        def poll(i: int) -> None:
            ready.wait()
            got[i] = devices[i].poll_commands(cursors[i], 20)["commands"]

        threads = [threading.Thread(target=poll, args=(i,)) for i in range(ROOM_SIZE)]
        for t in threads:
            t.start()
        teacher = _dashboard(server.url)
        teacher.login(TEACHER, PASSWORD)
        ready.wait()
        teacher.act(ROOM, "start", objectives=OBJECTIVE, minutes="20")
        for t in threads:
            t.join(30)
        assert sorted(got) == list(range(ROOM_SIZE))
        for commands in got.values():
            assert [(c["kind"], c["objectives"], c["teacher_id"]) for c in commands] == [
                ("start", [OBJECTIVE], TEACHER)
            ]
    finally:
        server.stop()
