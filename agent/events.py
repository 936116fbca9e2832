"""Events: the audit record of everything the agent decided or changed.

Each event has a random id so the server can de-duplicate deliveries (issue 6 stores them in an
outbox first). Until that outbox exists the service appends them to a local JSON-lines log, which
is bounded by rotating to one backup file, so a device that never reaches a server cannot fill
its disk.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

DEFAULT_LOG_BYTES = 1_000_000


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    at: float  # wall clock, seconds since the epoch
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, type: str, data: dict[str, Any] | None = None, at: float | None = None) -> Event:
        return cls(
            id=str(uuid.uuid4()),
            type=type,
            at=time.time() if at is None else at,
            data=dict(data or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "at": self.at, "data": self.data}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(id=str(raw["id"]), type=str(raw["type"]), at=float(raw["at"]), data=raw["data"])


class EventSink(Protocol):
    def append(self, event: Event) -> None: ...


class JsonLinesLog:
    """Append-only JSON-lines file; rotates to `<name>.1` past `max_bytes` (one backup kept)."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_LOG_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def append(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(line)

    def read(self) -> Iterator[Event]:
        """Oldest first, backup file included; a torn last line (power loss) is skipped."""
        for path in (self.path.with_name(self.path.name + ".1"), self.path):
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                try:
                    yield Event.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
