"""Write-behind for heartbeats: the latest state per device, written in one transaction every
`interval_s` instead of one transaction per request.

A heartbeat is soft state: it overwrites the device's row and the next one comes 30 s later. So
the answer does not wait for the write. What that costs, and why it is acceptable:

- The dashboard and the database lag the devices by at most one flush interval (plus the flush
  itself), far below the 30 s between heartbeats and the 105 s before a device shows offline.
- A crash of the server process (SIGKILL, power loss) loses at most the last interval's
  heartbeats; each device's next heartbeat restores its state. An orderly shutdown (SIGTERM,
  Ctrl-C) flushes everything first (`close`).
- If the database is unreachable the pending states stay in memory, one per device (newer ones
  replace older), and are written when it answers again.

With several server processes each buffers its own heartbeats; the flush never overwrites a newer
`last_seen_at` with an older one, and never writes a revoked device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Dialect, Engine, Table, bindparam, or_, select, text, update

from server_stub.db.models import Device
from server_stub.device_directory import MAX_BATCH, DeviceDirectory, KnownDevice

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 0.2
STATE_COLUMNS = (
    "last_seen_at",
    "lock_state",
    "session",
    "policy_version",
    "health",
    "agent_version",
    "stats",
    "blocked_counts",
)
_devices = cast(Table, Device.__table__)
_FLUSH = (
    update(_devices)
    .where(
        _devices.c.id == bindparam("p_id"),
        _devices.c.revoked_at.is_(None),
        or_(
            _devices.c.last_seen_at.is_(None),
            _devices.c.last_seen_at <= bindparam("p_last_seen_at", type_=Device.last_seen_at.type),
        ),
    )
    .values({c: bindparam(f"p_{c}", type_=_devices.c[c].type) for c in STATE_COLUMNS})
)


class _CompiledFlush:
    """The flush statement compiled once for the engine's dialect, with the same bind processors
    SQLAlchemy would apply: its generic per-row parameter handling cost more than the UPDATE."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = _FLUSH.compile(dialect=dialect)
        self.sql = compiled.string
        self._order = list(compiled.positiontup or []) if compiled.positional else None
        self._procs = [
            (name, bind.type.dialect_impl(dialect).bind_processor(dialect))
            for name, bind in compiled.binds.items()
        ]

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for row in rows:
            values = {n: (p(row[n]) if p is not None else row[n]) for n, p in self._procs}
            out.append(tuple(values[n] for n in self._order) if self._order else values)
        return out


def state_row(device_id: str, last_seen_at: datetime, **state: Any) -> dict[str, Any]:
    """The parameters of one device's pending write; `state` has the other STATE_COLUMNS."""
    row = {f"p_{c}": v for c, v in state.items()}
    row["p_id"] = device_id
    row["p_last_seen_at"] = last_seen_at
    return row


class HeartbeatBuffer:
    def __init__(
        self,
        engine: Engine,
        directory: DeviceDirectory,
        interval_s: float = DEFAULT_INTERVAL_S,
        write_lock: threading.Lock | None = None,
    ) -> None:
        self._engine = engine
        self._directory = directory
        self.interval_s = interval_s
        # SQLite: the process-wide writer lock, so writers queue instead of hitting SQLITE_BUSY.
        self._write_lock = write_lock
        self._postgres = engine.dialect.name == "postgresql"
        self._statement = _CompiledFlush(engine.dialect)
        self._pending: dict[str, dict[str, Any]] = {}
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def put(self, row: dict[str, Any]) -> None:
        """Queue a device's latest state (replacing any still pending for it)."""
        self._pending[row["p_id"]] = row

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop the timer and write what is pending; call before the engine is disposed."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception as exc:
            log.error("%d heartbeat states not written at shutdown: %s", len(self._pending), exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except Exception as exc:  # kept pending; the next tick retries
                log.warning("heartbeat flush failed (%s); retrying", exc)

    async def flush(self) -> None:
        """Write every pending state now, in one transaction."""
        async with self._flushing:
            if not self._pending:
                return
            batch, self._pending = self._pending, {}
            try:
                still_valid = await asyncio.to_thread(self._write, list(batch.values()))
            except BaseException:
                # Newer states that arrived meanwhile win over the ones being put back.
                for device_id, row in batch.items():
                    self._pending.setdefault(device_id, row)
                raise
        if still_valid is not None:
            self._directory.remember(still_valid)
            self._directory.forget(set(batch) - {d.id for d in still_valid})

    def _write(self, rows: list[dict[str, Any]]) -> list[KnownDevice] | None:
        if self._write_lock is None:
            return self._write_locked(rows)
        with self._write_lock:
            return self._write_locked(rows)

    def _write_locked(self, rows: list[dict[str, Any]]) -> list[KnownDevice] | None:
        with self._engine.connect() as conn:
            if self._postgres:
                # Soft state (see the module docstring): no need to wait for the WAL flush.
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            written = conn.exec_driver_sql(self._statement.sql, self._statement.params(rows))
            valid = None
            # Re-read room and revocation of the devices just written, so the token cache
            # follows changes made by other server processes within one heartbeat. SQLite has
            # no other server process (this one sees every change through its own sessions),
            # so there only a skipped write (a device revoked or deleted by hand) needs it.
            if self._postgres or written.rowcount != len(rows):
                valid = []
                for chunk in _chunks([r["p_id"] for r in rows], MAX_BATCH):
                    query = select(_devices.c.id, _devices.c.token_hash, _devices.c.room_id).where(
                        _devices.c.id.in_(chunk), _devices.c.revoked_at.is_(None)
                    )
                    valid += [KnownDevice(*r) for r in conn.execute(query)]
            conn.commit()
        return valid


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
