"""An in-memory UiController: the seam between the UI and the agent service, faked.

It keeps the rules the UI must show the results of (PIN check with a lock-out, objectives of
the room, a maximum length) and records what was asked of it, so tests can check both what a
person sees and what reached the agent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agent.ui.controller import ObjectiveChoice, Outcome, ResourceCard, TeacherView, UiView

STAFF_ID = "t-100"
PIN = "2468"
LOCK_AFTER = 3
LOCK_SECONDS = 30

CHOICES = (
    ObjectiveChoice("sci-3-space", "The solar system", "Science"),
    ObjectiveChoice("sci-3-weather", "Weather and seasons", "Science"),
    ObjectiveChoice("math-3-fractions", "Fractions on a number line", "Mathematics"),
    ObjectiveChoice("read-3-folk", "Folk tales from many places", "Reading"),
)
RESOURCES = {
    "sci-3-space": (
        ResourceCard("NASA Space Place", "https://spaceplace.nasa.gov/", "spaceplace.nasa.gov", ""),
        ResourceCard("Planets for kids", "https://planets.example.org/", "planets.example.org", ""),
    ),
    "sci-3-weather": (
        ResourceCard("Weather Wiz", "https://weather.example.org/", "weather.example.org", ""),
    ),
    "math-3-fractions": (
        ResourceCard("Fraction bars", "https://math.example.org/bars", "math.example.org", ""),
    ),
    "read-3-folk": (),
}


@dataclass
class FakeController:
    room_id: str = "lab-3a"
    room_name: str = "Lab 3A"
    default_minutes: int = 40
    max_minutes: int = 60
    failures: int = 0
    tokens: set[str] = field(default_factory=set)
    open_ids: list[str] = field(default_factory=list)
    minutes_left: int = 0
    links: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def view(self) -> UiView:
        if not self.open_ids:
            return UiView(state="closed", room_id=self.room_id, room_name=self.room_name)
        choices = tuple(c for c in CHOICES if c.id in self.open_ids)
        cards = [
            ResourceCard(r.title, r.url, r.site, oid)
            for oid in self.open_ids
            for r in RESOURCES[oid]
        ]
        cards += [
            ResourceCard(url, url, urlsplit(url).hostname or url, self.open_ids[0])
            for url in self.links
        ]
        return UiView(
            state="open",
            room_id=self.room_id,
            room_name=self.room_name,
            objectives=choices,
            resources=tuple(cards),
            teacher=STAFF_ID,
            expires_at=None,
            seconds_left=self.minutes_left * 60,
        )

    def teacher_login(self, staff_id: str, pin: str) -> Outcome:
        self.calls.append(f"login {staff_id}")
        if self.failures >= LOCK_AFTER:
            return Outcome(ok=False, error="locked", retry_after=LOCK_SECONDS)
        if staff_id != STAFF_ID or pin != PIN:
            self.failures += 1
            return Outcome(ok=False, error="wrong_pin")
        self.failures = 0
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return Outcome(ok=True, token=token)

    def teacher_view(self, token: str) -> TeacherView | None:
        if token not in self.tokens:
            return None
        return TeacherView(CHOICES, self.default_minutes, self.max_minutes)

    def start(self, token: str, objective_ids: list[str], minutes: int) -> Outcome:
        self.calls.append(f"start {','.join(objective_ids)} {minutes}")
        if token not in self.tokens:
            return Outcome(ok=False, error="not_signed_in")
        if self.open_ids:
            return Outcome(ok=False, error="already_open")
        known = {c.id for c in CHOICES}
        unknown = [i for i in objective_ids if i not in known]
        if unknown:
            return Outcome(ok=False, error="unknown_objective", details={"objective": unknown[0]})
        if minutes > self.max_minutes:
            return Outcome(ok=False, error="too_long", details={"max": str(self.max_minutes)})
        self.open_ids = list(objective_ids)
        self.minutes_left = minutes
        return Outcome(ok=True)

    def end(self, token: str) -> Outcome:
        self.calls.append("end")
        if token not in self.tokens:
            return Outcome(ok=False, error="not_signed_in")
        if not self.open_ids:
            return Outcome(ok=False, error="not_open")
        self.open_ids = []
        self.links = []
        return Outcome(ok=True)

    def extend(self, token: str, minutes: int) -> Outcome:
        self.calls.append(f"extend {minutes}")
        if not self.open_ids:
            return Outcome(ok=False, error="not_open")
        if self.minutes_left + minutes > self.max_minutes:
            return Outcome(ok=False, error="too_long", details={"max": str(self.max_minutes)})
        self.minutes_left += minutes
        return Outcome(ok=True)

    def add_link(self, token: str, url: str) -> Outcome:
        self.calls.append(f"link {url}")
        if not self.open_ids:
            return Outcome(ok=False, error="not_open")
        if "blocked.example" in url:
            return Outcome(ok=False, error="blocked_by_district")
        self.links.append(url)
        return Outcome(ok=True)
