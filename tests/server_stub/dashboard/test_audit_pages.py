"""Audit page and CSV export: filters, visibility per teacher, spreadsheet-safe cells."""

from __future__ import annotations

import csv
import io

from sqlalchemy import text

from tests.server_stub.conftest import World
from tests.server_stub.dashboard.helpers import sign_in


def _start(w: World, csrf: str, room: str) -> None:
    r = w.client.post(
        f"/rooms/{room}/start",
        data={"csrf_token": csrf, "objectives": ["sci-space"], "minutes": "20"},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_csv_export_lists_sessions_with_filters(sqlite_world: World) -> None:
    w = sqlite_world
    _start(w, sign_in(w.client, "alice"), "lab-3a")
    _start(w, sign_in(w.client, "bob"), "lab-9z")
    sign_in(w.client, "it")
    r = w.client.get("/audit.csv", params={"action": "room_start"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {(row["actor"], row["room"], row["objectives"], row["minutes"]) for row in rows} == {
        ("alice", "lab-3a", "sci-space", "20"),
        ("bob", "lab-9z", "sci-space", "20"),
    }
    only = list(
        csv.DictReader(
            io.StringIO(
                w.client.get("/audit.csv", params={"room": "lab-9z", "action": "room_start"}).text
            )
        )
    )
    assert [row["actor"] for row in only] == ["bob"]
    none = w.client.get("/audit.csv", params={"since": "2099-01-01"}).text
    assert len(none.strip().splitlines()) == 1


def test_teacher_sees_no_other_schools_entries(sqlite_world: World) -> None:
    w = sqlite_world
    _start(w, sign_in(w.client, "bob"), "lab-9z")
    sign_in(w.client, "alice")
    assert "lab-9z" not in w.client.get("/audit").text
    assert "lab-9z" not in w.client.get("/audit.csv").text
    # Filtering for the other room explicitly still shows nothing.
    assert "bob" not in w.client.get("/audit", params={"room": "lab-9z"}).text


def test_formula_cells_are_neutralised(sqlite_world: World) -> None:
    w = sqlite_world
    token = w.client.get("/login")
    del token
    from tests.server_stub.dashboard.helpers import csrf_of

    form = csrf_of(w.client.get("/login").text)
    w.client.post(
        "/login", data={"username": "=HYPERLINK(1)", "password": "x" * 12, "csrf_token": form}
    )
    sign_in(w.client, "it")
    rows = list(
        csv.DictReader(
            io.StringIO(w.client.get("/audit.csv", params={"action": "login_failed"}).text)
        )
    )
    assert rows and rows[0]["actor"] == "'=HYPERLINK(1)"


def test_audit_log_cannot_be_rewritten(sqlite_world: World) -> None:
    w = sqlite_world
    with w.state.engine.connect() as conn:
        for stmt in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            try:
                conn.execute(text(stmt))
            except Exception as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{stmt} went through")
            conn.rollback()


def test_bad_filter_values_are_422(sqlite_world: World) -> None:
    sign_in(sqlite_world.client, "it")
    assert sqlite_world.client.get("/audit", params={"since": "yesterday"}).status_code == 422
    # The filter form sends empty fields for "no limit".
    empty = {"room": "", "actor": "", "action": "", "since": "", "until": ""}
    assert sqlite_world.client.get("/audit.csv", params=empty).status_code == 200
    r = sqlite_world.client.get("/audit", params={"actor": "' OR 1=1 --"})
    assert r.status_code == 200 and "Nothing matches" in r.text
