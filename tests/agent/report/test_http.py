"""The HTTP client's error mapping, against a fault-injecting stub on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.report.errors import ServerFault, Unreachable
from agent.report.http import PinAnswer, ServerClient
from tests.agent.report.faults import FaultProxy
from tests.agent.report.harness import free_port


@pytest.fixture
def stub() -> Iterator[FaultProxy]:
    with FaultProxy(f"http://127.0.0.1:{free_port()}") as proxy:  # upstream: nobody
        yield proxy


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("500", ServerFault, "server error HTTP 500"),
        ("garbage", ServerFault, "not JSON"),
        ("close", Unreachable, "cannot connect"),
        ("hang", Unreachable, "did not answer in time"),
    ],
)
def test_every_failure_is_one_of_the_mapped_errors(
    stub: FaultProxy, mode: str, error: type[Exception], words: str
) -> None:
    stub.mode = mode
    # Short only where the wait is the point: a stall elsewhere must not look like a hang.
    client = ServerClient(stub.url, "token", timeout=0.5 if mode == "hang" else 10)
    with pytest.raises(error, match=words):
        client.heartbeat({})


def test_nobody_listening_is_unreachable_and_a_pin_check_is_unavailable() -> None:
    client = ServerClient(f"http://127.0.0.1:{free_port()}", "token", timeout=0.5)
    with pytest.raises(Unreachable):
        client.post_events([])
    assert client.check_pin("t-ada", "1234", 0.5) == PinAnswer.UNAVAILABLE
