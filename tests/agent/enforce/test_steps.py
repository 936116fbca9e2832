from __future__ import annotations

import pytest

from agent.enforce.base import EnforcementError
from agent.enforce.steps import Step, revert_steps, run_steps


def recorder() -> tuple[list[str], type]:
    log: list[str] = []

    def step(name: str, fail: bool = False, fail_revert: bool = False) -> Step:
        def apply() -> None:
            if fail:
                raise OSError(f"{name} broke")
            log.append(f"+{name}")

        def revert() -> None:
            if fail_revert:
                raise OSError(f"{name} undo broke")
            log.append(f"-{name}")

        return Step(name, apply, revert)

    return log, step  # type: ignore[return-value]


def test_all_steps_apply_in_order() -> None:
    log, step = recorder()
    run_steps([step("a"), step("b"), step("c")])
    assert log == ["+a", "+b", "+c"]


def test_a_failing_step_undoes_the_earlier_ones_in_reverse() -> None:
    log, step = recorder()
    with pytest.raises(EnforcementError, match="step 'c' failed: c broke"):
        run_steps([step("a"), step("b"), step("c", fail=True), step("d")])
    assert log == ["+a", "+b", "-b", "-a"]


def test_undo_errors_are_reported_and_do_not_stop_the_other_undos() -> None:
    log, step = recorder()
    with pytest.raises(EnforcementError, match="while undoing: b: b undo broke"):
        run_steps([step("a"), step("b", fail_revert=True), step("c", fail=True)])
    assert log == ["+a", "+b", "-a"]


def test_revert_steps_reverts_everything_last_first() -> None:
    log, step = recorder()
    with pytest.raises(EnforcementError, match="a: a undo broke"):
        revert_steps([step("a", fail_revert=True), step("b"), step("c")])
    assert log == ["-c", "-b"]
