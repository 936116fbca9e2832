"""Sign-in, sign-out, CSRF and password brute force."""

from __future__ import annotations

from tests.server_stub.conftest import World
from tests.server_stub.dashboard.helpers import csrf_of, sign_in


def test_pages_need_a_signed_in_user(sqlite_world: World) -> None:
    c = sqlite_world.client
    for path in ("/rooms", "/rooms/lab-3a", "/audit", "/audit.csv", "/policy", "/devices"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    assert c.get("/rooms/lab-3a/live").status_code == 401


def test_sign_in_and_out(sqlite_world: World) -> None:
    c = sqlite_world.client
    csrf = sign_in(c, "alice")
    page = c.get("/rooms")
    assert page.status_code == 200 and "Lab 3A" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    r = c.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/rooms", follow_redirects=False).status_code == 303


def test_login_form_without_csrf_is_refused(sqlite_world: World) -> None:
    c = sqlite_world.client
    c.get("/login")
    r = c.post("/login", data={"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 403


def test_wrong_password_then_back_off(sqlite_world: World) -> None:
    c = sqlite_world.client
    token = csrf_of(c.get("/login").text)
    statuses = [
        c.post(
            "/login", data={"username": "alice", "password": f"guess{i}", "csrf_token": token}
        ).status_code
        for i in range(6)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    # Even the right password waits out the lock.
    r = c.post(
        "/login",
        data={"username": "alice", "password": "correct horse battery", "csrf_token": token},
    )
    assert r.status_code == 429 and "try again" in r.text and int(r.headers["retry-after"]) > 0


def test_unknown_user_gets_the_same_answer(sqlite_world: World) -> None:
    c = sqlite_world.client
    token = csrf_of(c.get("/login").text)
    a = c.post(
        "/login", data={"username": "alice", "password": "nope-nope-nope", "csrf_token": token}
    )
    b = c.post(
        "/login", data={"username": "ghost", "password": "nope-nope-nope", "csrf_token": token}
    )
    assert a.status_code == b.status_code == 401
    assert "wrong username or password" in a.text and "wrong username or password" in b.text


def test_posts_without_session_csrf_are_refused(sqlite_world: World) -> None:
    c = sqlite_world.client
    sign_in(c, "alice")
    r = c.post("/rooms/lab-3a/end", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/rooms/lab-3a/end", data={"csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/logout", data={"csrf_token": "forged"})
    assert r.status_code == 403
