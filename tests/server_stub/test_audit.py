"""Device events in the audit log: the agent's own event names reach the dashboard's Audit page."""

from __future__ import annotations

import csv
import io
from typing import Any

from server_stub.audit import DEVICE_ACTIONS
from tests.server_stub.conftest import World
from tests.server_stub.dashboard.helpers import sign_in


def _event(n: int, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": f"ev-{n}", "type": kind, "at": f"2026-11-30T10:0{n}:00Z", "data": data}


def test_a_session_opened_at_the_device_appears_on_the_audit_page(sqlite_world: World) -> None:
    w = sqlite_world
    device = w.enroll(room="lab-3a")
    batch = [
        # Exactly what agent.session reports.
        _event(1, "session_started", teacher_id="alice", objective_ids=["sci-space"], minutes=20),
        _event(2, "session_extended", teacher_id="alice", minutes=10),
        _event(
            3, "session_ended", teacher_id="alice", objective_ids=["sci-space"], reason="expired"
        ),
        _event(4, "enforcement_disabled", by="cli:uid=0", problems=[]),
        _event(5, "session_start", teacher_id="alice", objectives=["sci-space"], minutes=5),
        _event(6, "heartbeat_like_telemetry"),
    ]
    r = w.client.post("/api/v1/events", json={"events": batch}, headers=w.auth(device))
    assert r.status_code == 200, r.text

    sign_in(w.client, "alice")
    page = w.client.get("/audit").text
    assert "device_session_start" in page and "sci-space" in page

    sign_in(w.client, "it")
    rows = list(csv.DictReader(io.StringIO(w.client.get("/audit.csv").text)))
    device_rows = [r for r in rows if r["action"] in set(DEVICE_ACTIONS.values())]
    assert sorted(r["action"] for r in device_rows) == [
        "device_enforcement_disabled",
        "device_session_end",
        "device_session_extend",
        "device_session_start",
        "device_session_start",
    ]
    started = [r for r in device_rows if r["action"] == "device_session_start"]
    assert {(r["actor"], r["objectives"], r["minutes"]) for r in started} >= {
        ("alice", "sci-space", "20")
    }
    disabled = next(r for r in device_rows if r["action"] == "device_enforcement_disabled")
    assert disabled["actor"] == device["device_id"] and "cli:uid=0" in disabled["detail"]
    ended = next(r for r in device_rows if r["action"] == "device_session_end")
    assert "expired" in ended["detail"]
