"""Signing in with the TestClient the way a browser does: form, cookies, CSRF field."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.server_stub.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Returns the session's CSRF token."""
    client.cookies.clear()
    form = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/rooms").text)
