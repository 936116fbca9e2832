"""What goes into the session machine (events), what comes out (actions), and the session record.

Events and actions are plain frozen dataclasses so a test reads as a script: this event in,
these actions out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.plan import EnforcementPlan
from policies.compiler import ExtraLink
from policies.model import Policy

# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentStarted:
    saved: dict[str, Any] | None = None  # what the last Persist action carried, if any
    problem: str | None = None  # the state file was unreadable (the device comes up closed)


@dataclass(frozen=True)
class TeacherUnlock:
    teacher_id: str
    objective_ids: tuple[str, ...]
    minutes: int | None = None  # None: the band's default


@dataclass(frozen=True)
class End:
    by: str  # teacher id, or e.g. "cli:uid=0"


@dataclass(frozen=True)
class Extend:
    by: str
    minutes: int


@dataclass(frozen=True)
class AddLink:
    by: str
    url: str
    objective_id: str | None = None  # None: the session's first objective


@dataclass(frozen=True)
class RemoteStart:
    command_id: str
    teacher_id: str
    objective_ids: tuple[str, ...]
    minutes: int | None = None


@dataclass(frozen=True)
class RemoteEnd:
    command_id: str
    teacher_id: str


@dataclass(frozen=True)
class RemoteExtend:
    command_id: str
    teacher_id: str
    minutes: int


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class PolicyUpdated:
    policy: Policy
    # Where the server placed this device (a signed bundle names its room); None keeps it.
    room_id: str | None = None


@dataclass(frozen=True)
class EnforcementFailed:
    detail: str


Event = (
    AgentStarted
    | TeacherUnlock
    | End
    | Extend
    | AddLink
    | RemoteStart
    | RemoteEnd
    | RemoteExtend
    | Tick
    | PolicyUpdated
    | EnforcementFailed
)

# ---- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyPlan:
    plan: EnforcementPlan


@dataclass(frozen=True)
class Report:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Persist:
    data: dict[str, Any]


@dataclass(frozen=True)
class UiChanged:
    pass


@dataclass(frozen=True)
class Rejected:
    """The request was refused; `error` is one of the UI's codes (see agent.ui.controller)."""

    error: str
    details: dict[str, str] = field(default_factory=dict)


Action = ApplyPlan | Report | Persist | UiChanged | Rejected

# ---- the open session ---------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    id: str
    room_id: str
    teacher_id: str
    objective_ids: tuple[str, ...]
    started_at: float  # wall clock
    deadline: float  # monotonic clock of boot `boot_id`: the authority on expiry
    expires_at: float  # wall clock, kept equal to what the deadline means, for display
    boot_id: str
    links: tuple[ExtraLink, ...] = ()
    source: str = "device"  # or "remote"

    def seconds_left(self, mono: float) -> float:
        return max(0.0, self.deadline - mono)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room_id": self.room_id,
            "teacher_id": self.teacher_id,
            "objective_ids": list(self.objective_ids),
            "started_at": self.started_at,
            "deadline": self.deadline,
            "expires_at": self.expires_at,
            "boot_id": self.boot_id,
            "links": [
                {"url": x.url, "objective_id": x.objective_id, "teacher_id": x.teacher_id}
                for x in self.links
            ],
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Session:
        """Raises KeyError/TypeError/ValueError on anything malformed."""
        ids = raw["objective_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise TypeError("objective_ids must be a list of strings")
        return cls(
            id=str(raw["id"]),
            room_id=str(raw["room_id"]),
            teacher_id=str(raw["teacher_id"]),
            objective_ids=tuple(ids),
            started_at=float(raw["started_at"]),
            deadline=float(raw["deadline"]),
            expires_at=float(raw["expires_at"]),
            boot_id=str(raw["boot_id"]),
            links=tuple(
                ExtraLink(str(x["url"]), str(x["objective_id"]), str(x["teacher_id"]))
                for x in raw.get("links", [])
            ),
            source=str(raw.get("source", "device")),
        )
