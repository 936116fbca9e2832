"""Applying a plan as a sequence of reversible steps (after Safe Exam Browser's OperationSequence).

Each step knows how to undo itself. If step N fails, steps N-1..1 are reverted in reverse order,
so a backend never stays half-changed; the backend then puts itself in its closed state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.enforce.base import EnforcementError

log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Step:
    name: str
    apply: Callable[[], None]
    revert: Callable[[], None] = _nothing


def run_steps(steps: Iterable[Step]) -> None:
    """Apply `steps` in order; on the first failure revert the applied ones and raise."""
    done: list[Step] = []
    for step in steps:
        try:
            step.apply()
        except Exception as exc:
            undo_errors = _revert_all(done)
            message = f"step {step.name!r} failed: {exc}"
            if undo_errors:
                message += "; while undoing: " + "; ".join(undo_errors)
            raise EnforcementError(message) from exc
        done.append(step)


def revert_steps(steps: Iterable[Step]) -> None:
    """Revert every step, last first, even if some fail; raise once at the end if any did."""
    errors = _revert_all(list(steps))
    if errors:
        raise EnforcementError("revert failed: " + "; ".join(errors))


def _revert_all(done: list[Step]) -> list[str]:
    errors: list[str] = []
    for step in reversed(done):
        try:
            step.revert()
        except Exception as exc:  # keep undoing the others; the caller reports all of them
            log.warning("reverting step %s failed: %s", step.name, exc)
            errors.append(f"{step.name}: {exc}")
    return errors
