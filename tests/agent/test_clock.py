from __future__ import annotations

import time

from agent.clock import SystemClock
from agent.state_store import boot_id


def test_readings_carry_this_boot_and_a_clock_that_counts_suspend() -> None:
    clock = SystemClock()
    a = clock.now()
    b = clock.now()
    assert a.boot_id == b.boot_id == boot_id() != ""
    assert b.mono >= a.mono
    # CLOCK_BOOTTIME, unlike time.monotonic(), includes time spent suspended; it is never behind.
    assert a.mono >= time.monotonic() - 1.0
    assert abs(a.wall - time.time()) < 60
