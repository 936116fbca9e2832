"""Which device a token belongs to, answered from memory for the heartbeat path.

Every heartbeat carries the device token; looking its digest up in the database on every request
was most of a heartbeat's cost. Answers are cached per token digest:

- An entry lives `ttl_s` (longer than the heartbeat interval, or a device would never hit it).
  On PostgreSQL it is renewed by every heartbeat flush, which re-reads the room and revocation of
  each device it wrote (`HeartbeatBuffer`), so a revocation or a room change made in another
  server process is seen within one heartbeat. A change made in this process is applied at once
  (`watch_sessions`); on SQLite, the only server process, that covers every change, and entries
  are renewed by a lookup when they expire.
- Unknown tokens are never cached, so a device enrolled by another process works at once.
- Misses that arrive together are answered by one query (the batch that gathered while the
  previous one ran), so a restart's wave of cold devices costs one round trip per batch.

Only heartbeats use this: the other device endpoints check the database on every call, and a
revoked device's heartbeat state is never written (the flush skips revoked devices).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from server_stub.db.models import Device

DEFAULT_TTL_S = 300.0
MAX_ENTRIES = 500_000
# A batch of misses is one `IN (...)` query; SQLite allows 32,766 parameters.
MAX_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class KnownDevice:
    id: str
    token_hash: str
    room_id: str | None


class DeviceDirectory:
    """Token digest -> device, cached. `find` runs on the event loop."""

    def __init__(self, engine: Engine, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[KnownDevice, float]] = {}
        self._by_device: dict[str, str] = {}
        self._waiting: dict[str, list[asyncio.Future[KnownDevice | None]]] = {}
        self._resolver: asyncio.Task[None] | None = None

    def cached(self, token_hash: str) -> KnownDevice | None:
        entry = self._entries.get(token_hash)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    async def find(self, token_hash: str) -> KnownDevice | None:
        """The device holding this token, or None when it is unknown or revoked."""
        known = self.cached(token_hash)
        if known is not None:
            return known
        fut: asyncio.Future[KnownDevice | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(token_hash, []).append(fut)
        if self._resolver is None or self._resolver.done():
            self._resolver = asyncio.create_task(self._resolve())
        return await fut

    async def _resolve(self) -> None:
        while self._waiting:
            batch: dict[str, list[asyncio.Future[KnownDevice | None]]] = {}
            for key in list(self._waiting)[:MAX_BATCH]:
                batch[key] = self._waiting.pop(key)
            try:
                found = await asyncio.to_thread(self._select, list(batch))
            except Exception as exc:  # the database is down: these requests fail, later ones retry
                for futs in batch.values():
                    for fut in futs:
                        if not fut.done():
                            fut.set_exception(exc)
                continue
            self.remember(found)
            by_hash = {d.token_hash: d for d in found}
            for key, futs in batch.items():
                for fut in futs:
                    if not fut.done():
                        fut.set_result(by_hash.get(key))

    def _select(self, token_hashes: list[str]) -> list[KnownDevice]:
        query = select(Device.id, Device.token_hash, Device.room_id).where(
            Device.token_hash.in_(token_hashes), Device.revoked_at.is_(None)
        )
        with self._engine.connect() as conn:
            return [KnownDevice(r.id, r.token_hash, r.room_id) for r in conn.execute(query)]

    def remember(self, devices: Iterable[KnownDevice]) -> None:
        expires = time.monotonic() + self._ttl_s
        for device in devices:
            if len(self._entries) >= MAX_ENTRIES and device.token_hash not in self._entries:
                self._evict_oldest()
            self._entries[device.token_hash] = (device, expires)
            self._by_device[device.id] = device.token_hash

    def forget(self, device_ids: Iterable[str]) -> None:
        for device_id in device_ids:
            token_hash = self._by_device.pop(device_id, None)
            if token_hash is not None:
                self._entries.pop(token_hash, None)

    def _evict_oldest(self) -> None:
        # Dicts keep insertion order and `remember` re-inserts on renewal only by overwrite, so
        # the first tenth is roughly the least recently renewed.
        for token_hash in list(self._entries)[: max(1, MAX_ENTRIES // 10)]:
            device, _ = self._entries.pop(token_hash)
            self._by_device.pop(device.id, None)

    def __len__(self) -> int:
        return len(self._entries)

    def watch_sessions(self, sessions: sessionmaker[Session]) -> None:
        """Forget devices revoked, moved or deleted through an ORM session of this process, once
        that session commits. Called from worker threads: the dict operations involved are
        atomic under the GIL, and a stale entry at worst answers one more heartbeat."""

        def after_flush(session: Session, _ctx: Any) -> None:
            changed = session.info.setdefault("lg_devices_changed", set())
            for obj in session.deleted:
                if isinstance(obj, Device):
                    changed.add(obj.id)
            for obj in session.dirty:
                if isinstance(obj, Device) and _moved_or_revoked(obj):
                    changed.add(obj.id)

        def after_commit(session: Session) -> None:
            changed = session.info.pop("lg_devices_changed", None)
            if changed:
                self.forget(changed)

        def after_rollback(session: Session) -> None:
            session.info.pop("lg_devices_changed", None)

        event.listen(sessions, "after_flush", after_flush)
        event.listen(sessions, "after_commit", after_commit)
        event.listen(sessions, "after_soft_rollback", lambda s, _t: after_rollback(s))


def _moved_or_revoked(device: Device) -> bool:
    from sqlalchemy import inspect

    attrs = inspect(device).attrs
    return bool(
        attrs.revoked_at.history.has_changes()
        or attrs.room_id.history.has_changes()
        or attrs.token_hash.history.has_changes()
    )
