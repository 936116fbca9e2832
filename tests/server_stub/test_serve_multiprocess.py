"""Two `lessongate-server serve` processes on one PostgreSQL database: a room command posted to
one reaches a device long-polling the other (LISTEN/NOTIFY)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from policies import DEFAULT_POLICY_DIR
from policies.loader import load_policy
from tests.server_stub.serverproc import Server, prepare, sign_in


def test_command_posted_to_one_process_reaches_a_long_poll_on_the_other(
    pg_empty_url: str, tmp_path: Path
) -> None:
    objective = load_policy(DEFAULT_POLICY_DIR).objectives_for_room("lab-3a")[0].id
    data = tmp_path / "data"  # shared: both processes use the same signing key
    token = prepare(data, pg_empty_url)
    with Server(data, pg_empty_url) as a, Server(data, pg_empty_url) as b:
        device = httpx.post(
            f"{b.url}/api/v1/enroll", json={"token": token, "hostname": "pc1"}
        ).json()
        auth = {"Authorization": f"Bearer {device['device_token']}"}
        cursor = httpx.get(f"{b.url}/api/v1/commands", headers=auth).json()["cursor"]
        got: dict[str, Any] = {}

        def long_poll() -> None:
            r = httpx.get(
                f"{b.url}/api/v1/commands",
                params={"after": cursor, "wait": 25},
                headers=auth,
                timeout=60,
            )
            got.update(r.json())

        poller = threading.Thread(target=long_poll)
        poller.start()
        with httpx.Client(base_url=a.url) as teacher:
            csrf = sign_in(teacher, "alice")
            r = teacher.post(
                "/rooms/lab-3a/start",
                data={"csrf_token": csrf, "objectives": [objective], "minutes": "20"},
            )
            assert r.status_code in (200, 303), r.text
        poller.join(60)
        assert [c["kind"] for c in got["commands"]] == ["start"]
        assert got["commands"][0]["teacher_id"] == "alice"
