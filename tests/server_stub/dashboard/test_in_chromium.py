"""The dashboard in real headless Chromium against a real `lessongate-server serve` process:
sign in, open a lesson for a room, watch a device's state change live, export the audit CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.server_stub.serverproc import PASSWORD, Server, prepare

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data = tmp_path_factory.mktemp("dash") / "data"
    token = prepare(data)
    with Server(data) as running:
        yield running, token


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with sync_playwright() as p:
        # A non-persistent launch gets a fresh temporary profile of its own.
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(20_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _heartbeat(base: str, token: str, **over: Any) -> None:
    body: dict[str, Any] = {
        "lock_state": "closed",
        "health": {"ok": True, "problems": []},
        "agent_version": "0.1.0",
        "uptime_s": 5,
        "cpu_percent": 1.0,
        "memory_percent": 10.0,
        "blocked_counts": {},
    }
    body.update(over)
    r = httpx.post(
        f"{base}/api/v1/heartbeat", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text


def test_teacher_opens_room_sees_device_change_and_exports_csv(
    server: tuple[Server, str], page: Page, tmp_path: Path
) -> None:
    srv, enroll_token = server
    device = httpx.post(
        f"{srv.url}/api/v1/enroll", json={"token": enroll_token, "hostname": "lab3a-pc01"}
    ).json()
    _heartbeat(srv.url, device["device_token"])

    page.goto(srv.url + "/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rooms")

    page.get_by_role("link", name="Room 3A Computer Lab").click()
    row = page.locator("tr", has_text="lab3a-pc01")
    expect(row.locator("td.state")).to_have_text("closed")

    start = page.locator("#start-form")
    start.get_by_role("checkbox").first.check()
    start.get_by_label("Minutes").fill("25")
    start.get_by_role("button", name="Start").click()
    expect(page.locator("#live .summary")).to_contain_text("Open")

    # The device acts on the command and reports back; the page refreshes by itself.
    ends = "2099-01-01T00:00:00Z"
    _heartbeat(
        srv.url,
        device["device_token"],
        lock_state="open",
        session={"objectives": ["x"], "teacher_id": "alice", "expires_at": ends},
        blocked_counts={"games.example": 4},
    )
    expect(row.locator("td.state")).to_have_text("open")
    expect(row).to_contain_text("games.example 4")

    page.get_by_role("link", name="Audit").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    saved = tmp_path / "audit.csv"
    download_info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    starts = [r for r in rows if r["action"] == "room_start"]
    assert len(starts) == 1
    assert starts[0]["actor"] == "alice" and starts[0]["room"] == "lab-3a"
    assert starts[0]["minutes"] == "25" and starts[0]["objectives"]
