"""The session machine as scripts: an event goes in, the expected actions come out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.clock import Now
from agent.plan import LockState
from agent.session import (
    Action,
    AddLink,
    AgentStarted,
    ApplyPlan,
    End,
    EnforcementFailed,
    Extend,
    Persist,
    PolicyUpdated,
    Rejected,
    RemoteEnd,
    RemoteExtend,
    RemoteStart,
    Report,
    SessionMachine,
    TeacherUnlock,
    Tick,
    UiChanged,
)
from tests.agent._sample_policy import objective, sample_policy

T0 = 1_700_000_000.0


def at(t: float, wall_shift: float = 0.0, boot: str = "boot-1") -> Now:
    """`t` seconds after the agent started; `wall_shift` = how far someone moved the wall clock."""
    return Now(wall=T0 + t + wall_shift, mono=500.0 + t, boot_id=boot)


def ids() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"s{n}"


def machine(device: str = "demo-device", **kw: object) -> SessionMachine:
    gen = ids()
    m = SessionMachine(sample_policy(**kw), device_id=device, new_id=lambda: next(gen))  # type: ignore[arg-type]
    m.handle(AgentStarted(), at(0))
    return m


def kinds(actions: list[Action]) -> list[str]:
    out = []
    for a in actions:
        match a:
            case Report():
                out.append(f"report:{a.type}")
            case ApplyPlan():
                out.append(f"apply:{a.plan.state}")
            case Persist():
                out.append("persist")
            case UiChanged():
                out.append("ui")
            case Rejected():
                out.append(f"rejected:{a.error}")
    return out


def report(actions: list[Action], type_: str) -> dict[str, object]:
    return next(a.data for a in actions if isinstance(a, Report) and a.type == type_)


def plan_of(actions: list[Action]) -> ApplyPlan:
    return next(a for a in actions if isinstance(a, ApplyPlan))


def test_agent_starts_closed() -> None:
    m = SessionMachine(sample_policy(), device_id="demo-device")
    out = m.handle(AgentStarted(), at(0))
    assert kinds(out) == ["report:agent_started", "apply:closed", "persist", "ui"]
    rules = plan_of(out).plan.rules
    assert not rules.decide("https://spaceplace.nasa.gov/moon").allowed
    assert rules.decide("https://lms.district.example/").allowed


def test_teacher_unlock_opens_for_the_objective_until_the_deadline() -> None:
    m = machine()
    out = m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(10))
    assert kinds(out) == ["report:session_started", "apply:open", "persist", "ui"]
    started = report(out, "session_started")
    assert started["teacher_id"] == "t-ada"
    assert started["objective_ids"] == ["sci-3-moon"]
    plan = plan_of(out).plan
    assert plan.session_id == "s1" and plan.expires_at == T0 + 10 + 1800
    assert plan.rules.decide("https://spaceplace.nasa.gov/moon/phases").allowed
    assert not plan.rules.decide("https://plants.example.org/").allowed
    assert m.handle(Tick(), at(1809)) == []
    out = m.handle(Tick(), at(1810))
    assert kinds(out) == ["report:session_ended", "apply:closed", "persist", "ui"]
    assert report(out, "session_ended")["reason"] == "expired"
    assert report(out, "session_ended")["teacher_id"] == "t-ada"


def test_default_minutes_come_from_the_band() -> None:
    m = machine()
    out = m.handle(TeacherUnlock("t-ada", ("sci-3-moon",)), at(0))
    assert report(out, "session_started")["minutes"] == 40
    assert m.limits() == (40, 60)


@pytest.mark.parametrize(
    ("objectives", "minutes", "error", "details"),
    [
        (("sci-k-colors",), 10, "unknown_objective", {"objective": "sci-k-colors"}),  # K-2 band
        (("nope",), 10, "unknown_objective", {"objective": "nope"}),
        ((), 10, "no_objectives", {}),
        (("sci-3-moon",), 61, "too_long", {"max": "60"}),
        (("sci-3-moon",), 0, "bad_minutes", {}),
    ],
)
def test_bad_unlock_is_refused_reported_and_stays_closed(
    objectives: tuple[str, ...], minutes: int, error: str, details: dict[str, str]
) -> None:
    m = machine()
    out = m.handle(TeacherUnlock("t-ada", objectives, minutes), at(5))
    assert kinds(out) == ["report:request_rejected", f"rejected:{error}"]
    assert report(out, "request_rejected")["teacher_id"] == "t-ada"
    assert out[-1] == Rejected(error, details)
    assert m.session is None


def test_second_start_while_open_is_refused() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(TeacherUnlock("t-bob", ("sci-3-plants",), 30), at(5))
    assert out[-1] == Rejected("already_open")
    assert m.session is not None and m.session.teacher_id == "t-ada"


def test_end_by_teacher_and_end_when_closed() -> None:
    m = machine()
    assert m.handle(End("t-ada"), at(1))[-1] == Rejected("not_open")
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(2))
    out = m.handle(End("t-bob"), at(3))
    assert kinds(out) == ["report:session_ended", "apply:closed", "persist", "ui"]
    ended = report(out, "session_ended")
    assert (ended["teacher_id"], ended["session_teacher_id"], ended["reason"]) == (
        "t-bob",
        "t-ada",
        "ended",
    )


def test_extend_is_capped_by_the_band_maximum() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(Extend("t-ada", 31), at(0))
    assert out[-1] == Rejected("too_long", {"max": "30"})
    out = m.handle(Extend("t-ada", 20), at(600))  # 20 min left + 20
    assert kinds(out) == ["report:session_extended", "apply:open", "persist", "ui"]
    assert plan_of(out).plan.expires_at == T0 + 600 + 40 * 60
    assert m.handle(Tick(), at(600 + 40 * 60 - 1)) == []
    assert "report:session_ended" in kinds(m.handle(Tick(), at(600 + 40 * 60)))


def test_wall_clock_forward_is_reported_and_does_not_end_early() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(Tick(), at(60, wall_shift=+3600))
    assert kinds(out) == ["report:clock_jumped", "apply:open", "persist", "ui"]
    assert report(out, "clock_jumped")["seconds"] == 3600.0
    # The displayed expiry follows the new wall clock; the monotonic deadline is unchanged.
    assert plan_of(out).plan.expires_at == T0 + 3600 + 1800
    assert m.handle(Tick(), at(1799, wall_shift=+3600)) == []
    assert "report:session_ended" in kinds(m.handle(Tick(), at(1800, wall_shift=+3600)))


def test_wall_clock_backwards_never_extends() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(Tick(), at(60, wall_shift=-7200))
    assert report(out, "clock_jumped")["seconds"] == -7200.0
    out = m.handle(Tick(), at(1800, wall_shift=-7200))
    assert report(out, "session_ended")["reason"] == "expired"


def test_small_drift_is_not_a_jump() -> None:
    m = machine()
    assert m.handle(Tick(), at(60, wall_shift=2.0)) == []


def test_policy_update_narrows_then_closes() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon", "sci-3-plants"), 30), at(0))
    m.handle(AddLink("t-ada", "https://kids.example.net/p", "sci-3-plants"), at(1))
    narrower = sample_policy(objectives=(objective("sci-3-moon"),), version="v2")
    out = m.handle(PolicyUpdated(narrower), at(10))
    assert kinds(out) == [
        "report:policy_applied",
        "report:session_narrowed",
        "apply:open",
        "persist",
        "ui",
    ]
    assert report(out, "session_narrowed")["removed"] == ["sci-3-plants"]
    rules = plan_of(out).plan.rules
    assert not rules.decide("https://plants.example.org/").allowed
    assert not rules.decide("https://kids.example.net/p").allowed  # its objective is gone
    assert rules.policy_version == "v2"
    out = m.handle(PolicyUpdated(sample_policy(objectives=(objective("x", band="K-2"),))), at(20))
    assert kinds(out) == [
        "report:policy_applied",
        "report:session_ended",
        "apply:closed",
        "persist",
        "ui",
    ]
    assert report(out, "session_ended")["reason"] == "policy_update"


def test_policy_update_shortens_to_a_lower_maximum() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 60), at(0))
    m.handle(PolicyUpdated(sample_policy(max_minutes=15)), at(60))
    assert m.handle(Tick(), at(60 + 899)) == []
    assert "report:session_ended" in kinds(m.handle(Tick(), at(60 + 900)))


def test_extra_link_attaches_to_the_objective_and_goes_with_the_session() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(AddLink("t-ada", "https://kids.example.net/moon-game"), at(5))
    assert kinds(out) == ["report:link_added", "apply:open", "persist", "ui"]
    assert report(out, "link_added") == {
        "session_id": "s1",
        "teacher_id": "t-ada",
        "url": "https://kids.example.net/moon-game",
        "objective_id": "sci-3-moon",
    }
    assert plan_of(out).plan.rules.decide("https://kids.example.net/moon-game").allowed
    out = m.handle(End("t-ada"), at(6))
    assert not plan_of(out).plan.rules.decide("https://kids.example.net/moon-game").allowed
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(7))
    assert not m.plan().rules.decide("https://kids.example.net/moon-game").allowed


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://badsite.example.com/page", "blocked_by_district"),
        ("https://spaceplace.nasa.gov/forum/thread", "blocked_by_district"),
        ("*", "bad_url"),
        ("https://*.example.com/", "bad_url"),
        ("ftp://files.example.com/", "bad_url"),
        ("not a url", "bad_url"),
        ("https://localhost/", "bad_url"),
    ],
)
def test_extra_link_never_beats_the_district(url: str, error: str) -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(AddLink("t-ada", url), at(5))
    assert out[-1].__class__ is Rejected and out[-1].error == error  # type: ignore[union-attr]
    assert report(out, "request_rejected")["teacher_id"] == "t-ada"
    assert m.session is not None and m.session.links == ()


def test_add_link_when_closed_or_for_another_objective() -> None:
    m = machine()
    assert m.handle(AddLink("t-ada", "https://a.example.org/"), at(0))[-1] == Rejected("not_open")
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(AddLink("t-ada", "https://a.example.org/", "sci-3-plants"), at(1))
    assert out[-1] == Rejected("unknown_objective", {"objective": "sci-3-plants"})


def test_remote_commands_follow_the_same_rules() -> None:
    m = machine()
    out = m.handle(RemoteStart("c1", "t-ada", ("sci-k-colors",), 10), at(0))
    assert out[-1] == Rejected("unknown_objective", {"objective": "sci-k-colors"})
    assert report(out, "request_rejected")["command_id"] == "c1"
    out = m.handle(RemoteStart("c2", "t-ada", ("sci-3-moon",), 10), at(1))
    started = report(out, "session_started")
    assert (started["source"], started["command_id"]) == ("remote", "c2")
    assert m.handle(RemoteExtend("c3", "t-ada", 60), at(2))[-1] == Rejected(
        "too_long", {"max": "50"}
    )
    out = m.handle(RemoteEnd("c4", "t-ada"), at(3))
    assert report(out, "session_ended")["command_id"] == "c4"


def test_enforcement_failure_closes_the_session() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(0))
    out = m.handle(EnforcementFailed("nft: permission denied"), at(1))
    assert kinds(out) == [
        "report:enforcement_failed",
        "report:session_ended",
        "apply:closed",
        "persist",
        "ui",
    ]
    assert m.handle(EnforcementFailed("again"), at(2)) == [
        Report("enforcement_failed", {"detail": "again"})
    ]


def test_device_without_room_or_policy_stays_closed() -> None:
    m = machine(device="unknown-pc")
    assert m.room is None
    assert m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 10), at(1))[-1] == Rejected("no_room")
    assert not m.plan().rules.decide("https://lms.district.example/").allowed
    bare = SessionMachine(None, device_id="demo-device")
    out = bare.handle(AgentStarted(), at(0))
    assert plan_of(out).plan.state is LockState.CLOSED
    assert bare.handle(TeacherUnlock("t", ("sci-3-moon",), 10), at(1))[-1] == Rejected("no_policy")


def test_room_override_wins_over_the_device_list() -> None:
    m = SessionMachine(sample_policy(), device_id="demo-device", room_override="k-room")
    m.handle(AgentStarted(), at(0))
    assert m.room is not None and m.room.id == "k-room"
    assert m.limits() == (20, 30)
    assert m.handle(TeacherUnlock("t", ("sci-k-colors",), 30), at(1))[0].type == "session_started"  # type: ignore[union-attr]


def test_a_policy_naming_another_room_moves_the_device_and_ends_what_that_room_lacks() -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 10), at(0))
    out = m.handle(PolicyUpdated(sample_policy(), room_id="k-room"), at(1))
    assert m.room is not None and m.room.id == "k-room"
    assert m.session is None and plan_of(out).plan.state is LockState.CLOSED
    assert m.handle(PolicyUpdated(sample_policy()), at(2)) and m.room.id == "k-room"  # kept


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=-1e5, max_value=1e5), min_size=1, max_size=30))
def test_moving_the_wall_clock_never_changes_when_a_session_ends(shifts: list[float]) -> None:
    m = machine()
    m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 10), at(0))
    step = 599 / len(shifts)
    for i, shift in enumerate(shifts, start=1):
        m.handle(Tick(), at(i * step, wall_shift=shift))
        assert m.session is not None
    out = m.handle(Tick(), at(600, wall_shift=shifts[-1]))
    assert report(out, "session_ended")["reason"] == "expired"


def test_every_plan_carries_the_policys_denied_programs() -> None:
    m = machine()
    policy = m.policy
    assert policy is not None
    district = policy.district.model_copy(update={"denied_processes": ("tor", "psiphon*")})
    out = m.handle(PolicyUpdated(policy.model_copy(update={"district": district})), at(1))
    (closed,) = [a.plan for a in out if isinstance(a, ApplyPlan)]
    assert closed.state is LockState.CLOSED
    assert closed.denied_processes == ("tor", "psiphon*")
    out = m.handle(TeacherUnlock("t-ada", ("sci-3-moon",), 30), at(2))
    (opened,) = [a.plan for a in out if isinstance(a, ApplyPlan)]
    assert opened.state is LockState.OPEN and opened.denied_processes == ("tor", "psiphon*")
