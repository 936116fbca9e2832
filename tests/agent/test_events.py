from __future__ import annotations

import json
from pathlib import Path

from agent.events import Event, JsonLinesLog


def test_events_have_unique_ids_and_round_trip(tmp_path: Path) -> None:
    log = JsonLinesLog(tmp_path / "events.jsonl")
    a = Event.new("session_started", {"teacher_id": "t-ada"}, at=100.0)
    b = Event.new("session_ended", {"teacher_id": "t-ada"})
    log.append(a)
    log.append(b)
    assert a.id != b.id
    assert list(log.read()) == [a, b]


def test_log_is_bounded_and_keeps_the_newest(tmp_path: Path) -> None:
    log = JsonLinesLog(tmp_path / "events.jsonl", max_bytes=2_000)
    events = [Event.new("pin_failed", {"teacher_id": f"t-{i}"}) for i in range(200)]
    for e in events:
        log.append(e)
    files = list(tmp_path.iterdir())
    assert sum(f.stat().st_size for f in files) <= 4_000
    kept = list(log.read())
    assert kept[-1] == events[-1]
    assert len(kept) < 200


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = JsonLinesLog(path)
    e = Event.new("agent_started")
    log.append(e)
    with path.open("a") as f:
        f.write(json.dumps(e.to_dict())[:20])
    assert list(log.read()) == [e]
