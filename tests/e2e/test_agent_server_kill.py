"""SIGKILL in the middle of delivering a backlog: after a restart nothing is missing and the
server holds nothing twice (it de-duplicates by event id; the outbox keeps what was not acked)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from pathlib import Path

from agent.events import Event
from agent.report.outbox import Outbox
from tests.agent.report.harness import Agent, Server, scratch_dir, wait_for

BACKLOG = 5000


def depth(state: Path) -> int:
    with contextlib.closing(sqlite3.connect(state / "outbox.sqlite3", timeout=5)) as db:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def test_sigkill_mid_delivery_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    server = Server(tmp_path / "srv")
    server.setup(teacher_room=None)
    server.start()
    with scratch_dir() as root:
        agent = Agent(root, heartbeat=5)
        try:
            device = agent.enroll(server, server.token())
            # A backlog as an outage leaves it: queued by an earlier run, server now back.
            outbox = Outbox(agent.state / "outbox.sqlite3")
            queued = [
                Event.new("session_started", {"teacher_id": "t-x", "n": i}) for i in range(BACKLOG)
            ]
            for event in queued:
                outbox.append(event)
            outbox.close()

            agent.start()
            # Mid-delivery as the agent sees it: some batches acknowledged (and so removed from
            # its outbox), some not. Watching the server's table instead races the agent's ack.
            wait_for(lambda: 0 < depth(agent.state) < BACKLOG, timeout=30, every=0.01)
            agent.stop(signal.SIGKILL)
            left = Outbox(agent.state / "outbox.sqlite3")
            assert 0 < left.depth < BACKLOG  # it really was mid-delivery
            left.close()

            agent.start()
            wait_for(lambda: agent.server().get("outbox_depth") == 0, timeout=60)
            stored = server.events(device)
            ids = [eid for eid, kind, _ in stored if kind == "session_started"]
            assert ids == [e.id for e in queued]  # all, once each, in order
            assert agent.server()["outbox_rejected"] == 0
        finally:
            agent.stop()
            server.stop()
