from __future__ import annotations

import json
from typing import Any

from agent.report.heartbeat import OTHER_HOSTS, heartbeat_body, offline_record
from server_stub.api.schemas import Heartbeat


class CountingProxy:
    def blocked_hosts(self) -> dict[str, int]:
        return {"games.example": 3, "(other)": 2}


STATUS: dict[str, Any] = {
    "state": "open",
    "objectives": ["NGSS.3-ESS2-1"],
    "teacher": "t-ada",
    "expires_at": 1_800_000_000.0,
    "policy_version": "abc",
    "enforcement": {"backends": [{"name": "proxy", "ok": False, "detail": "not listening"}]},
    "policy_problem": None,
}


def test_heartbeat_fits_the_server_and_carries_no_urls() -> None:
    body = heartbeat_body(STATUS, [CountingProxy(), object()])
    Heartbeat.model_validate(body)
    assert body["lock_state"] == "open"
    assert body["session"]["teacher_id"] == "t-ada"
    assert body["blocked_counts"] == {"games.example": 3, OTHER_HOSTS: 2}
    assert body["health"] == {"ok": False, "problems": ["proxy: not listening"]}
    assert "://" not in json.dumps(body)


def test_a_missed_heartbeat_becomes_a_small_event() -> None:
    record = offline_record(heartbeat_body(STATUS, [CountingProxy()]))
    assert record["blocked_total"] == 5 and record["lock_state"] == "open"
