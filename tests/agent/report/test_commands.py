from __future__ import annotations

import time
from pathlib import Path

import policies
from agent.config import AgentConfig
from agent.report.commands import Command, CursorFile, handle
from agent.service import AgentService

OBJ = "NGSS.3-ESS2-1"


def _service(tmp_path: Path) -> AgentService:
    cfg = AgentConfig(
        state_dir=tmp_path / "state", policy_dir=policies.DEFAULT_POLICY_DIR, room="lab-3a"
    )
    service = AgentService(cfg, sinks=[])
    service.startup()
    return service


def _start(cid: int, ends_in: float | None, minutes: int | None = 20) -> Command:
    ends = None if ends_in is None else time.time() + ends_in
    return Command(cid, "start", (OBJ,), minutes, "t-ada", ends)


def test_a_late_start_opens_only_for_the_time_left(tmp_path: Path) -> None:
    service = _service(tmp_path)
    outcome = handle(service, _start(1, ends_in=5 * 60 + 10), time.time())
    assert outcome is not None and outcome.ok
    assert 5 * 60 < service.status()["seconds_left"] <= 6 * 60


def test_a_start_whose_time_is_over_is_skipped_and_reported(tmp_path: Path) -> None:
    service = _service(tmp_path)
    seen: list[str] = []
    service.sinks.append(type("S", (), {"append": lambda self, e: seen.append(e.type)})())
    assert handle(service, _start(1, ends_in=-1), time.time()) is None
    assert service.status()["state"] == "closed" and "remote_command_skipped" in seen


def test_a_start_replaces_a_running_session_and_rules_still_apply(tmp_path: Path) -> None:
    service = _service(tmp_path)
    assert handle(service, _start(1, ends_in=None), time.time()).ok  # type: ignore[union-attr]
    replaced = handle(service, Command(2, "start", (OBJ,), 10, "t-bob", None), time.time())
    assert replaced is not None and replaced.ok and service.status()["teacher"] == "t-bob"
    too_long = handle(service, Command(3, "extend", (), 600, "t-bob", None), time.time())
    assert too_long is not None and not too_long.ok  # the band's maximum still holds
    ended = handle(service, Command(4, "end", (), None, "t-bob", None), time.time())
    assert ended is not None and ended.ok and service.status()["state"] == "closed"


def test_commands_parse_strictly_and_the_cursor_persists(tmp_path: Path) -> None:
    cmd = Command.parse(
        {
            "id": 5,
            "kind": "extend",
            "objectives": [],
            "minutes": 5,
            "teacher_id": "t",
            "ends_at": "2030-01-01T00:00:00+00:00",
        }
    )
    assert cmd.minutes == 5 and cmd.ends_at is not None
    for bad in ({"id": "5", "kind": "end", "teacher_id": "t"}, {"id": 1}, [1]):
        try:
            Command.parse(bad)
        except (KeyError, TypeError, ValueError):
            continue
        raise AssertionError(f"accepted {bad!r}")
    cursor = CursorFile(tmp_path)
    assert cursor.load() is None
    cursor.save(42)
    assert CursorFile(tmp_path).load() == 42
