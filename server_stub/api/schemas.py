"""Request and response bodies of the device API; these models are the OpenAPI schema.

Requests forbid unknown fields, so a misspelt field is a 422 naming it rather than silently lost.
Nothing here carries a URL: devices report host-name counts, never what a student looked at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
HostName = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9._-]+$")
]
Pin = Annotated[str, StringConstraints(min_length=4, max_length=12, pattern=r"^[0-9]+$")]
MAX_BLOCKED_HOSTS = 500
MAX_EVENTS = 500
# Event data keys that could only carry browsing history; refused outright.
FORBIDDEN_EVENT_KEYS = frozenset({"url", "urls", "path", "query", "title", "page", "history"})


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrollRequest(_Request):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    hostname: Name
    # The name the policy lists the device under (Room.devices); defaults to the host name.
    device_name: Ident | None = None
    agent_version: Annotated[str, StringConstraints(max_length=50)] = ""
    os: Annotated[str, StringConstraints(max_length=100)] = ""


class EnrollResponse(BaseModel):
    device_id: str
    device_token: str = Field(description="Send as `Authorization: Bearer <token>`; shown once.")
    room_id: str | None
    school: str | None
    signing_public_key: str = Field(description="Ed25519 public key, 32 raw bytes, base64.")
    signing_key_id: str
    heartbeat_interval_s: int


class SessionState(_Request):
    objectives: list[Ident] = Field(max_length=50)
    teacher_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    started_at: AwareDatetime | None = None
    expires_at: AwareDatetime


class Health(_Request):
    ok: bool
    problems: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=20
    )


class Heartbeat(_Request):
    lock_state: Literal["closed", "open"]
    session: SessionState | None = None
    policy_version: Annotated[str, StringConstraints(max_length=100)] | None = None
    health: Health
    agent_version: Annotated[str, StringConstraints(max_length=50)]
    uptime_s: int = Field(ge=0, le=10**9)
    cpu_percent: float = Field(ge=0, le=100 * 256)
    memory_percent: float = Field(ge=0, le=100)
    blocked_counts: dict[HostName, Annotated[int, Field(ge=0, le=10**9)]] = Field(
        default_factory=dict, description="Blocked attempts per host name; host names only."
    )

    @field_validator("blocked_counts")
    @classmethod
    def _bounded(cls, v: dict[str, int]) -> dict[str, int]:
        if len(v) > MAX_BLOCKED_HOSTS:
            raise ValueError(f"at most {MAX_BLOCKED_HOSTS} host names")
        return v


class HeartbeatResponse(BaseModel):
    server_time: datetime
    heartbeat_interval_s: int
    room_id: str | None
    policy_version: str | None = Field(description="Fetch /api/v1/policy when this differs.")


Scalar = str | int | float | bool | None


class Event(_Request):
    id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    type: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")
    ]
    at: AwareDatetime
    data: dict[Annotated[str, StringConstraints(max_length=64)], Scalar | list[Scalar]] = Field(
        default_factory=dict, max_length=50
    )

    @field_validator("data")
    @classmethod
    def _no_browsing_history(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(FORBIDDEN_EVENT_KEYS & {k.lower() for k in v})
        if bad:
            raise ValueError(f"event data must not carry browsing history: {', '.join(bad)}")
        return v


class EventBatch(_Request):
    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS)


class EventBatchResponse(BaseModel):
    accepted: list[str] = Field(description="Event ids stored by this request.")
    duplicates: list[str] = Field(description="Event ids the server already had; not stored again.")


class PolicyBundleResponse(BaseModel):
    room_id: str
    version: str
    key_id: str
    signature: str = Field(
        description="base64 Ed25519 signature over policies.bundle.canonical_json(bundle)."
    )
    bundle: dict[str, Any]


class CommandOut(BaseModel):
    id: int = Field(description="Also the cursor: pass the last id seen as `after`.")
    kind: Literal["start", "end", "extend"]
    room_id: str
    objectives: list[str]
    minutes: int | None
    teacher_id: str
    teacher_name: str
    issued_at: datetime
    ends_at: datetime | None = Field(description="When the session ends (start and extend).")


class CommandsResponse(BaseModel):
    cursor: int
    commands: list[CommandOut]


class PinCheckRequest(_Request):
    teacher_id: Ident
    pin: Pin


class PinCheckResponse(BaseModel):
    ok: Literal[True]
    teacher_id: str
    teacher_name: str


class Verifier(BaseModel):
    teacher_id: str
    teacher_name: str
    pin_hash: str = Field(description="argon2id (PHC string) of the teacher's PIN.")


class VerifiersResponse(BaseModel):
    room_id: str | None
    generated_at: datetime
    verifiers: list[Verifier]


class ErrorResponse(BaseModel):
    detail: str
