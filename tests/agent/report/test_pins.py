from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher

from agent.report.http import PinAnswer
from agent.report.pins import ServerVerifiers
from agent.teacher_auth import Verdict

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class FakeServer:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    def check_pin(self, teacher_id: str, pin: str, timeout: float) -> str:
        return self.answer


def test_online_answer_wins_and_cached_hashes_cover_an_outage(tmp_path: Path) -> None:
    server = FakeServer(PinAnswer.OK)
    pins = ServerVerifiers(tmp_path, lambda: server)  # type: ignore[arg-type,return-value]
    assert pins.verify("t-ada", "1234") is Verdict.OK and pins.last_source == "online"
    server.answer = PinAnswer.WRONG
    assert pins.verify("t-ada", "1234") is Verdict.WRONG
    server.answer = PinAnswer.UNAVAILABLE
    assert pins.verify("t-ada", "1234") is Verdict.UNAVAILABLE  # nothing cached yet
    pins.refresh({"verifiers": [{"teacher_id": "t-ada", "pin_hash": FAST.hash("1234")}]})
    assert pins.verify("t-ada", "1234") is Verdict.OK and pins.last_source == "cached"
    assert pins.verify("t-ada", "9999") is Verdict.WRONG
    restarted = ServerVerifiers(tmp_path, lambda: None)  # kept on disk, hashes only
    assert restarted.verify("t-ada", "1234") is Verdict.OK
    assert "1234" not in (tmp_path / "verifiers.json").read_text()
