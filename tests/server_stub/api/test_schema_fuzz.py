"""schemathesis against the OpenAPI schema: no generated request makes the server fail (5xx).

Half the cases carry a real device token, so generated bodies get past authentication and reach
validation and storage. Bounded: few examples per operation, long-polls capped at 0 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from server_stub.app import create_app
from server_stub.config import Settings
from server_stub.state import AppState
from tests.server_stub.conftest import World, migrated, populate


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    cfg = Settings(data_dir=data, fast_hashing=True)
    migrated(cfg)
    app = create_app(cfg)
    populate(app.state.lg)
    yield app
    state: AppState = app.state.lg
    state.engine.dispose()


@pytest.fixture(scope="module")
def device_token(fuzz_app: FastAPI) -> str:
    from fastapi.testclient import TestClient

    with TestClient(fuzz_app) as client:
        world = World(fuzz_app.state.lg, client)
        token: str = world.enroll()["device_token"]
        return token


def test_no_server_errors(fuzz_app: FastAPI, device_token: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def no_5xx(case: schemathesis.Case) -> None:
            if case.path == "/api/v1/commands":
                case.query = {**(case.query or {}), "wait": 0}
            headers = {
                k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
            }
            if len(repr(case.body)) % 4:
                headers["Authorization"] = f"Bearer {device_token}"
            case.headers = headers
            response = case.call()
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
            )

        no_5xx()
