"""The UI's HTTP surface, spoken to over real loopback HTTP: who may use it and what each
request answers, including every kind of bad input a teacher or another program can send."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.ui.guard import KEY_COOKIE, KEY_HEADER
from agent.ui.server import (
    UiAddressError,
    read_ui_address,
    ui_address_file,
    write_ui_address,
)
from tests.agent.ui.conftest import RunningUi
from tests.agent.ui.fake_controller import LOCK_SECONDS, PIN, STAFF_ID, FakeController


@pytest.fixture
def client(ui: RunningUi) -> Iterator[httpx.Client]:
    """A client that opened the panel URL (so it holds the cookie) and sends the key header."""
    with httpx.Client(
        base_url=ui.address.url, headers={KEY_HEADER: ui.address.secret}, follow_redirects=True
    ) as c:
        first = c.get(ui.address.panel_url)
        assert first.status_code == 200
        yield c


def signed_in(client: httpx.Client) -> str:
    answer = client.post("/api/teacher/login", json={"staff_id": STAFF_ID, "pin": PIN})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def post(client: httpx.Client, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    answer = client.post(path, json=body)
    return answer.status_code, answer.json()


# ---- who may talk to it -------------------------------------------------------------------


def test_api_without_the_secret_is_refused_with_a_clear_error(ui: RunningUi) -> None:
    url = ui.address.url
    secret = ui.address.secret
    no_key = httpx.get(f"{url}/api/view")
    assert no_key.status_code == 403
    assert no_key.json()["error"] == "forbidden"
    assert "LessonGate" in no_key.json()["message"]
    # Header alone (a program that guessed the port) or cookie alone (a CSRF-ing page) fails.
    header_only = httpx.get(f"{url}/api/view", headers={KEY_HEADER: secret})
    assert header_only.status_code == 403
    cookie_only = httpx.get(f"{url}/api/view", cookies={KEY_COOKIE: secret})
    assert cookie_only.status_code == 403
    wrong = httpx.get(
        f"{url}/api/view", headers={KEY_HEADER: "x" * 43}, cookies={KEY_COOKIE: "x" * 43}
    )
    assert wrong.status_code == 403
    login = httpx.post(f"{url}/api/teacher/login", json={"staff_id": STAFF_ID, "pin": PIN})
    assert login.status_code == 403
    assert ui.controller.calls == []  # type: ignore[attr-defined]


def test_page_without_the_key_says_to_use_the_window(ui: RunningUi) -> None:
    page = httpx.get(ui.address.url + "/")
    assert page.status_code == 403
    assert "Open LessonGate from its own window" in page.text
    assert ui.address.secret not in page.text
    wrong = httpx.get(ui.address.url + "/?k=not-the-secret")
    assert wrong.status_code == 403
    assert KEY_COOKIE not in wrong.headers.get("set-cookie", "")


def test_panel_url_sets_a_strict_httponly_cookie_and_drops_the_key_from_the_address(
    ui: RunningUi,
) -> None:
    first = httpx.get(ui.address.panel_url + "&lang=es")
    assert first.status_code == 303
    assert first.headers["location"] == "/?lang=es"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_foreign_host_header_is_refused_even_with_the_secret(client: httpx.Client) -> None:
    # DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 sends its own Host.
    for host in ("evil.example", "evil.example:" + str(client.base_url.port), "127.0.0.1:1"):
        answer = client.get("/api/view", headers={"Host": host})
        assert answer.status_code == 403, host
        assert answer.json()["error"] == "bad_host"
    assert client.get("/api/view", headers={"Host": f"localhost:{client.base_url.port}"}).is_success


def test_foreign_origin_is_refused(client: httpx.Client) -> None:
    answer = client.post(
        "/api/session/end", json={"token": "t"}, headers={"Origin": "http://evil.example"}
    )
    assert answer.status_code == 403


def test_page_never_loads_anything_from_outside(client: httpx.Client) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    # Every script, style sheet and link in the shell is a path on this server.
    assert re.findall(r"""(?:src|href)=["'](?!/)""", page.text) == []


# ---- the view and the teacher's actions ---------------------------------------------------


def test_view_reports_the_closed_room(client: httpx.Client) -> None:
    view = client.get("/api/view").json()["view"]
    assert view["state"] == "closed"
    assert view["room_name"] == "Lab 3A"


def test_wrong_and_empty_pin_get_clear_words(client: httpx.Client) -> None:
    status, body = post(client, "/api/teacher/login", {"staff_id": STAFF_ID, "pin": "0000"})
    assert (status, body["error"]) == (401, "wrong_pin")
    assert body["message"] == "That staff ID or PIN is not right. Try again."
    status, body = post(client, "/api/teacher/login", {"staff_id": STAFF_ID, "pin": "  "})
    assert (status, body["error"]) == (400, "empty_pin")
    assert body["message"] == "Type your PIN."
    status, body = post(client, "/api/teacher/login", {"staff_id": "", "pin": PIN})
    assert body["error"] == "empty_staff_id"
    # Spanish, picked by ?lang=
    answer = client.post("/api/teacher/login?lang=es", json={"staff_id": STAFF_ID, "pin": "1"})
    assert "no es correcto" in answer.json()["message"]


def test_locked_prompt_says_when_to_retry(client: httpx.Client, fake: FakeController) -> None:
    for _ in range(3):
        post(client, "/api/teacher/login", {"staff_id": STAFF_ID, "pin": "0000"})
    answer = client.post("/api/teacher/login", json={"staff_id": STAFF_ID, "pin": PIN})
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == str(LOCK_SECONDS)
    body = answer.json()
    assert body["retry_after"] == LOCK_SECONDS
    assert body["message"] == f"Too many wrong tries. Wait {LOCK_SECONDS} seconds."
    assert not fake.open_ids


def test_login_returns_the_rooms_objectives_and_limits(client: httpx.Client) -> None:
    answer = client.post("/api/teacher/login", json={"staff_id": STAFF_ID, "pin": PIN}).json()
    teacher = answer["teacher"]
    assert (teacher["default_minutes"], teacher["max_minutes"]) == (40, 60)
    subjects = [c["subject"] for c in teacher["choices"]]
    assert subjects == sorted(subjects)  # grouped by subject
    assert {"id": "sci-3-space", "title": "The solar system", "subject": "Science"} in (
        teacher["choices"]
    )


def test_start_extend_link_end(client: httpx.Client, fake: FakeController) -> None:
    token = signed_in(client)
    status, _ = post(
        client,
        "/api/session/start",
        {"token": token, "objective_ids": ["sci-3-space"], "minutes": "30"},
    )
    assert status == 200
    view = client.get("/api/view").json()["view"]
    assert view["state"] == "open"
    assert [o["title"] for o in view["objectives"]] == ["The solar system"]
    assert view["resources"][0]["site"] == "spaceplace.nasa.gov"
    assert view["seconds_left"] == 30 * 60
    assert post(client, "/api/session/extend", {"token": token, "minutes": 10})[0] == 200
    assert fake.minutes_left == 40
    # A teacher types a bare site name; it means https.
    assert (
        post(client, "/api/session/link", {"token": token, "url": "kids.example.org/moon"})[0]
        == 200
    )
    assert fake.links == ["https://kids.example.org/moon"]
    assert post(client, "/api/session/end", {"token": token})[0] == 200
    assert client.get("/api/view").json()["view"]["state"] == "closed"
    status, body = post(client, "/api/session/end", {"token": token})
    assert (status, body["error"]) == (409, "not_open")


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"objective_ids": ["nope"], "minutes": 30}, "unknown_objective", "not offered"),
        ({"objective_ids": [], "minutes": 30}, "no_objectives", "at least one"),
        ({"objective_ids": ["sci-3-space"], "minutes": 61}, "too_long", "60 minutes at most"),
        ({"objective_ids": ["sci-3-space"], "minutes": 0}, "bad_minutes", "number of minutes"),
        ({"objective_ids": ["sci-3-space"], "minutes": "ten"}, "bad_minutes", "number"),
        ({"objective_ids": ["sci-3-space"], "minutes": True}, "bad_minutes", "number"),
        ({"objective_ids": "sci-3-space", "minutes": 30}, "bad_request", "not understood"),
    ],
)
def test_bad_start_requests_keep_the_device_closed(
    client: httpx.Client, fake: FakeController, body: dict[str, Any], error: str, message: str
) -> None:
    token = signed_in(client)
    status, answer = post(client, "/api/session/start", {"token": token, **body})
    assert status == 400
    assert answer["error"] == error
    assert message in answer["message"]
    assert client.get("/api/view").json()["view"]["state"] == "closed"
    assert not fake.open_ids


def test_actions_need_a_teacher_token(client: httpx.Client, fake: FakeController) -> None:
    for path in ("/api/session/start", "/api/session/end", "/api/teacher/choices"):
        status, body = post(client, path, {"token": "forged", "objective_ids": ["sci-3-space"]})
        assert (status, body["error"]) == (401, "not_signed_in"), path
    status, body = post(client, "/api/session/end", {})
    assert body["error"] == "not_signed_in"
    assert not any(c.startswith(("start", "end")) for c in fake.calls)


def test_bad_links_and_district_blocks_are_explained(client: httpx.Client) -> None:
    token = signed_in(client)
    post(
        client,
        "/api/session/start",
        {"token": token, "objective_ids": ["sci-3-space"], "minutes": 5},
    )
    for url in ("", "ftp://files.example.org/", "https://", "not a url"):
        status, body = post(client, "/api/session/link", {"token": token, "url": url})
        assert (status, body["error"]) == (400, "bad_url"), url
    status, body = post(
        client, "/api/session/link", {"token": token, "url": "https://blocked.example/"}
    )
    assert body["error"] == "blocked_by_district"
    assert body["message"] == "The district never allows that site."
    status, body = post(client, "/api/session/extend", {"token": token, "minutes": 600})
    assert (status, body["error"]) == (400, "too_long")
    assert "60 minutes at most" in body["message"]


def test_malformed_bodies_are_rejected(client: httpx.Client) -> None:
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe", b"{" + b" " * 20000 + b"}"):
        answer = client.post("/api/teacher/login", content=raw)
        assert answer.status_code == 400
        assert answer.json()["error"] == "bad_request"


def test_a_failing_service_gets_an_answer_not_a_crash(
    client: httpx.Client, fake: FakeController
) -> None:
    def broken(staff_id: str, pin: str) -> Any:
        raise RuntimeError("verifier file unreadable")

    fake.teacher_login = broken  # type: ignore[method-assign]
    status, body = post(client, "/api/teacher/login", {"staff_id": STAFF_ID, "pin": PIN})
    assert status == 500
    assert body["message"] == "Something went wrong. The Internet stays closed."


# ---- the blocked page ---------------------------------------------------------------------


def test_blocked_page_needs_no_secret_and_names_only_the_host(ui: RunningUi) -> None:
    page = httpx.get(ui.address.url + "/blocked", params={"host": "www.YouTube.com"})
    assert page.status_code == 200
    assert "www.youtube.com" in page.text
    assert "not part of today&#x27;s lesson" in page.text
    assert "Ask your teacher." in page.text
    assert ui.address.secret not in page.text
    spanish = httpx.get(
        ui.address.url + "/blocked?host=example.org", headers={"Accept-Language": "es-MX,es;q=0.9"}
    )
    assert "Pregunta a tu maestro." in spanish.text


def test_blocked_page_never_echoes_arbitrary_text(ui: RunningUi) -> None:
    page = httpx.get(
        ui.address.url + "/blocked", params={"host": "<script>alert(1)</script> Free prizes!"}
    )
    assert page.status_code == 200
    assert "Free prizes" not in page.text and "<script>alert" not in page.text
    assert "a page" in page.text


# ---- the address file ---------------------------------------------------------------------


def test_running_server_publishes_its_address_for_root_only(ui: RunningUi) -> None:
    path = ui_address_file(ui.state_dir)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_ui_address(ui.state_dir) == ui.address
    assert json.loads(path.read_text()) == {"url": ui.address.url, "secret": ui.address.secret}


def test_address_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UiAddressError, match="not found; is the LessonGate agent running"):
        read_ui_address(tmp_path)
    ui_address_file(tmp_path).write_text("{}")
    with pytest.raises(UiAddressError, match=r"ui-address\.json: field 'url'"):
        read_ui_address(tmp_path)
    write_ui_address(tmp_path, "http://127.0.0.1:9/", "s" * 20)
    assert read_ui_address(tmp_path).panel_url == "http://127.0.0.1:9/?k=" + "s" * 20


def test_a_slow_pin_check_does_not_hold_up_the_screen(
    ui: RunningUi, fake: FakeController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 and the server's online check (up to 2 s) run off the event loop: while a login is
    being checked, the same server still answers the student's screen."""
    import threading

    checking, viewed = threading.Event(), threading.Event()
    served_meanwhile: list[bool] = []
    real_login, real_view = fake.teacher_login, fake.view

    def slow_login(staff_id: str, pin: str) -> Any:
        checking.set()
        served_meanwhile.append(viewed.wait(10))  # bounded: False if the loop was blocked
        return real_login(staff_id, pin)

    def view() -> Any:
        viewed.set()
        return real_view()

    monkeypatch.setattr(fake, "teacher_login", slow_login)
    monkeypatch.setattr(fake, "view", view)

    def new_client() -> httpx.Client:
        c = httpx.Client(base_url=ui.address.url, headers={KEY_HEADER: ui.address.secret})
        assert c.get(ui.address.panel_url, follow_redirects=True).status_code == 200
        return c

    teacher, student = new_client(), new_client()
    try:
        login: list[httpx.Response] = []
        worker = threading.Thread(
            target=lambda: login.append(
                teacher.post("/api/teacher/login", json={"staff_id": STAFF_ID, "pin": PIN})
            )
        )
        worker.start()
        assert checking.wait(10)
        assert student.get("/api/view", timeout=20).status_code == 200
        worker.join(30)
    finally:
        teacher.close()
        student.close()
    assert served_meanwhile == [True]
    assert login and login[0].status_code == 200
