"""The rules a teacher's request must meet, as plain functions of the numbers involved."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from agent.session.messages import Rejected
from policies.urlrules import PatternError, parse_pattern


def start_problem(
    ids: tuple[str, ...], offered: Collection[str], minutes: int, maximum: int
) -> Rejected | None:
    if not ids:
        return Rejected("no_objectives")
    unknown = [i for i in ids if i not in offered]
    if unknown:
        return Rejected("unknown_objective", {"objective": unknown[0]})
    if minutes < 1:
        return Rejected("bad_minutes")
    if minutes > maximum:
        return Rejected("too_long", {"max": str(maximum)})
    return None


def extend_problem(seconds_left: float, minutes: int, maximum: int) -> Rejected | None:
    """The time left after extending may not exceed the band's maximum session length."""
    if minutes < 1:
        return Rejected("bad_minutes")
    if seconds_left + minutes * 60 > maximum * 60:
        room = max(0, int((maximum * 60 - seconds_left) // 60))
        return Rejected("too_long", {"max": str(room)})
    return None


def is_page_url(url: str) -> bool:
    """A teacher's link must name one web page: http(s), a dotted host, no wildcards."""
    if "*" in url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parse_pattern(url)
    except (ValueError, PatternError):
        return False
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and "." in host.strip(".")
