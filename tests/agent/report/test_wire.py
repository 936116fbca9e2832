from __future__ import annotations

from agent.events import Event
from agent.report.wire import to_wire
from server_stub.api.schemas import Event as ServerEvent


def test_agent_events_fit_the_servers_schema() -> None:
    rich = Event.new(
        "link_added",
        {
            "url": "https://example.org/x",
            "path": "/secret",
            "nested": {"a": [1, {"b": 2}]},
            "objective_ids": ["A", "B"],
            "long": "x" * 5000,
            "nan": float("nan"),
        },
    )
    wire = to_wire(rich, 7)
    ServerEvent.model_validate(wire)  # the server takes it as it is
    data = wire["data"]
    assert data["link"] == "https://example.org/x" and "url" not in data
    assert "path" not in data
    assert data["nested"] == '{"a": [1, {"b": 2}]}'
    assert data["objective_ids"] == ["A", "B"]
    assert len(data["long"]) == 1000
    assert data["seq"] == 7


def test_odd_types_and_ids_are_made_acceptable_and_stable() -> None:
    odd = Event(id="not a valid id!", type="Weird Type", at=0.0, data={})
    a, b = to_wire(odd, 1), to_wire(odd, 1)
    ServerEvent.model_validate(a)
    assert a["id"] == b["id"]  # a retry sends the same id, so the server de-duplicates it
