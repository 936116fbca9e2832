"""Devices page (IT only): fleet view, revocation, enrollment tokens."""

from __future__ import annotations

import re

from tests.server_stub.conftest import World, heartbeat_body
from tests.server_stub.dashboard.helpers import sign_in


def test_teachers_cannot_open_the_devices_page(sqlite_world: World) -> None:
    c = sqlite_world.client
    csrf = sign_in(c, "alice")
    assert c.get("/devices").status_code == 403
    assert (
        c.post("/enrollment-tokens", data={"csrf_token": csrf, "scope": "room:lab-3a"}).status_code
        == 403
    )
    assert "/devices" not in c.get("/rooms").text


def test_it_sees_versions_health_and_tamper_events(sqlite_world: World) -> None:
    w = sqlite_world
    device = w.enroll("lab-3a", hostname="pc-07")
    w.client.post(
        "/api/v1/heartbeat",
        json=heartbeat_body(
            agent_version="9.8.7", health={"ok": False, "problems": ["nftables missing"]}
        ),
        headers=w.auth(device),
    )
    w.flush_heartbeats()  # write-behind: the page shows the state after the next flush
    w.client.post(
        "/api/v1/events",
        json={
            "events": [
                {
                    "id": "t1",
                    "type": "tamper.proxy_killed",
                    "at": "2026-11-30T10:00:00Z",
                    "data": {},
                }
            ]
        },
        headers=w.auth(device),
    )
    sign_in(w.client, "it")
    html = w.client.get("/devices").text
    row = re.search(rf'<tr data-device="{device["device_id"]}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert (
        "pc-07" in row.group(1) and "9.8.7" in row.group(1) and "nftables missing" in row.group(1)
    )
    assert "<td>1</td>" in row.group(1)


def test_revoked_device_is_locked_out(sqlite_world: World) -> None:
    w = sqlite_world
    device = w.enroll("lab-3a")
    csrf = sign_in(w.client, "it")
    r = w.client.post(
        f"/devices/{device['device_id']}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (
        w.client.post(
            "/api/v1/heartbeat", json=heartbeat_body(), headers=w.auth(device)
        ).status_code
        == 401
    )
    assert w.client.post("/devices/dev-nope/revoke", data={"csrf_token": csrf}).status_code == 404


def test_enrollment_token_is_shown_once_and_works(sqlite_world: World) -> None:
    w = sqlite_world
    csrf = sign_in(w.client, "it")
    r = w.client.post(
        "/enrollment-tokens",
        data={
            "csrf_token": csrf,
            "scope": "room:lab-4b",
            "uses": "2",
            "hours": "1",
            "label": "<b>lab</b>",
        },
    )
    assert r.status_code == 200
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.text)
    assert token is not None
    assert "&lt;b&gt;lab&lt;/b&gt;" in r.text
    enrolled = w.client.post("/api/v1/enroll", json={"token": token.group(1), "hostname": "n"})
    assert enrolled.status_code == 201 and enrolled.json()["room_id"] == "lab-4b"
    assert token.group(1) not in w.client.get("/devices").text
    bad = w.client.post("/enrollment-tokens", data={"csrf_token": csrf, "scope": "room:nope"})
    assert bad.status_code == 400


def test_it_places_an_unassigned_device_in_a_room(sqlite_world: World) -> None:
    w = sqlite_world
    token = w.enrollment_token(room=None, school="North Elementary")
    device = w.client.post("/api/v1/enroll", json={"token": token, "hostname": "stray"}).json()
    assert device["room_id"] is None
    assert w.client.get("/api/v1/policy", headers=w.auth(device)).status_code == 409
    csrf = sign_in(w.client, "it")
    r = w.client.post(
        f"/devices/{device['device_id']}/room",
        data={"csrf_token": csrf, "room_id": "lab-4b"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    policy = w.client.get("/api/v1/policy", headers=w.auth(device))
    assert policy.status_code == 200 and policy.json()["room_id"] == "lab-4b"
    missing = w.client.post(
        f"/devices/{device['device_id']}/room", data={"csrf_token": csrf, "room_id": "nope"}
    )
    assert missing.status_code == 404
    sign_in(w.client, "alice")
    teacher = w.client.post(
        f"/devices/{device['device_id']}/room", data={"csrf_token": csrf, "room_id": "lab-3a"}
    )
    assert teacher.status_code == 403
