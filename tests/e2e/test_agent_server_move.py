"""IT moves an enrolled device to another room on the server: the running agent takes that
room's bundle at its next heartbeat, offers that room's objectives only, and keeps the room
across a restart while the server is away (the kept bundle names it)."""

from __future__ import annotations

from pathlib import Path

from tests.agent.report.harness import (
    OBJECTIVE,
    PASSWORD,
    PIN,
    ROOM,
    TEACHER,
    Agent,
    Server,
    scratch_dir,
    wait_for,
)
from tests.e2e.test_agent_server_room import _dashboard

NEW_ROOM = "room-4b"
ONLY_IN_OLD_ROOM = "CSTA.1B-NI-05"


def unlock(agent: Agent, objective: str) -> dict[str, object]:
    return agent.request(
        {"cmd": "unlock", "teacher": TEACHER, "pin": PIN, "objectives": [objective]}
    )


def test_a_device_moved_on_the_server_follows_without_enrolling_again(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.setup(teacher_room=None)
    teacher = ["create-teacher", TEACHER, "--room", ROOM, "--room", NEW_ROOM, "--password-stdin"]
    server.cli(*teacher, stdin=f"{PASSWORD}\n{PIN}\n")
    server.cli("create-admin", "it-jane", "--password-stdin", stdin="it-jane-password\n")
    server.start()
    with scratch_dir() as root:
        agent = Agent(root, heartbeat=0.5)
        try:
            device_id = agent.enroll(server, server.token())
            agent.start()
            wait_for(lambda: agent.server().get("policy_bundle"), timeout=30)
            assert agent.status()["room"] == ROOM

            it = _dashboard(server.url)  # IT, on the Devices page
            it.login("it-jane", "it-jane-password")
            form = {"csrf_token": it._csrf("/devices"), "room_id": NEW_ROOM}
            moved = it.http.post(
                f"{server.url}/devices/{device_id}/room", data=form, allow_redirects=False
            )
            assert moved.status_code == 303, moved.text
            wait_for(lambda: agent.status()["room"] == NEW_ROOM, timeout=30)
            refused = unlock(agent, ONLY_IN_OLD_ROOM)
            assert refused["error"] == "unknown_objective", refused  # not in this room's bundle
            opened = unlock(agent, OBJECTIVE)
            assert opened["ok"] is True, opened
            assert agent.request({"cmd": "end"})["ok"] is True

            agent.stop()
            server.stop()
            agent.start()
            status = agent.status()
            assert status["room"] == NEW_ROOM and status["state"] == "closed"
        finally:
            agent.stop()
            server.stop()
