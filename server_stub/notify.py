"""Wake-ups for command long-polls.

SQLite means one server process, so an in-process broadcast is enough. On PostgreSQL every process
LISTENs on one channel and the inserting transaction NOTIFYs it (delivered on commit), so a command
posted to any process reaches long-polls waiting in all of them. Waiters also re-read the database
every few seconds, so a lost notification delays a command but never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.orm import Session

CHANNEL = "lessongate_commands"
log = logging.getLogger(__name__)


class Notifier:
    """In-process broadcast; safe to call `publish` from worker threads."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Future[str]] = set()
        self._generation: dict[str, int] = {}
        # Set when the server begins to shut down: waiting long-polls answer at once (empty), so
        # agents re-poll, perhaps another process, instead of being cut off with an error.
        self.closing = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self.close()

    def close(self) -> None:
        """Wake every waiting long-poll for good; call from the event loop."""
        self.closing = True
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result("")

    def published_in(self, db: Session, room_id: str) -> None:
        """Call inside the transaction that inserted a command for `room_id`, before commit."""

    def after_commit(self, room_id: str) -> None:
        """Call after the command is committed."""
        self._wake(room_id)

    def _wake(self, room_id: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake_now(room_id)
        else:
            loop.call_soon_threadsafe(self._wake_now, room_id)

    def _wake_now(self, room_id: str) -> None:
        self._generation[room_id] = self._generation.get(room_id, 0) + 1
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(room_id)

    def generation(self, room_id: str) -> int:
        """Read before querying the database, then pass to `wait`, so a command committed during
        the query still wakes the waiter instead of waiting for the next poll."""
        return self._generation.get(room_id, 0)

    async def wait(self, room_id: str, since: int, timeout: float) -> bool:
        """Wait up to `timeout` s for a wake-up of `room_id` after generation `since`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.generation(room_id) == since and not self.closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            fut: asyncio.Future[str] = loop.create_future()
            self._waiters.add(fut)
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                return False
            finally:
                self._waiters.discard(fut)
        return self.generation(room_id) != since


class PostgresNotifier(Notifier):
    """LISTEN/NOTIFY across processes; local wake-ups come through the LISTEN as well."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        await super().start()
        self._task = asyncio.create_task(self._listen_forever())
        # Serve only once LISTEN is in place, so no command committed after start-up is missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await super().stop()

    def published_in(self, db: Session, room_id: str) -> None:
        db.execute(text("SELECT pg_notify(:c, :r)"), {"c": CHANNEL, "r": room_id})

    def after_commit(self, room_id: str) -> None:
        # The NOTIFY comes back through our own LISTEN; waking here too just saves a hop.
        self._wake(room_id)

    async def _listen_forever(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    async for note in conn.notifies():
                        self._wake_now(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away; polling covers the gap
                self.listening.clear()
                log.warning("LISTEN connection lost (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)
