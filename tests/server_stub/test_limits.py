"""Oversized bodies are refused with 413, also when sent without a Content-Length."""

from __future__ import annotations

from collections.abc import Iterator

from tests.server_stub.conftest import World


def test_chunked_oversized_body_is_413(sqlite_world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"token": "'
        for _ in range(2000):
            yield b"x" * 1000
        yield b'", "hostname": "h"}'

    r = sqlite_world.client.post(
        "/api/v1/enroll", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_bad_content_length_is_413(sqlite_world: World) -> None:
    r = sqlite_world.client.post(
        "/api/v1/enroll",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "999999999"},
    )
    assert r.status_code == 413
