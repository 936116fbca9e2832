"""The session state machine: events in, actions out, no I/O and no clock of its own.

States: closed, or open for objectives O by teacher T in room R until a monotonic deadline.
Every request obeys the same rules whether it comes from the device, the CLI or the server:
objectives must be offered in the device's room (`Policy.objectives_for_room`), durations are
limited by the room's grade band, and the locked district `never_allow` rules always win
(`compile_rules` puts them first). A request that breaks a rule yields `Rejected` plus a report,
and the state does not change.

Each call gets a clock reading. Between two readings the wall clock should move as much as the
monotonic one; when it does not, the wall clock was moved: that is reported (`clock_jumped`) and
the displayed expiry is recomputed from the monotonic deadline, which alone decides expiry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agent.clock import Now
from agent.plan import EnforcementPlan, LockState
from agent.session.checks import extend_problem, is_page_url, start_problem
from agent.session.messages import (
    Action,
    AddLink,
    AgentStarted,
    ApplyPlan,
    End,
    EnforcementFailed,
    Event,
    Extend,
    Persist,
    PolicyUpdated,
    Rejected,
    RemoteEnd,
    RemoteExtend,
    RemoteStart,
    Report,
    Session,
    TeacherUnlock,
    Tick,
    UiChanged,
)
from agent.session.resume import restore, snapshot
from policies.compiler import CompiledRules, ExtraLink, compile_rules, rules_from_patterns
from policies.model import GradeBand, Objective, Policy, Room

JUMP_TOLERANCE = 5.0  # seconds of wall/monotonic disagreement that count as a clock change


def _new_id() -> str:
    return uuid.uuid4().hex


class SessionMachine:
    def __init__(
        self,
        policy: Policy | None,
        *,
        device_id: str,
        room_override: str | None = None,
        new_id: Callable[[], str] = _new_id,
        seconds_per_minute: int = 60,
    ) -> None:
        self.device_id = device_id
        # 60, except under the e2e tests' hook (agent.config.TEST_MINUTES_ENV), which can only
        # make sessions shorter.
        self.seconds_per_minute = seconds_per_minute
        self.room_override = room_override
        self._new_id = new_id
        self.policy: Policy | None = None
        self.room: Room | None = None
        self.session: Session | None = None
        self._last: Now | None = None
        self._set_policy(policy)

    # ---- what the service and the UI read ----

    @property
    def band(self) -> GradeBand | None:
        if self.policy is None or self.room is None:
            return None
        return self.policy.district.band(self.room.band)

    def limits(self) -> tuple[int, int]:
        """(default, maximum) session minutes for this device's band."""
        band = self.band
        if band is None:
            return (0, 0)
        return (
            min(band.default_session_minutes, band.max_session_minutes),
            band.max_session_minutes,
        )

    def offered(self) -> tuple[Objective, ...]:
        if self.policy is None or self.room is None:
            return ()
        return self.policy.objectives_for_room(self.room.id)

    def closed_plan(self) -> EnforcementPlan:
        return EnforcementPlan(
            LockState.CLOSED, self._rules(()), denied_processes=self._denied_processes()
        )

    def plan(self) -> EnforcementPlan:
        s = self.session
        if s is None:
            return self.closed_plan()
        return EnforcementPlan(
            LockState.OPEN,
            self._rules(s.objective_ids, s.links),
            s.id,
            s.expires_at,
            self._denied_processes(),
        )

    def _denied_processes(self) -> tuple[str, ...]:
        return self.policy.district.denied_processes if self.policy is not None else ()

    def _rules(
        self, objective_ids: tuple[str, ...], links: tuple[ExtraLink, ...] = ()
    ) -> CompiledRules:
        if self.policy is None or self.room is None:
            # No usable policy or no room for this device: nothing but a block-everything rule.
            return rules_from_patterns((), ("*",))
        return compile_rules(
            self.policy, room_id=self.room.id, objective_ids=objective_ids, extra_links=links
        )

    # ---- the one entry point ----

    def handle(self, event: Event, now: Now) -> list[Action]:
        out = self._check_clock(now) if not isinstance(event, AgentStarted) else []
        self._last = now
        match event:
            case AgentStarted():
                out += self._started(event, now)
            case TeacherUnlock():
                out += self._start(event.teacher_id, event.objective_ids, event.minutes, now, {})
            case RemoteStart():
                extra = {"source": "remote", "command_id": event.command_id}
                out += self._start(event.teacher_id, event.objective_ids, event.minutes, now, extra)
            case End():
                out += self._end(event.by, now, {})
            case RemoteEnd():
                out += self._end(event.teacher_id, now, {"command_id": event.command_id})
            case Extend():
                out += self._extend(event.by, event.minutes, now, {})
            case RemoteExtend():
                out += self._extend(
                    event.teacher_id, event.minutes, now, {"command_id": event.command_id}
                )
            case AddLink():
                out += self._add_link(event, now)
            case Tick():
                if self.session is not None and now.mono >= self.session.deadline:
                    out += self._close("expired", self.session.teacher_id, now)
            case PolicyUpdated():
                if event.room_id is not None:
                    self.room_override = event.room_id
                out += self._policy_updated(event.policy, now)
            case EnforcementFailed():
                out.append(Report("enforcement_failed", {"detail": event.detail}))
                if self.session is not None:
                    out += self._close("enforcement_failed", self.session.teacher_id, now)
        return out

    # ---- transitions ----

    def _changed(self, now: Now) -> list[Action]:
        return [ApplyPlan(self.plan()), Persist(snapshot(self.session, now)), UiChanged()]

    def _refuse(
        self, kind: str, teacher: str, error: str, extra: dict[str, Any], **details: str
    ) -> list[Action]:
        data = {"teacher_id": teacher, "request": kind, "error": error, **extra, **details}
        return [Report("request_rejected", data), Rejected(error, dict(details))]

    def _check_clock(self, now: Now) -> list[Action]:
        last = self._last
        if last is None or last.boot_id != now.boot_id:
            return []
        skew = now.wall - (last.wall + (now.mono - last.mono))
        if abs(skew) <= JUMP_TOLERANCE:
            return []
        out: list[Action] = [Report("clock_jumped", {"seconds": round(skew, 1)})]
        if self.session is not None:
            left = self.session.seconds_left(now.mono)
            self.session = replace(self.session, expires_at=now.wall + left)
            out += self._changed(now)
        return out

    def _started(self, event: AgentStarted, now: Now) -> list[Action]:
        room, policy = self.room, self.policy
        started = {
            "device_id": self.device_id,
            "room_id": room.id if room else None,
            "policy_version": policy.version if policy else None,
        }
        self.session, reports = restore(event.saved, event.problem, now)
        out: list[Action] = [Report("agent_started", started), *reports]
        return out + self._narrow_to_policy(now) + self._changed(now)

    def _start(
        self,
        teacher: str,
        objective_ids: tuple[str, ...],
        minutes: int | None,
        now: Now,
        extra: dict[str, Any],
    ) -> list[Action]:
        def refuse(error: str, **details: str) -> list[Action]:
            return self._refuse("start", teacher, error, extra, **details)

        if self.policy is None:
            return refuse("no_policy")
        if self.room is None:
            return refuse("no_room")
        if self.session is not None:
            return refuse("already_open")
        ids = tuple(dict.fromkeys(objective_ids))
        default, maximum = self.limits()
        minutes = default if minutes is None else minutes
        problem = start_problem(ids, {o.id for o in self.offered()}, minutes, maximum)
        if problem is not None:
            return refuse(problem.error, **problem.details)
        seconds = minutes * self.seconds_per_minute
        self.session = Session(
            id=self._new_id(),
            room_id=self.room.id,
            teacher_id=teacher,
            objective_ids=ids,
            started_at=now.wall,
            deadline=now.mono + seconds,
            expires_at=now.wall + seconds,
            boot_id=now.boot_id,
            source=str(extra.get("source", "device")),
        )
        report = Report(
            "session_started",
            {
                "session_id": self.session.id,
                "teacher_id": teacher,
                "room_id": self.room.id,
                "objective_ids": list(ids),
                "minutes": minutes,
                "expires_at": self.session.expires_at,
                **extra,
            },
        )
        return [report, *self._changed(now)]

    def _end(self, by: str, now: Now, extra: dict[str, Any]) -> list[Action]:
        if self.session is None:
            return self._refuse("end", by, "not_open", extra)
        return self._close("ended", by, now, extra)

    def _close(
        self, reason: str, by: str, now: Now, extra: dict[str, Any] | None = None
    ) -> list[Action]:
        s = self.session
        assert s is not None
        self.session = None
        data = {
            "session_id": s.id,
            "teacher_id": by,
            "session_teacher_id": s.teacher_id,
            "ended_by": by if reason == "ended" else reason,
            "reason": reason,
            "objective_ids": list(s.objective_ids),
            "links": len(s.links),
            **(extra or {}),
        }
        return [Report("session_ended", data), *self._changed(now)]

    def _extend(self, by: str, minutes: int, now: Now, extra: dict[str, Any]) -> list[Action]:
        s = self.session
        if s is None:
            return self._refuse("extend", by, "not_open", extra)
        left = s.seconds_left(now.mono)
        problem = extend_problem(left, minutes, self.limits()[1])
        if problem is not None:
            return self._refuse("extend", by, problem.error, extra, **problem.details)
        self.session = replace(
            s,
            deadline=s.deadline + minutes * self.seconds_per_minute,
            expires_at=now.wall + left + minutes * self.seconds_per_minute,
        )
        report = Report(
            "session_extended",
            {
                "session_id": s.id,
                "teacher_id": by,
                "minutes": minutes,
                "expires_at": self.session.expires_at,
                **extra,
            },
        )
        return [report, *self._changed(now)]

    def _add_link(self, event: AddLink, now: Now) -> list[Action]:
        s = self.session
        extra: dict[str, Any] = {}
        if s is None:
            return self._refuse("add_link", event.by, "not_open", extra)
        url = event.url.strip()
        if not is_page_url(url):
            return self._refuse("add_link", event.by, "bad_url", extra)
        objective = event.objective_id or s.objective_ids[0]
        if objective not in s.objective_ids:
            return self._refuse(
                "add_link", event.by, "unknown_objective", extra, objective=objective
            )
        link = ExtraLink(url, objective, event.by)
        links = s.links if link in s.links else (*s.links, link)
        verdict = self._rules(s.objective_ids, links).decide(url)
        if not verdict.allowed:
            return self._refuse("add_link", event.by, "blocked_by_district", {"url": url})
        self.session = replace(s, links=links)
        report = Report(
            "link_added",
            {"session_id": s.id, "teacher_id": event.by, "url": url, "objective_id": objective},
        )
        return [report, *self._changed(now)]

    def _set_policy(self, policy: Policy | None) -> None:
        self.policy = policy
        room_id = self.room_override
        if policy is None:
            self.room = None
        elif room_id is not None:
            self.room = policy.room(room_id)
        else:
            self.room = policy.room_for_device(self.device_id)

    def _policy_updated(self, policy: Policy, now: Now) -> list[Action]:
        self._set_policy(policy)
        out: list[Action] = [Report("policy_applied", {"policy_version": policy.version})]
        return out + self._narrow_to_policy(now) + self._changed(now)

    def _narrow_to_policy(self, now: Now) -> list[Action]:
        """Drops what the current policy no longer offers; closes if nothing is left."""
        s = self.session
        if s is None:
            return []
        if self.room is None or self.room.id != s.room_id:
            return self._close("policy_update", s.teacher_id, now)[:1]
        offered = {o.id for o in self.offered()}
        kept = tuple(o for o in s.objective_ids if o in offered)
        if not kept:
            return self._close("policy_update", s.teacher_id, now)[:1]
        out: list[Action] = []
        if kept != s.objective_ids:
            removed = [o for o in s.objective_ids if o not in offered]
            out.append(
                Report(
                    "session_narrowed",
                    {
                        "session_id": s.id,
                        "teacher_id": s.teacher_id,
                        "removed": removed,
                        "kept": list(kept),
                    },
                )
            )
        _, maximum = self.limits()
        left = min(s.seconds_left(now.mono), maximum * self.seconds_per_minute)
        self.session = replace(
            s,
            objective_ids=kept,
            links=tuple(x for x in s.links if x.objective_id in kept),
            deadline=now.mono + left,
            expires_at=now.wall + left,
        )
        return out
