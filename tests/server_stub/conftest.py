"""Fixtures: a migrated database on SQLite and on PostgreSQL, the app, a policy, people, devices."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from policies.model import BandMode, District, GradeBand, Objective, Policy, Resource, Room
from server_stub.app import create_app
from server_stub.config import Settings
from server_stub.db.migrate import upgrade
from server_stub.db.models import Base, EnrollmentToken, utcnow
from server_stub.db.session import make_engine
from server_stub.people import create_user
from server_stub.policy_store import store_policy
from server_stub.security import new_token, token_digest
from server_stub.state import AppState

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "correct horse battery"


def _pg_available() -> bool:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_ready() -> None:
    if not _pg_available():
        # The machine's PostgreSQL may simply be stopped; start it the documented way.
        ctl = shutil.which("pg_ctlcluster")
        if ctl and Path("/etc/postgresql").is_dir():
            for version in Path("/etc/postgresql").iterdir():
                subprocess.run(
                    [ctl, "--skip-systemctl-redirect", version.name, "main", "start"], check=False
                )
    if not _pg_available():
        pytest.fail("PostgreSQL does not answer on 127.0.0.1:5432 (run scripts/setup-test-env.sh)")


def _create_db(template: str | None = None) -> str:
    name = f"lg_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def _drop_db(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_db_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(scope="session")
def pg_shared(pg_ready: None) -> Iterator[str]:
    """One migrated database per test run, emptied before each test that uses it."""
    name = _create_db()
    try:
        migrated(Settings(database_url=pg_db_url(name)))
        yield name
    finally:
        _drop_db(name)


@pytest.fixture
def pg_url(pg_shared: str) -> str:
    """A migrated PostgreSQL database with empty tables (TRUNCATE is far cheaper than CREATE)."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with psycopg.connect(pg_db_url(pg_shared), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return pg_db_url(pg_shared)


@pytest.fixture
def pg_empty_url(pg_ready: None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = _create_db()
    try:
        yield pg_db_url(name)
    finally:
        _drop_db(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    base = Settings(data_dir=tmp_path / "data", fast_hashing=True)
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return Settings(data_dir=base.data_dir, database_url=url, fast_hashing=True)
    return base


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", fast_hashing=True)


def demo_policy(version: str = "v1") -> Policy:
    band = GradeBand(id="3-5", mode=BandMode.SUPERVISED, max_session_minutes=60)
    res = (Resource(title="NASA", url="https://www.nasa.gov/"),)
    return Policy(
        district=District(name="Test District", bands=(band,)),
        rooms=(
            Room(
                id="lab-3a", name="Lab 3A", school="North Elementary", band="3-5", devices=("pc-1",)
            ),
            Room(id="lab-4b", name="Lab 4B", school="North Elementary", band="3-5"),
            Room(id="lab-9z", name="Lab 9Z", school="South Elementary", band="3-5"),
        ),
        objectives=(
            Objective(
                id="sci-space",
                title="Space <b>science</b>",
                band="3-5",
                subject="Science",
                resources=res,
            ),
            Objective(
                id="sci-water", title="Water cycle", band="3-5", subject="Science", resources=res
            ),
        ),
        version=version,
    )


class World:
    """A migrated database with a policy, an admin, two teachers and helpers to add devices."""

    def __init__(self, state: AppState, client: TestClient) -> None:
        self.state = state
        self.client = client

    def enrollment_token(
        self,
        room: str | None = "lab-3a",
        school: str | None = None,
        uses: int = 10,
        expires_in: timedelta = timedelta(hours=1),
    ) -> str:
        token = new_token()
        with self.state.sessions() as db:
            db.add(
                EnrollmentToken(
                    token_hash=token_digest(token),
                    room_id=room,
                    school=school,
                    expires_at=utcnow() + expires_in,
                    max_uses=uses,
                    created_by="test",
                )
            )
            db.commit()
        return token

    def enroll(self, room: str = "lab-3a", hostname: str = "pc") -> dict[str, Any]:
        r = self.client.post(
            "/api/v1/enroll", json={"token": self.enrollment_token(room), "hostname": hostname}
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def flush_heartbeats(self) -> None:
        """Write pending heartbeats now instead of at the next flush tick (write-behind)."""
        assert self.client.portal is not None
        self.client.portal.call(self.state.heartbeats.flush)

    @staticmethod
    def auth(device: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {device['device_token']}"}


def heartbeat_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lock_state": "closed",
        "session": None,
        "policy_version": "v1",
        "health": {"ok": True, "problems": []},
        "agent_version": "0.1.0",
        "uptime_s": 100,
        "cpu_percent": 1.5,
        "memory_percent": 20.0,
        "blocked_counts": {"www.youtube.com": 3},
    }
    body.update(over)
    return body


def populate(state: AppState) -> None:
    with state.sessions() as db:
        store_policy(db, demo_policy(), "test")
        db.commit()
        create_user(
            db,
            state.hasher,
            username="it",
            display_name="IT Admin",
            role="admin",
            password=PASSWORD,
        )
        create_user(
            db,
            state.hasher,
            username="alice",
            display_name="Alice <script>x</script>",
            role="teacher",
            password=PASSWORD,
            pin="1234",
            rooms=["lab-3a"],
        )
        create_user(
            db,
            state.hasher,
            username="bob",
            display_name="Bob",
            role="teacher",
            password=PASSWORD,
            pin="5678",
            rooms=["lab-9z"],
        )


def migrated(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def running_world(settings: Settings) -> Iterator[World]:
    """A migrated, populated server on `settings`, served in-process for one test."""
    migrated(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        state: AppState = app.state.lg
        populate(state)
        yield World(state, client)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    yield from running_world(settings)


@pytest.fixture
def sqlite_world(sqlite_settings: Settings) -> Iterator[World]:
    yield from running_world(sqlite_settings)
