"""Clock readings handed to the pure session core, so it never reads a clock itself.

`mono` is CLOCK_BOOTTIME where the OS has it: unlike CLOCK_MONOTONIC it keeps counting while a
laptop is suspended, so closing the lid cannot stretch a session. `wall` is for display, for
reports and for resuming across a reboot (when `mono` starts again from zero, which `boot_id`
tells apart).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agent.state_store import boot_id


@dataclass(frozen=True)
class Now:
    wall: float  # seconds since the epoch; may jump
    mono: float  # seconds, never goes back within one boot
    boot_id: str


def _mono() -> float:
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is not None:
        return time.clock_gettime(clock)
    return time.monotonic()


class SystemClock:
    def __init__(self) -> None:
        self._boot_id = boot_id()

    def now(self) -> Now:
        return Now(wall=time.time(), mono=_mono(), boot_id=self._boot_id)
