"""Command long-poll: remote start/end/extend reach every device of the room, and only it."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from server_stub import room_control
from server_stub.db.models import User
from tests.server_stub.conftest import World


def _teacher(world: World, name: str = "alice") -> User:
    with world.state.sessions() as db:
        user = db.execute(select(User).where(User.username == name)).scalar_one()
        db.expunge(user)
        return user


def _start(world: World, room: str = "lab-3a", minutes: int = 30) -> int:
    with world.state.sessions() as db:
        policy = world.state.policies.policy(db)
        assert policy is not None
        cmd = room_control.start(
            db, world.state.notifier, policy, _teacher(world), room, ["sci-space"], minutes
        )
        return cmd.id


def _poll(world: World, device: dict[str, Any], **params: Any) -> dict[str, Any]:
    r = world.client.get("/api/v1/commands", params=params, headers=world.auth(device))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_without_cursor_the_answer_is_the_current_cursor(world: World) -> None:
    device = world.enroll()
    assert _poll(world, device) == {"cursor": 0, "commands": []}
    cid = _start(world)
    assert _poll(world, device) == {"cursor": cid, "commands": []}


def test_commands_after_cursor_are_delivered_in_order(world: World) -> None:
    device = world.enroll()
    first = _start(world)
    with world.state.sessions() as db:
        policy = world.state.policies.policy(db)
        assert policy is not None
        room_control.extend(db, world.state.notifier, policy, _teacher(world), "lab-3a", 10)
        room_control.end(db, world.state.notifier, _teacher(world), "lab-3a")
    body = _poll(world, device, after=0, wait=0)
    kinds = [c["kind"] for c in body["commands"]]
    assert kinds == ["start", "extend", "end"]
    start = body["commands"][0]
    assert start["id"] == first and start["objectives"] == ["sci-space"] and start["minutes"] == 30
    assert start["teacher_id"] == "alice" and start["ends_at"] is not None
    assert body["cursor"] == body["commands"][-1]["id"]
    assert _poll(world, device, after=body["cursor"], wait=0)["commands"] == []


def test_waiting_poll_wakes_for_its_room_not_for_others(world: World) -> None:
    here, there = world.enroll("lab-3a"), world.enroll("lab-9z", hostname="south")
    results: dict[str, dict[str, Any]] = {}

    def poll(name: str, device: dict[str, Any], wait: float) -> None:
        results[name] = _poll(world, device, after=0, wait=wait)

    threads = [
        threading.Thread(target=poll, args=("here", here, 20)),
        threading.Thread(target=poll, args=("there", there, 1)),
    ]
    for t in threads:
        t.start()
    _start(world, "lab-3a")
    for t in threads:
        t.join(30)
    assert [c["kind"] for c in results["here"]["commands"]] == ["start"]
    assert results["there"]["commands"] == []


def test_policy_rules_limit_remote_sessions(world: World) -> None:
    with world.state.sessions() as db:
        policy = world.state.policies.policy(db)
        assert policy is not None
        teacher = _teacher(world)
        n = world.state.notifier
        for objectives, minutes, msg in (
            ([], 10, "at least one objective"),
            (["nope"], 10, "not offered"),
            (["sci-space"], 61, "1 to 60 minutes"),
        ):
            try:
                room_control.start(db, n, policy, teacher, "lab-3a", objectives, minutes)
            except room_control.RoomActionError as exc:
                assert msg in str(exc)
            else:
                raise AssertionError("accepted")
        try:
            room_control.extend(db, n, policy, teacher, "lab-3a", 5)
        except room_control.RoomActionError as exc:
            assert "no session" in str(exc)
        else:
            raise AssertionError("extended nothing")


def test_poll_rejects_bad_tokens_and_params(world: World) -> None:
    assert world.client.get("/api/v1/commands").status_code == 401
    device = world.enroll()
    h = world.auth(device)
    assert world.client.get("/api/v1/commands?after=-1", headers=h).status_code == 422
    assert world.client.get("/api/v1/commands?wait=600", headers=h).status_code == 422
    assert world.client.get("/api/v1/commands?after=abc", headers=h).status_code == 422
