"""Migrations upgrade an empty and a populated database, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from server_stub.config import Settings
from server_stub.db.migrate import alembic_config, current_revision, upgrade
from server_stub.db.models import Base
from server_stub.db.session import make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return Settings(data_dir=tmp_path, database_url=request.getfixturevalue("pg_empty_url"))
    return Settings(data_dir=tmp_path / "data")


def test_empty_database_upgrades_to_the_models(empty: Settings) -> None:
    engine = make_engine(empty)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == "0002"
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        upgrade(engine)  # a second run changes nothing
        assert current_revision(engine) == "0002"
    finally:
        engine.dispose()


def test_populated_database_keeps_its_rows(empty: Settings) -> None:
    engine = make_engine(empty)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (username, display_name, role, password_hash, disabled,"
                    " created_at) VALUES ('it', 'IT', 'admin', 'h', false, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, actor_role, action, objectives, detail)"
                    " VALUES (CURRENT_TIMESTAMP, 'it', 'admin', 'login', '[]', '')"
                )
            )
            # Before 0002 history could still be rewritten...
            conn.execute(text("UPDATE audit_log SET detail = 'old'"))
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT username FROM users")).scalar_one() == "it"
            assert conn.execute(text("SELECT detail FROM audit_log")).scalar_one() == "old"
        # ...and after it, not.
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(empty: Settings) -> None:
    engine = make_engine(empty)
    try:
        upgrade(engine)
        command.downgrade(alembic_config(engine), "base")
        assert current_revision(engine) is None
        assert "users" not in inspect(engine).get_table_names()
        upgrade(engine)
        assert current_revision(engine) == "0002"
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path / "d"))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert (tmp_path / "d").stat().st_mode & 0o077 == 0
    finally:
        engine.dispose()
