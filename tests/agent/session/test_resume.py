"""Restart and reboot scripts: what the device does with the state saved before it stopped."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.clock import Now
from agent.plan import LockState
from agent.session import (
    Action,
    AgentStarted,
    ApplyPlan,
    Persist,
    Report,
    SessionMachine,
    TeacherUnlock,
    Tick,
)
from tests.agent._sample_policy import objective, sample_policy

T0 = 1_700_000_000.0


def saved_after_unlock(minutes: int = 30) -> dict[str, Any]:
    """A session opened at wall T0 (monotonic 500 on boot-1), as the Persist action saved it."""
    m = SessionMachine(sample_policy(), device_id="demo-device", new_id=lambda: "s1")
    m.handle(AgentStarted(), Now(T0, 500.0, "boot-1"))
    out = m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), minutes), Now(T0, 500.0, "boot-1"))
    return next(a.data for a in out if isinstance(a, Persist))


def restart(
    saved: dict[str, Any] | None, now: Now, **kw: Any
) -> tuple[SessionMachine, list[Action]]:
    m = SessionMachine(kw.pop("policy", sample_policy()), device_id="demo-device")
    return m, m.handle(AgentStarted(saved=saved, **kw), now)


def reports(actions: list[Action]) -> dict[str, dict[str, Any]]:
    return {a.type: a.data for a in actions if isinstance(a, Report)}


def state(actions: list[Action]) -> LockState:
    return next(a.plan.state for a in actions if isinstance(a, ApplyPlan))


def test_agent_restart_within_time_resumes_with_the_same_deadline() -> None:
    m, out = restart(saved_after_unlock(30), Now(T0 + 600, 1100.0, "boot-1"))
    assert state(out) is LockState.OPEN
    resumed = reports(out)["session_resumed"]
    assert resumed == {
        "session_id": "s1",
        "teacher_id": "t-ada",
        "seconds_left": 1200,
        "across_reboot": False,
    }
    assert m.handle(Tick(), Now(T0 + 1799, 2299.0, "boot-1")) == []
    assert reports(m.handle(Tick(), Now(T0 + 1800, 2300.0, "boot-1")))["session_ended"]


def test_session_that_expired_while_the_agent_was_stopped_comes_up_closed() -> None:
    m, out = restart(saved_after_unlock(30), Now(T0 + 1801, 2301.0, "boot-1"))
    assert state(out) is LockState.CLOSED
    ended = reports(out)["session_ended"]
    assert (ended["reason"], ended["teacher_id"]) == ("expired_while_stopped", "t-ada")
    assert m.session is None


def test_same_boot_ignores_a_wall_clock_moved_back_while_stopped() -> None:
    _, out = restart(saved_after_unlock(30), Now(T0 - 86400, 2301.0, "boot-1"))
    assert state(out) is LockState.CLOSED


def test_reboot_within_time_resumes_on_the_wall_clock() -> None:
    m, out = restart(saved_after_unlock(30), Now(T0 + 600, 12.0, "boot-2"))
    assert state(out) is LockState.OPEN
    assert reports(out)["session_resumed"]["across_reboot"] is True
    assert reports(out)["session_resumed"]["seconds_left"] == 1200
    assert m.session is not None and m.session.deadline == 12.0 + 1200


def test_reboot_after_expiry_comes_up_closed() -> None:
    _, out = restart(saved_after_unlock(30), Now(T0 + 1800, 12.0, "boot-2"))
    assert state(out) is LockState.CLOSED
    assert reports(out)["session_ended"]["reason"] == "expired_while_stopped"


def test_reboot_with_the_clock_set_back_comes_up_closed() -> None:
    _, out = restart(saved_after_unlock(30), Now(T0 - 3600, 12.0, "boot-2"))
    assert state(out) is LockState.CLOSED
    assert reports(out)["session_ended"]["reason"] == "clock_set_back"


def test_reboot_never_resumes_for_longer_than_was_left() -> None:
    saved = saved_after_unlock(30)
    # Someone edits the saved wall-clock expiry to next week: the monotonic remainder still caps.
    saved["session"]["expires_at"] = T0 + 7 * 86400
    m, _ = restart(saved, Now(T0 + 60, 12.0, "boot-2"))
    assert m.session is not None and m.session.seconds_left(12.0) == 1800


def test_corrupt_state_comes_up_closed_and_is_reported() -> None:
    _, out = restart(None, Now(T0, 1.0, "boot-1"), problem="session.json: not valid JSON")
    assert state(out) is LockState.CLOSED
    assert reports(out)["state_corrupt"] == {"problem": "session.json: not valid JSON"}
    bad = saved_after_unlock()
    bad["session"]["objective_ids"] = "sci-3-moon"
    _, out = restart(bad, Now(T0, 1.0, "boot-1"))
    assert state(out) is LockState.CLOSED
    assert "malformed" in reports(out)["state_corrupt"]["problem"]


def test_resume_under_a_policy_that_dropped_the_objective_closes() -> None:
    policy = sample_policy(objectives=(objective("sci-3-plants"),))
    _, out = restart(saved_after_unlock(), Now(T0 + 60, 560.0, "boot-1"), policy=policy)
    assert state(out) is LockState.CLOSED
    assert reports(out)["session_ended"]["reason"] == "policy_update"


@settings(max_examples=60, deadline=None)
@given(
    stopped=st.floats(min_value=0, max_value=4000),
    wall_error=st.floats(min_value=-1e6, max_value=1e6),
    reboot=st.booleans(),
)
def test_no_restart_or_clock_change_ever_lengthens_a_session(
    stopped: float, wall_error: float, reboot: bool
) -> None:
    """Same boot: exactly what the monotonic clock leaves. After a reboot the wall clock is the
    only link, so a session may resume for at most what it claims and never for more than was
    left at the last save (documented in agent.session.resume)."""
    boot = "boot-2" if reboot else "boot-1"
    mono = 5.0 if reboot else 500.0 + stopped
    wall = T0 + stopped + wall_error
    m, _ = restart(saved_after_unlock(30), Now(wall, mono, boot))
    if not reboot:
        expected = 1800 - stopped
    elif wall < T0:
        expected = 0.0  # clock set back behind the last save: closed
    else:
        expected = min(1800.0, T0 + 1800 - wall)
    left = m.session.seconds_left(mono) if m.session else 0.0
    assert left == pytest.approx(max(0.0, expected), abs=1e-6)
