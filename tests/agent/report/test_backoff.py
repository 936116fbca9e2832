from __future__ import annotations

from agent.report.backoff import Backoff, jittered


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    low, high = Backoff(1, 8, rng=lambda: 0.0), Backoff(1, 8, rng=lambda: 1.0)
    assert [low.next_delay() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    assert [high.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    high.reset()
    assert high.next_delay() == 1


def test_heartbeat_jitter_is_ten_percent() -> None:
    assert jittered(30, rng=lambda: 0.0) == 27
    assert round(jittered(30, rng=lambda: 1.0), 6) == 33
