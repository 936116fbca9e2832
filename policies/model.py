"""The district policy as data: what `loader` builds from the TOML files and everything else reads.

The models are frozen and forbid unknown keys, so a typo in a policy file is an error rather than
a silently ignored setting. URL rules are kept as the pattern text IT wrote; `loader` has already
checked each one with `urlrules.parse_pattern`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Chrome refuses URLAllowlist/URLBlocklist policies with more entries than this.
MAX_LIST_ENTRIES = 1000

BandId = Annotated[str, StringConstraints(pattern=r"^(K|[0-9]{1,2})-[0-9]{1,2}$")]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
PatternText = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Minutes = Annotated[int, Field(ge=1, le=24 * 60)]
# A program name ("tor", "psiphon*") or an executable path glob ("/opt/*/tor",
# "*/FirefoxPortable/*", "C:\\Tools\\*.exe"); fnmatch globs, names compared without case
# (see agent.enforce.processes).
ProcessRule = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=512,
        pattern=r"^(?:/[^\x00]+|\*/[^\x00]+|[A-Za-z]:\\[^\x00]+|[^/\\\x00\s][^/\\\x00]*)$",
    ),
]
# The PHC string argon2-cffi writes: "$argon2id$v=19$m=...,t=...,p=...$salt$hash".
Argon2idHash = Annotated[
    str,
    StringConstraints(
        max_length=512,
        pattern=r"^\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$",
    ),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class BandMode(StrEnum):
    SUPERVISED = "supervised"  # closed except during a teacher's session (K-5 in the AUP)
    FILTERED = "filtered"  # always on, district blocklist applies
    OPEN = "open"  # always on, only the locked never_allow list applies


class GradeBand(_Frozen):
    id: BandId
    mode: BandMode
    max_session_minutes: Minutes = 60
    default_session_minutes: Minutes = 40


class District(_Frozen):
    name: Text
    aup_renewal_grades: tuple[int, ...] = (3, 6, 9)
    bands: tuple[GradeBand, ...]
    # Reachable in every state, session or not: sign-in, the district LMS.
    always_allow: tuple[PatternText, ...] = ()
    # Locked: no teacher, objective or always_allow entry can open these.
    never_allow: tuple[PatternText, ...] = ()
    # Applied to bands in `filtered` mode.
    blocklist: tuple[PatternText, ...] = ()
    # Programs the agent ends on sight, closed or in a session (VPN clients, Tor, portable or
    # unmanaged browsers): they would route around the proxy and the browser policies.
    denied_processes: tuple[ProcessRule, ...] = ()
    # argon2id hash of the IT code that `lessongate-agent disable --code` checks; None: only a
    # device whose agent config carries one can be disabled (make one with `hash-code`).
    disable_code_hash: Argon2idHash | None = None

    def band(self, band_id: str) -> GradeBand | None:
        return next((b for b in self.bands if b.id == band_id), None)


class Room(_Frozen):
    id: Identifier
    name: Text
    school: Text
    band: BandId
    devices: tuple[Identifier, ...] = ()


class Resource(_Frozen):
    title: Text
    url: PatternText
    # Extra patterns for what the page needs to load (CDNs, video hosts).
    assets: tuple[PatternText, ...] = ()
    # When set, the grade bands this resource is suitable for; it must include its objective's band.
    bands: tuple[BandId, ...] = ()


class Objective(_Frozen):
    id: Identifier
    title: Text
    band: BandId
    subject: Text
    resources: tuple[Resource, ...] = Field(min_length=1)
    # When set, the objective is offered only in these rooms; otherwise in every room of its band.
    rooms: tuple[Identifier, ...] = ()


class Policy(_Frozen):
    district: District
    rooms: tuple[Room, ...]
    objectives: tuple[Objective, ...]
    # Content hash of the source files, so two loads of the same policy carry the same version.
    version: str

    def room(self, room_id: str) -> Room | None:
        return next((r for r in self.rooms if r.id == room_id), None)

    def objective(self, objective_id: str) -> Objective | None:
        return next((o for o in self.objectives if o.id == objective_id), None)

    def room_for_device(self, device_id: str) -> Room | None:
        return next((r for r in self.rooms if device_id in r.devices), None)

    def objectives_for_room(self, room_id: str) -> tuple[Objective, ...]:
        room = self.room(room_id)
        if room is None:
            return ()
        return tuple(
            o
            for o in self.objectives
            if o.band == room.band and (not o.rooms or room.id in o.rooms)
        )
