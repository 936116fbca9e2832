from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import policies
from agent.clock import Now
from agent.config import AgentConfig
from agent.enforce.base import EnforcementError, Health
from agent.events import JsonLinesLog
from agent.plan import EnforcementPlan, LockState
from agent.service import AgentService
from policies.loader import load_policy

OBJ = "CCSS.MATH.3.OA.A.1"
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, boot: str = "boot-1") -> None:
        self.t = 0.0
        self.boot = boot

    def __call__(self) -> Now:
        return Now(T0 + self.t, 100.0 + self.t, self.boot)


class Recorder:
    name = "recorder"

    def __init__(self, fail_open: bool = False) -> None:
        self.plans: list[EnforcementPlan] = []
        self.fail_open = fail_open

    def apply(self, plan: EnforcementPlan) -> None:
        self.plans.append(plan)
        if self.fail_open and plan.state is LockState.OPEN:
            raise EnforcementError("nft: operation not permitted")

    def revert(self) -> None:
        raise AssertionError("the service must never revert enforcement")

    def health(self) -> Health:
        return Health(self.name, True, "fine")


@pytest.fixture
def cfg(tmp_path: Path) -> AgentConfig:
    teachers = tmp_path / "teachers.toml"
    digest = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("4821")
    teachers.write_text(f'[teachers]\n"t-ada" = "{digest}"\n')
    return AgentConfig(
        state_dir=tmp_path / "state",
        policy_dir=policies.DEFAULT_POLICY_DIR,
        verifier_file=teachers,
        device_id="demo-device",
    )


def service(cfg: AgentConfig, clock: Clock, *enforcers: Recorder) -> AgentService:
    s = AgentService(cfg, list(enforcers or [Recorder()]), clock=clock)
    s.startup()
    return s


def events(cfg: AgentConfig) -> list[str]:
    return [e.type for e in JsonLinesLog(cfg.state_dir / "events.jsonl").read()]


def test_teacher_flow_through_the_controller(cfg: AgentConfig) -> None:
    clock, rec = Clock(), Recorder()
    s = service(cfg, clock, rec)
    assert [p.state for p in rec.plans] == [LockState.CLOSED]
    assert s.view().state == "closed" and s.view().room_id == "lab-3a"
    assert os.stat(cfg.state_dir).st_mode & 0o777 == 0o700

    wrong = s.teacher_login("t-ada", "0000")
    assert (wrong.ok, wrong.error) == (False, "wrong_pin")
    login = s.teacher_login("t-ada", "4821")
    assert login.ok and login.token
    tv = s.teacher_view(login.token)
    assert tv is not None and (tv.default_minutes, tv.max_minutes) == (40, 60)
    assert OBJ in [c.id for c in tv.choices]

    assert s.start(login.token, ["CSTA.K-2.nope"], 30).error == "unknown_objective"
    assert s.start(login.token, [OBJ], 90).error == "too_long"
    started = s.start(login.token, [OBJ], 30)
    assert started.ok
    assert rec.plans[-1].state is LockState.OPEN
    assert rec.plans[-1].rules.decide("https://pbskids.org/cyberchase/").allowed
    view = s.view()
    assert view.state == "open" and view.teacher == "t-ada" and view.seconds_left == 1800
    assert {c.site for c in view.resources} >= {"pbskids.org", "www.khanacademy.org"}

    status = s.status()
    assert {k: status[k] for k in ("state", "objectives", "teacher", "room")} == {
        "state": "open",
        "objectives": [OBJ],
        "teacher": "t-ada",
        "room": "lab-3a",
    }
    assert status["expires_at"] == T0 + 1800
    assert status["policy_version"] == load_policy(policies.DEFAULT_POLICY_DIR).version
    assert status["enforcement"]["mode"] == "safe"

    assert s.add_link(login.token, "https://kids.example.net/game").ok
    assert s.end(login.token).ok
    assert rec.plans[-1].state is LockState.CLOSED
    assert s.end(login.token).error == "not_open"
    assert events(cfg) == [
        "agent_started",
        "pin_failed",
        "teacher_login",
        "request_rejected",
        "request_rejected",
        "session_started",
        "link_added",
        "session_ended",
        "request_rejected",
    ]


def test_token_expires_and_bad_tokens_are_refused(cfg: AgentConfig) -> None:
    clock = Clock()
    s = service(cfg, clock)
    token = s.teacher_login("t-ada", "4821").token
    assert token
    assert s.start("forged", [OBJ], 10).error == "not_signed_in"
    clock.t = 301
    assert s.teacher_view(token) is None
    assert s.start(token, [OBJ], 10).error == "not_signed_in"
    assert s.status()["state"] == "closed"


def test_enforcement_failure_fails_closed(cfg: AgentConfig) -> None:
    good, bad = Recorder(), Recorder(fail_open=True)
    s = service(cfg, Clock(), good, bad)
    out = s.local_unlock("t-ada", "4821", [OBJ], 10)
    assert (out.ok, out.error) == (False, "enforcement_failed")
    assert good.plans[-1].state is LockState.CLOSED and bad.plans[-1].state is LockState.CLOSED
    assert s.status()["state"] == "closed"
    assert "recorder: nft: operation not permitted" in s.status()["enforcement"]["last_error"]
    saved = json.loads((cfg.state_dir / "session.json").read_text())
    assert saved["data"]["session"] is None
    assert "enforcement_failed" in events(cfg)


def test_restart_within_time_resumes_and_after_deadline_closes(cfg: AgentConfig) -> None:
    clock = Clock()
    s = service(cfg, clock)
    assert s.local_unlock("t-ada", "4821", [OBJ], 10).ok
    s.shutdown()  # stopping closes the device but remembers the session
    clock.t = 300
    rec = Recorder()
    again = service(cfg, clock, rec)
    assert again.status()["state"] == "open" and again.status()["seconds_left"] == 300
    assert rec.plans[-1].state is LockState.OPEN
    clock.t = 601
    rec2 = Recorder()
    later = service(cfg, clock, rec2)
    assert later.status()["state"] == "closed"
    assert [p.state for p in rec2.plans] == [LockState.CLOSED]


def test_corrupt_state_file_comes_up_closed_and_reports(cfg: AgentConfig) -> None:
    cfg.state_dir.mkdir(mode=0o700)
    (cfg.state_dir / "session.json").write_text('{"format": "lessongate-agent-state", "versi')
    s = service(cfg, Clock())
    assert s.status()["state"] == "closed"
    assert "state_corrupt" in events(cfg)


def test_bad_policy_keeps_the_device_closed(cfg: AgentConfig, tmp_path: Path) -> None:
    bad = tmp_path / "policy"
    bad.mkdir()
    (bad / "district.toml").write_text("name = \n")
    cfg = AgentConfig(
        state_dir=cfg.state_dir,
        policy_dir=bad,
        verifier_file=cfg.verifier_file,
        device_id="demo-device",
    )
    rec = Recorder()
    s = service(cfg, Clock(), rec)
    assert rec.plans[-1].state is LockState.CLOSED
    assert not rec.plans[-1].rules.decide("https://clever.com/").allowed
    assert s.view().notice and "policy" in s.view().notice.lower()
    assert s.status()["policy_problem"]
    assert s.local_unlock("t-ada", "4821", [OBJ], 10).error == "no_policy"
    assert "policy_error" in events(cfg)


def test_policy_update_narrows_the_running_session(cfg: AgentConfig) -> None:
    rec = Recorder()
    s = service(cfg, Clock(), rec)
    assert s.local_unlock("t-ada", "4821", [OBJ], 10).ok
    policy = load_policy(policies.DEFAULT_POLICY_DIR)
    narrowed = policy.model_copy(
        update={"objectives": tuple(o for o in policy.objectives if o.id != OBJ)}
    )
    s.update_policy(narrowed)
    assert s.status()["state"] == "closed"
    assert rec.plans[-1].state is LockState.CLOSED


def test_remote_commands_go_through_the_same_rules(cfg: AgentConfig) -> None:
    s = service(cfg, Clock())
    assert s.remote_start("c1", "t-ada", [OBJ], 61).error == "too_long"
    assert s.remote_start("c2", "t-ada", [OBJ], None).ok
    assert s.status()["seconds_left"] == 40 * 60
    assert s.remote_extend("c3", "t-ada", 10).ok
    assert s.remote_end("c4", "t-ada").ok
    assert s.local_end("cli:uid=0").error == "not_open"


def test_lockout_is_reported_through_the_controller(cfg: AgentConfig) -> None:
    s = service(cfg, Clock())
    for _ in range(4):
        assert s.teacher_login("t-ada", "1").error == "wrong_pin"
    locked = s.teacher_login("t-ada", "1")
    assert (locked.error, locked.retry_after) == ("locked", 30)
    assert s.teacher_login("t-ada", "4821").error == "locked"
    assert s.teacher_login("  ", "4821").error == "empty_staff_id"
    assert s.status()["pin_locked_for"] == 30


class Revertible(Recorder):
    """Records reverts instead of refusing them: only IT's disable code may revert."""

    def __init__(self) -> None:
        super().__init__()
        self.reverts = 0

    def revert(self) -> None:
        self.reverts += 1


FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_disable_code_stops_enforcement_until_enable(cfg: AgentConfig) -> None:
    from dataclasses import replace

    cfg = replace(cfg, disable_code_hash=FAST.hash("it-code-2468"))
    clock, rec = Clock(), Revertible()
    s = service(cfg, clock, rec)

    wrong = s.disable("it-code-0000", "cli:uid=0")
    assert (wrong.ok, wrong.error) == (False, "wrong_code")
    assert rec.reverts == 0 and s.status()["enforcement"]["mode"] == "safe"

    assert s.disable("it-code-2468", "cli:uid=0").ok
    assert rec.reverts == 1
    status = s.status()
    assert status["enforcement"]["mode"] == "disabled"
    assert "lessongate-agent enable" in status["enforcement"]["note"]
    applied = len(rec.plans)
    assert s.local_unlock("t-ada", "4821", [OBJ], 10).ok  # sessions still run, unenforced
    assert len(rec.plans) == applied

    # A restart keeps it disabled: nothing is applied, not even the closed plan.
    again_rec = Revertible()
    again = service(cfg, clock, again_rec)
    assert again_rec.plans == [] and again.status()["enforcement"]["mode"] == "disabled"
    assert again.enable("cli:uid=0").ok
    assert [p.state for p in again_rec.plans] == [LockState.OPEN]
    assert again.status()["enforcement"]["mode"] == "safe"

    log = (cfg.state_dir / "events.jsonl").read_text()
    assert "it-code" not in log  # the code never reaches a report
    kinds = events(cfg)
    assert kinds.index("disable_refused") < kinds.index("enforcement_disabled")
    assert kinds[-1] == "enforcement_enabled"


def test_without_a_code_hash_nothing_can_disable(cfg: AgentConfig) -> None:
    rec = Revertible()
    s = service(cfg, Clock(), rec)  # the default policy carries no hash, and neither does cfg
    out = s.disable("", "cli:uid=0")
    assert (out.ok, out.error) == (False, "no_disable_code")
    assert rec.reverts == 0 and "disable_refused" in events(cfg)


def test_the_policys_code_hash_is_used_when_the_config_has_none(cfg: AgentConfig) -> None:
    s = service(cfg, Clock(), Revertible())
    policy = s.machine.policy
    assert policy is not None
    district = policy.district.model_copy(update={"disable_code_hash": FAST.hash("from-policy")})
    s.update_policy(policy.model_copy(update={"district": district}))
    assert s.disable("from-policy", "cli:uid=0").ok


def test_a_pin_check_does_not_hold_up_the_rest_of_the_service(cfg: AgentConfig) -> None:
    """The online check may take 2 s: status, ticks and the UI must not wait for it."""
    import threading

    from agent.teacher_auth import Verdict

    entered, release = threading.Event(), threading.Event()

    class SlowServer:
        name = "server"

        def verify(self, staff_id: str, pin: str) -> Verdict:
            entered.set()
            release.wait(10)
            return Verdict.UNAVAILABLE

    s = AgentService(cfg, [Recorder()], clock=Clock(), online_verifier=SlowServer())
    s.startup()
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(s.teacher_login("t-ada", "4821")))
    worker.start()
    try:
        assert entered.wait(10)
        assert s.status()["state"] == "closed"  # answered while the PIN check is still running
        s.tick()
    finally:
        release.set()
        worker.join(10)
    assert result and getattr(result[0], "ok", False)  # then the cached verifier answered


def test_process_events_are_reported_as_device_state(cfg: AgentConfig) -> None:
    from agent.enforce.processes import ProcessEvent

    s = service(cfg, Clock())
    s.on_process_event(ProcessEvent(42, "tor", "/home/kid/tor", 1000, "tor", "ended"))
    last = list(JsonLinesLog(cfg.state_dir / "events.jsonl").read())[-1]
    assert last.type == "process_ended"
    assert last.data == {
        "name": "tor",
        "exe": "/home/kid/tor",
        "rule": "tor",
        "uid": 1000,
        "pid": 42,
    }


def test_under_the_test_hook_a_minute_lasts_a_second_and_status_says_so(cfg: AgentConfig) -> None:
    from dataclasses import replace

    clock, rec = Clock(), Recorder()
    s = service(replace(cfg, seconds_per_minute=1), clock, rec)
    assert "TEST HOOK" in s.status()["enforcement"]["note"]
    assert s.local_unlock("t-ada", "4821", [OBJ], 10).ok
    clock.t = 9
    s.tick()
    assert s.status()["state"] == "open"
    clock.t = 10
    s.tick()
    assert s.status()["state"] == "closed" and rec.plans[-1].state is LockState.CLOSED
