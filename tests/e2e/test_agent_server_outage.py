"""Server away while 1,000 events happen on a real agent; back: every audit event arrives once,
in the device's order. Real `lessongate-server` and `lessongate-agent` processes, loopback only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.report.outbox import is_audit
from tests.agent.report.harness import (
    OBJECTIVE,
    Agent,
    Server,
    blocked_connect,
    local_events,
    scratch_dir,
    wait_for,
)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Server, Agent]]:
    (tmp_path / "srv").mkdir()
    server = Server(tmp_path / "srv")
    server.setup(teacher_room=None)
    server.start()
    with scratch_dir() as root:
        agent = Agent(root, heartbeat=0.2)
        try:
            yield server, agent
        finally:
            agent.stop()
            server.stop()


def _proxy_port(agent: Agent) -> int:
    detail = next(
        b["detail"] for b in agent.status()["enforcement"]["backends"] if b["name"] == "proxy"
    )
    return int(detail.rsplit(" ", 1)[1])


def _counted_block(event: dict[str, Any]) -> bool:
    return event["type"] == "heartbeat" and event["data"]["blocked_total"] > 0


def test_every_audit_event_arrives_once_in_order_after_an_outage(
    pair: tuple[Server, Agent],
) -> None:
    server, agent = pair
    device = agent.enroll(server, server.token())
    agent.start()
    wait_for(lambda: agent.server().get("last_contact") and agent.server()["outbox_depth"] == 0)
    proxy = _proxy_port(agent)

    server.stop()
    before = len(local_events(agent.state))
    while len(local_events(agent.state)) - before < 1000:
        wrong = agent.request(
            {
                "cmd": "unlock",
                "teacher": "t-local",
                "pin": "0000",
                "objectives": [OBJECTIVE],
                "minutes": 5,
            }
        )
        assert wrong["error"] == "wrong_pin"
        opened = agent.request(
            {
                "cmd": "unlock",
                "teacher": "t-local",
                "pin": "2468",
                "objectives": [OBJECTIVE],
                "minutes": 5,
            }
        )
        assert opened["ok"], opened
        assert b" 403 " in blocked_connect(proxy)
        assert agent.request({"cmd": "end"})["ok"]
    # One session held open until a missed heartbeat has counted its block: in the loop above a
    # session lasts milliseconds, so whether a heartbeat falls inside one is chance.
    assert agent.request(
        {
            "cmd": "unlock",
            "teacher": "t-local",
            "pin": "2468",
            "objectives": [OBJECTIVE],
            "minutes": 5,
        }
    )["ok"]
    assert b" 403 " in blocked_connect(proxy)
    wait_for(lambda: any(_counted_block(e) for e in local_events(agent.state)))
    assert agent.request({"cmd": "end"})["ok"]
    assert agent.server()["outbox_depth"] >= 1000 - 50  # a few heartbeats may share the window
    assert agent.server()["last_error"]

    server.start()
    wait_for(lambda: agent.server()["outbox_depth"] == 0, timeout=60)

    mine = [e for e in local_events(agent.state) if is_audit(e["type"])]
    stored = server.events(device)
    theirs = [(eid, kind) for eid, kind, _ in stored if is_audit(kind)]
    assert theirs == [(e["id"], e["type"]) for e in mine]  # all of them, once, in order
    assert len({eid for eid, _ in theirs}) == len(theirs)
    kinds = {kind for _, kind in theirs}
    assert {"pin_failed", "teacher_login", "session_started", "session_ended"} <= kinds
    beats = [data for _, kind, data in stored if kind == "heartbeat"]
    assert beats and any(b["blocked_total"] > 0 for b in beats)  # missed heartbeats, counts
    assert agent.alive()
