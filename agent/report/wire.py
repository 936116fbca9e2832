"""An agent event as the server's event schema takes it (`server_stub/api/schemas.py: Event`).

The server accepts scalars and lists of scalars as data values, refuses keys that could carry
browsing history, and limits names; the agent's events are richer in places, so this maps them
instead of letting one event block the outbox:
- a teacher's one-off link (`url`) travels as `link`: a teacher's action, not a child's browsing;
- other refused keys (`path`, `query`, `title`, `page`, `history`, `urls`) are left out;
- nested values become compact JSON text; long text is cut at 1,000 characters;
- every event carries `seq`, its place in the device's order, so the server can check order.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from agent.events import Event

MAX_KEYS = 50
MAX_TEXT = 1000
RENAMED = {"url": "link"}
REFUSED = frozenset({"urls", "path", "query", "title", "page", "history"})
_TYPE_OK = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_ID_OK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Scalar = str | int | float | bool | None


def _scalar(value: Any) -> Scalar:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:MAX_TEXT]


def _value(value: Any) -> Scalar | list[Scalar]:
    if isinstance(value, list | tuple) and all(
        v is None or isinstance(v, str | int | float | bool) for v in value
    ):
        return [_scalar(v) for v in value][:200]
    return _scalar(value)


def event_type(raw: str) -> str:
    if _TYPE_OK.match(raw):
        return raw
    cleaned = re.sub(r"[^a-z0-9_.]", "_", raw.lower())[:63]
    return cleaned if cleaned[:1].isalpha() else f"x{cleaned}"[:64]


def to_wire(event: Event, seq: int) -> dict[str, Any]:
    data: dict[str, Scalar | list[Scalar]] = {}
    for key, value in event.data.items():
        name = RENAMED.get(str(key).lower(), str(key))[:64]
        if name.lower() in REFUSED or len(data) >= MAX_KEYS - 1:
            continue
        data[name] = _value(value)
    data.setdefault("seq", seq)
    at = event.at if math.isfinite(event.at) else 0.0
    return {
        "id": event.id
        if _ID_OK.match(event.id)
        else hashlib.sha256(event.id.encode()).hexdigest()[:64],
        "type": event_type(event.type),
        "at": datetime.fromtimestamp(at, UTC).isoformat(),
        "data": data,
    }
