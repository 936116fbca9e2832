"""SIGKILL in the middle of delivering a backlog: after a restart nothing is missing and the
server holds nothing twice (it de-duplicates by event id; the outbox keeps what was not acked)."""

from __future__ import annotations

import signal
from pathlib import Path

from agent.events import Event
from agent.report.delivery import BATCH
from agent.report.outbox import Outbox
from tests.agent.report.faults import FaultProxy
from tests.agent.report.harness import Agent, Server, scratch_dir, wait_for

BACKLOG = 5000


def test_sigkill_mid_delivery_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    server = Server(tmp_path / "srv")
    server.setup(teacher_room=None)
    server.start()
    with FaultProxy(server.url) as proxy, scratch_dir() as root:
        agent = Agent(root, heartbeat=5)
        try:
            device = agent.enroll(Server(server.data_dir, proxy.port), server.token())
            # A backlog as an outage leaves it: queued by an earlier run, server now back.
            outbox = Outbox(agent.state / "outbox.sqlite3")
            queued = [
                Event.new("session_started", {"teacher_id": "t-x", "n": i}) for i in range(BACKLOG)
            ]
            for event in queued:
                outbox.append(event)
            outbox.close()

            # Mid-delivery at its worst: three batches acknowledged, the fourth stored by the
            # server but its answer never back when the agent is killed.
            proxy.after_events = (3, "swallow")
            agent.start()
            wait_for(lambda: "/api/v1/events" in proxy.swallowed, timeout=30)
            agent.stop(signal.SIGKILL)
            assert session_ids(server, device) == [e.id for e in queued[: 4 * BATCH]]
            left = Outbox(agent.state / "outbox.sqlite3")
            assert [q.event.id for q in left.peek(BATCH)] == [
                e.id for e in queued[3 * BATCH : 4 * BATCH]
            ]
            left.close()

            proxy.after_events, proxy.mode = None, "pass"
            agent.start()
            wait_for(lambda: agent.server().get("outbox_depth") == 0, timeout=60)
            assert session_ids(server, device) == [e.id for e in queued]  # all, once, in order
            assert agent.server()["outbox_rejected"] == 0
        finally:
            agent.stop()
            server.stop()


def session_ids(server: Server, device: str) -> list[str]:
    return [eid for eid, kind, _ in server.events(device) if kind == "session_started"]
