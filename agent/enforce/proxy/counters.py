"""What the proxy tells the heartbeat: counts, never URLs or content.

Host names are counted only during a session (privacy: no browsing history outside sessions),
and only up to `max_hosts` distinct names; the rest are added up under `OTHER`.
"""

from __future__ import annotations

from dataclasses import dataclass

OTHER = "(other)"


@dataclass
class ProxyStats:
    accepted: int = 0
    active: int = 0
    allowed: int = 0
    blocked: int = 0
    refused: int = 0  # over max_connections
    timeouts: int = 0  # slow heads and idle tunnels
    upstream_errors: int = 0

    def snapshot(self) -> dict[str, int]:
        return dict(vars(self))


class BlockCounter:
    def __init__(self, max_hosts: int = 500) -> None:
        self._max = max_hosts
        self._session: str | None = None
        self._counts: dict[str, int] = {}

    @property
    def session_id(self) -> str | None:
        return self._session

    def start_session(self, session_id: str | None) -> None:
        if session_id != self._session:
            self._session = session_id
            self._counts = {}

    def count(self, host: str) -> None:
        if self._session is None:
            return
        key = host if host in self._counts or len(self._counts) < self._max else OTHER
        self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)
