"""The agent service: the one place where the pure session core meets files, clocks and enforcers.

`AgentService` feeds events to `SessionMachine` and carries out the actions it returns: plans go
to every enforcer, reports become `Event`s for the sinks (the local log; issue 6's outbox),
state is persisted atomically. It implements `agent.ui.controller.UiController` for the local UI
and offers the same operations to the CLI's control socket (`agent.control`) and, later, to the
server client (`remote_*`, `update_policy`).

Fail closed: if any enforcer fails to apply an open plan, the session is ended and the closed
plan is applied to all enforcers. Stopping the service applies the closed plan too, without
forgetting the session, so a quick restart resumes it (see `agent.session.resume`).

Only IT's disable code stops enforcement (`disable`): the record it leaves in the state folder
makes the service apply no plan at all, across restarts, until `enable` removes it.

Teacher PINs are checked outside the service lock (on the caller's thread, a worker thread when
the caller is the event loop), one check at a time on their own lock: argon2 and the server's
online check must not stall ticks, the UI or the control socket, and parallel guesses must not
slip past the lockout count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from typing import Any

from agent import enforcement as enforcement_setup
from agent import views
from agent.clock import Now, SystemClock
from agent.config import AgentConfig
from agent.enforce.base import Enforcer
from agent.enforce.processes import ProcessEvent
from agent.enforce.settings import EnforceSettings
from agent.events import Event, EventSink, JsonLinesLog
from agent.plan import EnforcementPlan, LockState
from agent.report.heartbeat import blocked_counts
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
from agent.session.messages import Event as SessionEvent
from agent.state_store import StateStore, ensure_private_dir
from agent.teacher_auth import ChainVerifier, FileVerifiers, TeacherAuth, VerifierSource
from agent.ui.controller import Outcome, TeacherView, UiView
from policies.errors import PolicyError
from policies.loader import load_policy
from policies.model import Policy

log = logging.getLogger(__name__)

TOKEN_SECONDS = 5 * 60


@dataclass
class _Token:
    staff_id: str
    until: float  # monotonic


@dataclass
class EnforcementStatus:
    note: str | None = None  # e.g. "no enforcement backends available: nothing is enforced"
    last_error: str | None = None
    backends: list[dict[str, Any]] = field(default_factory=list)


class AgentService:
    def __init__(
        self,
        config: AgentConfig,
        enforcers: Sequence[Enforcer] = (),
        *,
        clock: Callable[[], Now] | None = None,
        online_verifier: VerifierSource | None = None,
        sinks: Sequence[EventSink] | None = None,
        enforcers_note: str | None = None,
        initial_policy: Callable[[], tuple[Policy, str] | None] | None = None,
        enforce_settings: EnforceSettings | None = None,
    ) -> None:
        self.config = config
        self.enforcers = list(enforcers)
        self.clock = clock or SystemClock().now
        ensure_private_dir(config.state_dir)
        self.sinks: list[EventSink] = list(
            sinks if sinks is not None else [JsonLinesLog(config.state_dir / "events.jsonl")]
        )
        self.store = StateStore(config.state_dir)
        self.file_verifiers = FileVerifiers(config.teachers_file)
        sources: list[VerifierSource] = [online_verifier] if online_verifier else []
        self.verifier = ChainVerifier([*sources, self.file_verifiers])
        self.auth = TeacherAuth(self.verifier, config.state_dir / "pin_lockout.json")
        self.enforcement = EnforcementStatus(
            note=enforcers_note
            or (None if self.enforcers else "no enforcement backends: nothing is enforced")
        )
        self.policy_problem: str | None = None
        self.machine = SessionMachine(None, device_id=config.device_id, room_override=config.room)
        self.ui_url: str | None = None
        self._tokens: dict[str, _Token] = {}
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.RLock()
        self._auth_lock = threading.Lock()  # PIN and disable-code checks, one at a time
        # What `disable` hands to `agent.enforce.disable`; built from the config when not given.
        self.enforce_settings = enforce_settings or self._fallback_settings(config)
        self._started = False
        # Issue 6: the last good signed bundle and the room it names, used at start in place of
        # `policy_dir` and the configured room.
        self._initial_policy = initial_policy
        # Extra `status()` sections (the server client's "server"), and coroutines the runner
        # keeps running next to the tick loop until `stop` is set.
        self.status_sections: dict[str, Callable[[], Any]] = {}
        self.background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = []

    @staticmethod
    def _fallback_settings(config: AgentConfig) -> EnforceSettings:
        try:
            return enforcement_setup.enforce_settings(config, resolve_server=False)[0]
        except Exception:  # e.g. agent_user removed since: the service still starts, closed
            return EnforceSettings(
                enforce=config.enforce,
                proxy_port=config.proxy_port,
                state_dir=config.state_dir,
                disable_code_hash=config.disable_code_hash,
            )

    # ---- lifecycle -------------------------------------------------------------------------

    def startup(self) -> None:
        """Loads the policy and the saved state and applies the resulting plan. Idempotent."""
        with self._lock:
            if self._started:
                return
            self._started = True
            policy, room_id = self._load_policy()
            self.machine = SessionMachine(
                policy,
                device_id=self.config.device_id,
                room_override=room_id or self.config.room,
                seconds_per_minute=self.config.seconds_per_minute,
            )
            loaded = self.store.load()
            if self.auth.problem:
                self.report("state_corrupt", {"problem": self.auth.problem})
            self._handle(AgentStarted(saved=loaded.data, problem=loaded.problem))
            if self.policy_problem:
                self.report("policy_error", {"problem": self.policy_problem})

    def shutdown(self) -> None:
        """Closes the device without forgetting the session (a restart in time resumes it)."""
        with self._lock:
            self._apply(self.machine.closed_plan())

    async def run(self, stop: asyncio.Event | None = None, *, ui: bool = True) -> None:
        """Serves until `stop` is set or the task is cancelled: ticks, control socket, UI."""
        from agent.runner import run_service

        await run_service(self, stop or asyncio.Event(), ui=ui)

    def tick(self) -> None:
        with self._lock:
            self._handle(Tick())

    # ---- policy ------------------------------------------------------------------------------

    def _load_policy(self) -> tuple[Policy | None, str | None]:
        """The policy to start with, and the room a kept bundle places this device in."""
        if self._initial_policy is not None:
            found = self._initial_policy()
            if found is not None:
                self.policy_problem = None
                return found
        try:
            policy = load_policy(self.config.policy_dir)
        except (PolicyError, OSError) as e:
            self.policy_problem = f"{self.config.policy_dir}: {e}"
            return None, None
        self.policy_problem = None
        return policy, None

    def update_policy(self, policy: Policy, room_id: str | None = None) -> None:
        """A new, already validated policy (issue 6: a verified bundle, with the room the server
        placed this device in, which wins over the enrolled one); narrows a session."""
        with self._lock:
            self.policy_problem = None
            self._handle(PolicyUpdated(policy, room_id))

    def assign_room(self, room_id: str) -> None:
        """The room the server enrolled this device into; applies with the next policy."""
        with self._lock:
            if self.config.room is None:
                self.machine.room_override = room_id

    def reload_policy(self) -> str | None:
        """Re-reads `policy_dir`; on error keeps the current policy and returns the problem."""
        with self._lock:
            try:
                policy = load_policy(self.config.policy_dir)
            except (PolicyError, OSError) as e:
                problem = f"{self.config.policy_dir}: {e}"
                self.report("policy_error", {"problem": problem})
                return problem
            self.update_policy(policy)
            return None

    # ---- executing actions --------------------------------------------------------------------

    def _handle(self, event: SessionEvent) -> list[Rejected]:
        return self._execute(self.machine.handle(event, self.clock()))

    def _execute(self, actions: list[Action]) -> list[Rejected]:
        rejected: list[Rejected] = []
        for action in actions:
            match action:
                case ApplyPlan(plan=plan):
                    error = self._apply(plan)
                    if error is not None and plan.state is LockState.OPEN:
                        # Fail closed; the rest of this batch describes a state that is gone.
                        self._execute(self.machine.handle(EnforcementFailed(error), self.clock()))
                        return [*rejected, Rejected("enforcement_failed", {"detail": error})]
                    if error is not None:
                        self.report("enforcement_failed", {"detail": error, "plan": "closed"})
                case Report(type=kind, data=data):
                    self.report(kind, data)
                case Persist(data=data):
                    try:
                        self.store.save(data)
                    except (OSError, TypeError, ValueError) as e:
                        self.report("persist_failed", {"detail": str(e)})
                case UiChanged():
                    for listener in list(self._listeners):
                        with contextlib.suppress(Exception):
                            listener()
                case Rejected():
                    rejected.append(action)
        return rejected

    def _apply(self, plan: EnforcementPlan) -> str | None:
        """Applies to every enforcer; a closed plan is tried on all even if one fails."""
        if self.disabled() is not None:
            return None  # IT switched enforcement off with its code: nothing is applied
        errors: list[str] = []
        for enforcer in self.enforcers:
            try:
                enforcer.apply(plan)
            except Exception as e:  # any failure, not only EnforcementError: fail closed
                errors.append(f"{getattr(enforcer, 'name', enforcer)}: {e}")
                if plan.state is LockState.OPEN:
                    break
        if not errors:
            return None
        # Kept after later successes: status should still say why a session was closed.
        self.enforcement.last_error = "; ".join(errors)
        return self.enforcement.last_error

    def on_process_event(self, event: ProcessEvent) -> None:
        """The process watcher's findings (called on its thread): device state, not browsing."""
        self.report(*enforcement_setup.process_report(event))

    def report(self, type: str, data: dict[str, Any] | None = None) -> Event:
        """Records an event (also for enforcers and the server client)."""
        event = Event.new(type, data, at=self.clock().wall)
        for sink in self.sinks:
            try:
                sink.append(event)
            except Exception:
                log.exception("event sink %r failed", sink)
        return event

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Called (on the caller's thread) whenever what the UI shows has changed."""
        self._listeners.append(callback)

    # ---- UiController ---------------------------------------------------------------------------

    def view(self) -> UiView:
        with self._lock:
            notice = None
            if self.policy_problem:
                notice = "The policy could not be loaded; the device stays closed."
            elif self.machine.room is None:
                notice = "This device is not assigned to a room; it stays closed."
            return views.ui_view(self.machine, self.clock().mono, notice)

    def teacher_login(self, staff_id: str, pin: str) -> Outcome:
        """Blocks for the PIN check (argon2, maybe the server): async callers use a thread."""
        staff_id = staff_id.strip()
        if not staff_id:
            return Outcome(False, "empty_staff_id")
        with self._auth_lock:
            result = self.auth.check(staff_id, pin, self.clock())
        with self._lock:
            for kind, data in result.reports:
                self.report(kind, data)
            if not result.ok:
                return Outcome(False, result.error, retry_after=result.retry_after)
            token = secrets.token_urlsafe(24)
            now = self.clock().mono
            self._tokens = {k: v for k, v in self._tokens.items() if v.until > now}
            self._tokens[token] = _Token(staff_id, now + TOKEN_SECONDS)
            return Outcome(True, token=token)

    def _teacher(self, token: str) -> str | None:
        entry = self._tokens.get(token)
        if entry is None or entry.until <= self.clock().mono:
            return None
        return entry.staff_id

    def teacher_view(self, token: str) -> TeacherView | None:
        with self._lock:
            return views.teacher_view(self.machine) if self._teacher(token) else None

    def _as_teacher(self, token: str, make: Callable[[str], SessionEvent]) -> Outcome:
        with self._lock:
            teacher = self._teacher(token)
            if teacher is None:
                return Outcome(False, "not_signed_in")
            return self._outcome(self._handle(make(teacher)))

    def _outcome(self, rejected: list[Rejected]) -> Outcome:
        if rejected:
            return Outcome(False, rejected[0].error, details=rejected[0].details)
        s = self.machine.session
        return Outcome(True, details={"session_id": s.id} if s else {})

    def start(self, token: str, objective_ids: list[str], minutes: int) -> Outcome:
        return self._as_teacher(token, lambda t: TeacherUnlock(t, tuple(objective_ids), minutes))

    def end(self, token: str) -> Outcome:
        return self._as_teacher(token, lambda t: End(t))

    def extend(self, token: str, minutes: int) -> Outcome:
        return self._as_teacher(token, lambda t: Extend(t, minutes))

    def add_link(self, token: str, url: str) -> Outcome:
        return self._as_teacher(token, lambda t: AddLink(t, url))

    # ---- CLI and server --------------------------------------------------------------------------

    def local_unlock(
        self, staff_id: str, pin: str, objective_ids: list[str], minutes: int | None
    ) -> Outcome:
        """PIN + start in one step (the CLI's `unlock`); blocks for the PIN check."""
        login = self.teacher_login(staff_id, pin)
        if not login.ok or login.token is None:
            return login
        with self._lock:
            minutes = minutes if minutes is not None else self.machine.limits()[0]
            return self.start(login.token, objective_ids, minutes)

    def local_end(self, by: str) -> Outcome:
        """The CLI's `end`: whoever can reach the root-only control socket may end a session."""
        with self._lock:
            return self._outcome(self._handle(End(by)))

    def remote_start(
        self, command_id: str, teacher_id: str, objective_ids: list[str], minutes: int | None
    ) -> Outcome:
        with self._lock:
            event = RemoteStart(command_id, teacher_id, tuple(objective_ids), minutes)
            return self._outcome(self._handle(event))

    def remote_end(self, command_id: str, teacher_id: str) -> Outcome:
        with self._lock:
            return self._outcome(self._handle(RemoteEnd(command_id, teacher_id)))

    def remote_extend(self, command_id: str, teacher_id: str, minutes: int) -> Outcome:
        with self._lock:
            return self._outcome(self._handle(RemoteExtend(command_id, teacher_id, minutes)))

    # ---- IT's disable code -----------------------------------------------------------------------

    def disabled(self) -> dict[str, Any] | None:
        return enforcement_setup.disabled_since(self.config.state_dir)

    def _code_settings(self) -> EnforceSettings:
        policy = self.machine.policy
        code_hash = self.config.disable_code_hash or (
            policy.district.disable_code_hash if policy is not None else None
        )
        return _replace(self.enforce_settings, disable_code_hash=code_hash)

    def disable(self, code: str, by: str) -> Outcome:
        """`lessongate-agent disable`: with IT's code, stop enforcing until `enable`. Blocks for
        the argon2 check. The code itself is never reported."""
        from agent.enforce import check_code

        settings = self._code_settings()
        with self._auth_lock:
            ok = check_code(settings, code)
        if not ok:
            reason = "wrong_code" if settings.disable_code_hash else "no_disable_code"
            self.report("disable_refused", {"by": by, "reason": reason})
            return Outcome(False, reason)
        with self._lock:
            enforcement_setup.mark_disabled(self.config.state_dir, self.clock().wall, by)
            problems = []
            for enforcer in reversed(self.enforcers):
                try:
                    enforcer.revert()
                except Exception as e:
                    problems.append(f"{getattr(enforcer, 'name', enforcer)}: {e}")
            self.report("enforcement_disabled", {"by": by, "problems": problems})
            self._execute([UiChanged()])
            return Outcome(True, details={"problems": "; ".join(problems)} if problems else {})

    def enable(self, by: str) -> Outcome:
        """Removes the disable record and applies the current plan again."""
        with self._lock:
            if enforcement_setup.clear_disabled(self.config.state_dir):
                self.report("enforcement_enabled", {"by": by})
            rejected = self._execute([ApplyPlan(self.machine.plan()), UiChanged()])
            return self._outcome(rejected)

    def status(self) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            out = views.status(self.machine, now.mono)
            backends = []
            for enforcer in self.enforcers:
                try:
                    h = enforcer.health()
                    backends.append({"name": h.backend, "ok": h.ok, "detail": h.detail})
                except Exception as e:
                    backends.append(
                        {"name": getattr(enforcer, "name", "?"), "ok": False, "detail": str(e)}
                    )
            disabled = self.disabled()
            note = self.enforcement.note
            if self.config.seconds_per_minute != 60:
                note = f"TEST HOOK: a session minute lasts {self.config.seconds_per_minute} s"
            if disabled is not None:
                note = (
                    "disabled with IT's code (by "
                    f"{disabled.get('by', '?')}): nothing is enforced until "
                    "`lessongate-agent enable`"
                )
            out.update(
                enforce=self.config.enforce,
                disabled=disabled,
                enforcement={
                    "mode": "disabled"
                    if disabled is not None
                    else ("enforce" if self.config.enforce else "safe"),
                    "backends": backends,
                    "note": note,
                    "last_error": self.enforcement.last_error,
                },
                policy_problem=self.policy_problem,
                # Per host name, this session only: device state for the teacher, no URLs.
                blocked_counts=blocked_counts(self.enforcers),
                pin_locked_for=self.auth.retry_after(now),
                verifier_problem=self.file_verifiers.problem,
                ui_url=self.ui_url,
                state_dir=str(self.config.state_dir),
            )
            for name, section in self.status_sections.items():
                try:
                    out[name] = section()
                except Exception as e:
                    out[name] = {"error": str(e)}
            return out
