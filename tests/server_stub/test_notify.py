"""Long-poll wake-ups: in-process on SQLite, LISTEN/NOTIFY across processes on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import create_engine

from server_stub.config import normalise_database_url
from server_stub.notify import Notifier, PostgresNotifier


def test_in_process_wake_from_a_worker_thread() -> None:
    async def scenario() -> tuple[bool, bool]:
        n = Notifier()
        await n.start()
        since = n.generation("lab-3a")
        threading.Timer(0.05, n.after_commit, args=("lab-3a",)).start()
        woken = await n.wait("lab-3a", since, timeout=10)
        other = await n.wait("lab-9z", n.generation("lab-9z"), timeout=0.2)
        await n.stop()
        return woken, other

    woken, other = asyncio.run(scenario())
    assert woken is True and other is False


def test_a_wake_before_waiting_is_not_lost() -> None:
    async def scenario() -> bool:
        n = Notifier()
        await n.start()
        since = n.generation("r")
        n.after_commit("r")  # lands between the database read and the wait
        return await n.wait("r", since, timeout=0.01)

    assert asyncio.run(scenario()) is True


def test_notify_from_one_connection_wakes_another_listener(pg_url: str) -> None:
    url = normalise_database_url(pg_url)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")

    async def scenario() -> bool:
        # Two notifiers with their own LISTEN connections stand for two server processes.
        a, b = PostgresNotifier(conninfo), PostgresNotifier(conninfo)
        await a.start()
        await b.start()
        try:
            since = b.generation("lab-3a")
            engine = create_engine(url)

            def publish() -> None:
                from sqlalchemy.orm import Session

                with Session(engine) as db:
                    a.published_in(db, "lab-3a")
                    db.commit()

            await asyncio.to_thread(publish)
            engine.dispose()
            return await b.wait("lab-3a", since, timeout=15)
        finally:
            await a.stop()
            await b.stop()

    assert asyncio.run(scenario()) is True


def test_close_releases_every_waiter_for_good() -> None:
    async def scenario() -> list[bool]:
        n = Notifier()
        await n.start()
        waits = [asyncio.create_task(n.wait(r, n.generation(r), 30)) for r in ("a", "b")]
        await asyncio.sleep(0.01)
        n.close()
        done = await asyncio.gather(*waits)
        again = await n.wait("a", n.generation("a"), 30)
        return [*done, again]

    # Woken without a command: the long-poll answers empty and the agent polls again.
    assert asyncio.run(scenario()) == [False, False, False]
