"""Exponential back-off with jitter, so thirty devices that lost the server together do not
come back in lock-step."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(
        self, base: float = 1.0, cap: float = 60.0, rng: Callable[[], float] = random.random
    ) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng

    def next_delay(self) -> float:
        """Half fixed, half random ("equal jitter"): never zero, never above `cap`."""
        self.failures += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        return float(ceiling / 2 + self._rng() * ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


def jittered(
    interval: float, spread: float = 0.1, rng: Callable[[], float] = random.random
) -> float:
    """`interval` ± `spread` (0.1 = ±10 %)."""
    return interval * (1 - spread + 2 * spread * rng())
