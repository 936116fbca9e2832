from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from agent.events import Event
from agent.report.outbox import Outbox, is_audit


def test_events_leave_in_order_only_when_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    sent = [Event.new("session_started", {"n": i}) for i in range(5)]
    for e in sent:
        box.append(e)
    first = box.peek(3)
    assert [q.event.id for q in first] == [e.id for e in sent[:3]]
    box.ack([q.seq for q in first[:2]])
    assert [q.event.id for q in box.peek(10)] == [e.id for e in sent[2:]]
    assert box.depth == 3
    assert stat.S_IMODE(os.stat(tmp_path / "o.sqlite3").st_mode) == 0o600


def test_a_full_outbox_drops_oldest_telemetry_never_audit(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_rows=100)
    audit = [Event.new("pin_failed", {"i": i}) for i in range(60)]
    for i in range(60):
        box.append(Event.new("heartbeat", {"i": i}))
        box.append(audit[i])
    kept = [q.event for q in box.peek(1000)]
    assert [e.id for e in kept if e.type == "pin_failed"] == [e.id for e in audit]
    beats = [e.data["i"] for e in kept if e.type == "heartbeat"]
    assert beats == sorted(beats) and beats[-1] == 59 and beats[0] > 0  # the oldest went
    assert box.depth <= 100
    assert box.counters()["dropped"] == 60 - len(beats)


def test_audit_events_are_kept_past_the_bound(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_rows=10)
    for i in range(25):
        box.append(Event.new("session_ended", {"i": i}))
    assert box.depth == 25


def test_a_killed_writer_loses_no_committed_event(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from agent.events import Event\n"
        "from agent.report.outbox import Outbox\n"
        f"box = Outbox(Path({str(path)!r}))\n"
        "for i in range(200):\n"
        "    box.append(Event(id=f'e{i}', type='session_started', at=0.0, data={}))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    box = Outbox(path)
    assert [q.event.id for q in box.peek(1000)] == [f"e{i}" for i in range(200)]
    assert box.depth == 200


def test_rejected_events_are_counted_and_removed(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.append(Event.new("x_event"))
    box.reject([q.seq for q in box.peek(1)])
    assert box.depth == 0 and box.counters()["rejected"] == 1


def test_audit_classification() -> None:
    assert not is_audit("heartbeat")
    assert all(is_audit(t) for t in ("session_started", "pin_failed", "clock_jumped"))
