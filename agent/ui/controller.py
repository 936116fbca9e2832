"""What the local UI needs from the agent, written down so the UI and the service cannot drift.

The UI never touches the session state machine directly: every request goes through this
protocol, which `agent.service.AgentService` implements, so a teacher action from the UI obeys
exactly the same rules as one from the CLI or the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ResourceCard:
    title: str
    url: str
    site: str  # the host name students see, e.g. "spaceplace.nasa.gov"
    objective_id: str


@dataclass(frozen=True)
class ObjectiveChoice:
    id: str
    title: str
    subject: str


@dataclass(frozen=True)
class UiView:
    state: str  # "closed" | "open"
    room_id: str
    room_name: str
    objectives: tuple[ObjectiveChoice, ...] = ()  # of the running session
    resources: tuple[ResourceCard, ...] = ()
    teacher: str | None = None
    expires_at: float | None = None  # wall clock, for display only
    seconds_left: int | None = None
    notice: str | None = None  # e.g. "policy could not be loaded; the device stays closed"


@dataclass(frozen=True)
class TeacherView:
    """What a teacher sees after a correct PIN: the room's objectives and the duration limits."""

    choices: tuple[ObjectiveChoice, ...]
    default_minutes: int
    max_minutes: int


@dataclass(frozen=True)
class Outcome:
    ok: bool
    # A short machine-readable code the UI turns into words in the student's language:
    # "wrong_pin", "locked", "unknown_objective", "too_long", "not_open", "blocked_by_district", ...
    error: str | None = None
    retry_after: int | None = None  # seconds, when the PIN prompt is locked
    token: str | None = None  # teacher token after a correct PIN, for the following actions
    details: dict[str, str] = field(default_factory=dict)


class UiController(Protocol):
    def view(self) -> UiView: ...

    def teacher_login(self, staff_id: str, pin: str) -> Outcome:
        """Check the PIN; on success `token` authorises the calls below for a few minutes."""

    def teacher_view(self, token: str) -> TeacherView | None: ...

    def start(self, token: str, objective_ids: list[str], minutes: int) -> Outcome: ...

    def end(self, token: str) -> Outcome: ...

    def extend(self, token: str, minutes: int) -> Outcome: ...

    def add_link(self, token: str, url: str) -> Outcome: ...
