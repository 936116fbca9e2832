"""What students, teachers and `status` see, built from the session machine's state.

Kept apart from the service so the service stays the I/O wiring and these stay plain functions.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from agent.session import SessionMachine
from agent.ui.controller import ObjectiveChoice, ResourceCard, TeacherView, UiView


def card_url(pattern: str) -> str:
    """A clickable URL for a resource pattern: `.nasa.gov/x` -> `https://nasa.gov/x`."""
    text = pattern if "://" in pattern else "https://" + pattern
    parts = urlsplit(text.replace("*.", "").replace("*", ""))
    host = (parts.hostname or "").lstrip(".")
    port = f":{parts.port}" if parts.port else ""
    scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
    return f"{scheme}://{host}{port}{parts.path or '/'}" + (
        f"?{parts.query}" if parts.query else ""
    )


def site_of(url: str) -> str:
    return urlsplit(url).hostname or url


def choices(
    machine: SessionMachine, ids: tuple[str, ...] | None = None
) -> tuple[ObjectiveChoice, ...]:
    objectives = machine.offered()
    if ids is not None:
        by_id = {o.id: o for o in objectives}
        objectives = tuple(by_id[i] for i in ids if i in by_id)
    return tuple(ObjectiveChoice(o.id, o.title, o.subject) for o in objectives)


def teacher_view(machine: SessionMachine) -> TeacherView:
    default, maximum = machine.limits()
    return TeacherView(choices(machine), default, maximum)


def ui_view(machine: SessionMachine, mono: float, notice: str | None) -> UiView:
    room = machine.room
    s = machine.session
    room_id, room_name = (room.id, room.name) if room else ("", "")
    if s is None:
        return UiView(state="closed", room_id=room_id, room_name=room_name, notice=notice)
    by_id = {o.id: o for o in machine.offered()}
    cards: list[ResourceCard] = []
    for oid in s.objective_ids:
        for res in by_id[oid].resources if oid in by_id else ():
            url = card_url(res.url)
            cards.append(ResourceCard(res.title, url, site_of(url), oid))
    for link in s.links:
        cards.append(
            ResourceCard(site_of(link.url), link.url, site_of(link.url), link.objective_id)
        )
    return UiView(
        state="open",
        objectives=choices(machine, s.objective_ids),
        resources=tuple(cards),
        teacher=s.teacher_id,
        expires_at=s.expires_at,
        seconds_left=int(s.seconds_left(mono)),
        room_id=room_id,
        room_name=room_name,
        notice=notice,
    )


def status(machine: SessionMachine, mono: float) -> dict[str, Any]:
    s = machine.session
    policy = machine.policy
    return {
        "state": "open" if s else "closed",
        "session_id": s.id if s else None,
        "objectives": list(s.objective_ids) if s else [],
        "teacher": s.teacher_id if s else None,
        "room": machine.room.id if machine.room else None,
        "room_name": machine.room.name if machine.room else None,
        "device_id": machine.device_id,
        "expires_at": s.expires_at if s else None,
        "seconds_left": int(s.seconds_left(mono)) if s else None,
        "links": [link.url for link in s.links] if s else [],
        "policy_version": policy.version if policy else None,
    }
