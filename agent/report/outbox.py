"""The outbox: every event is written to SQLite before anything tries to send it.

An `EventSink` for AgentService. Rows leave only when the server has acknowledged them (stored or
already had them: it de-duplicates by event id), so a crash or power loss at any point at worst
sends a batch again, which the server ignores: exactly once from the server's view.

Durability: WAL; an audit event's insert commits with `synchronous=FULL` (fsync before the
agent goes on), telemetry with NORMAL. Order: `seq` (AUTOINCREMENT, never reused) is the order
the agent recorded events in, and batches go oldest first.

Bounded at `max_rows`: past it, the oldest telemetry rows (heartbeats, blocked counts) are
dropped and counted. Audit events (everything else: unlocks, ends, failed PINs, remote commands,
tamper signs) are never dropped; if only they are left the outbox grows past the bound rather
than forget one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.events import Event

MAX_ROWS = 50_000
# Telemetry: the server can live without an old one. Everything else is an audit event.
TELEMETRY_TYPES = frozenset({"heartbeat", "blocked_counts", "server_unreachable"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    at REAL NOT NULL,
    data TEXT NOT NULL,
    audit INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_telemetry ON outbox (audit, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def is_audit(event_type: str) -> bool:
    return event_type not in TELEMETRY_TYPES


@dataclass(frozen=True)
class Queued:
    seq: int
    event: Event


class Outbox:
    def __init__(self, path: Path, max_rows: int = MAX_ROWS) -> None:
        self.path = path
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        path.chmod(0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._sync = "FULL"
        self._db.executescript(_SCHEMA)
        self._depth: int = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        self.on_append: Callable[[], None] | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _synchronous(self, mode: str) -> None:
        if self._sync != mode:
            self._db.execute(f"PRAGMA synchronous={mode}")
            self._sync = mode

    # ---- EventSink ---------------------------------------------------------------------------

    def append(self, event: Event) -> None:
        audit = is_audit(event.type)
        data = json.dumps(event.data, sort_keys=True, default=str)
        with self._lock:
            self._synchronous("FULL" if audit else "NORMAL")
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox (id, type, at, data, audit) VALUES (?, ?, ?, ?, ?)",
                (event.id, event.type, event.at, data, int(audit)),
            )
            self._depth += cur.rowcount
            if self._depth > self.max_rows:
                self._trim()
        callback = self.on_append
        if callback is not None:
            callback()

    def _trim(self) -> None:
        # A little more than needed, so a full outbox does not trim on every single append.
        excess = self._depth - self.max_rows + max(1, self.max_rows // 100)
        cur = self._db.execute(
            "DELETE FROM outbox WHERE seq IN "
            "(SELECT seq FROM outbox WHERE audit = 0 ORDER BY seq LIMIT ?)",
            (excess,),
        )
        if cur.rowcount:
            self._depth -= cur.rowcount
            self._bump("dropped", cur.rowcount)

    def _bump(self, name: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    # ---- delivery ----------------------------------------------------------------------------

    def peek(self, limit: int) -> list[Queued]:
        """The oldest `limit` events, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, type, at, data FROM outbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        out = []
        for seq, id_, type_, at, data in rows:
            try:
                payload = json.loads(data)
            except ValueError:
                payload = {"undecodable": True}
            out.append(Queued(seq, Event(id=id_, type=type_, at=at, data=payload)))
        return out

    def ack(self, seqs: list[int]) -> None:
        """The server has these (stored now or before): they leave the outbox."""
        self._remove(seqs, None)

    def reject(self, seqs: list[int]) -> None:
        """The server refuses these for good (schema); counted, then removed."""
        self._remove(seqs, "rejected")

    def _remove(self, seqs: list[int], counter: str | None) -> None:
        if not seqs:
            return
        with self._lock:
            self._synchronous("FULL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = 0
                for start in range(0, len(seqs), 500):
                    chunk = seqs[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    removed += self._db.execute(
                        f"DELETE FROM outbox WHERE seq IN ({marks})", chunk
                    ).rowcount
                if counter:
                    self._bump(counter, removed)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth -= removed

    # ---- status ------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return self._depth

    def counters(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM counters").fetchall()
        return {str(name): int(value) for name, value in rows}
