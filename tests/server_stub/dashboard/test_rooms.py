"""Rooms: teachers act on their own rooms only; live state; escaping of names."""

from __future__ import annotations

from sqlalchemy import select

from server_stub.db.models import AuditEntry, Command
from tests.server_stub.conftest import World, heartbeat_body
from tests.server_stub.dashboard.helpers import sign_in


def test_teacher_sees_only_her_rooms(sqlite_world: World) -> None:
    c = sqlite_world.client
    csrf = sign_in(c, "alice")
    rooms = c.get("/rooms").text
    assert "Lab 3A" in rooms and "Lab 9Z" not in rooms and "South Elementary" not in rooms
    assert c.get("/rooms/lab-9z").status_code == 404
    assert c.get("/rooms/lab-9z/live").status_code == 404
    assert c.get("/rooms/no-such-room").status_code == 404
    r = c.post(
        "/rooms/lab-9z/start",
        data={"csrf_token": csrf, "objectives": ["sci-space"], "minutes": "10"},
    )
    assert r.status_code == 404
    with sqlite_world.state.sessions() as db:
        assert db.execute(select(Command)).first() is None


def test_start_extend_end_for_a_room(sqlite_world: World) -> None:
    w = sqlite_world
    c = w.client
    csrf = sign_in(c, "alice")
    r = c.post(
        "/rooms/lab-3a/start",
        data={"csrf_token": csrf, "objectives": ["sci-space", "sci-water"], "minutes": "30"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get("/rooms/lab-3a").text
    assert "<strong>Open</strong>" in page and "Water cycle" in page
    assert (
        c.post(
            "/rooms/lab-3a/extend",
            data={"csrf_token": csrf, "minutes": "10"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert (
        c.post("/rooms/lab-3a/end", data={"csrf_token": csrf}, follow_redirects=False).status_code
        == 303
    )
    with w.state.sessions() as db:
        kinds = list(db.execute(select(Command.kind).order_by(Command.id)).scalars())
        audit = (
            db.execute(
                select(AuditEntry).where(AuditEntry.action.like("room_%")).order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
    assert kinds == ["start", "extend", "end"]
    assert [a.action for a in audit] == ["room_start", "room_extend", "room_end"]
    assert audit[0].objectives == ["sci-space", "sci-water"] and audit[0].minutes == 30
    assert audit[2].duration_s is not None and audit[2].actor == "alice"


def test_refused_start_explains_why(sqlite_world: World) -> None:
    c = sqlite_world.client
    csrf = sign_in(c, "alice")
    r = c.post(
        "/rooms/lab-3a/start",
        data={"csrf_token": csrf, "objectives": ["sci-space"], "minutes": "500"},
    )
    assert r.status_code == 400 and "1 to 60 minutes" in r.text
    r = c.post("/rooms/lab-3a/start", data={"csrf_token": csrf, "minutes": "10"})
    assert r.status_code == 400 and "at least one objective" in r.text
    r = c.post(
        "/rooms/lab-3a/start", data={"csrf_token": csrf, "objectives": ["x"], "minutes": "ten"}
    )
    assert r.status_code == 422


def test_live_fragment_follows_heartbeats_and_escapes_names(sqlite_world: World) -> None:
    w = sqlite_world
    device = w.enroll("lab-3a", hostname="<img src=x onerror=alert(1)>")
    c = w.client
    sign_in(c, "alice")
    before = c.get("/rooms/lab-3a/live").text
    assert "offline" in before
    assert "<img src=x" not in before and "&lt;img src=x onerror=alert(1)&gt;" in before
    body = heartbeat_body(
        lock_state="open",
        session={
            "objectives": ["sci-space"],
            "teacher_id": "alice",
            "expires_at": "2099-01-01T00:00:00Z",
        },
        blocked_counts={"games.example": 7},
        health={"ok": False, "problems": ["proxy <down>"]},
    )
    assert w.client.post("/api/v1/heartbeat", json=body, headers=w.auth(device)).status_code == 200
    w.flush_heartbeats()
    after = c.get("/rooms/lab-3a/live").text
    assert ">online<" in after and ">open<" in after
    assert "Space &lt;b&gt;science&lt;/b&gt;" in after
    assert "games.example 7" in after and "proxy &lt;down&gt;" in after
    # The teacher's display name is escaped in the page header too.
    page = c.get("/rooms").text
    assert "Alice &lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page
