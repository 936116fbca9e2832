"""Checks that span entries and files: ids, references between them, URL patterns, list sizes.

Each check takes the entries that passed type validation, with the place they came from, so a
problem in one entry never hides problems in the others. References are resolved against every id
written in the files (even of entries with other errors), so one typo does not cascade into a
"missing room" error for everything that names that room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeGuard, TypeVar
from urllib.parse import urlsplit

from policies import urlrules
from policies._keylines import KeyPath
from policies._source import IssueLog, SourceFile
from policies.model import MAX_LIST_ENTRIES, District, GradeBand, Objective, Room

T = TypeVar("T")

# PatternText's limit in the model; longer strings are reported by type validation.
MAX_PATTERN_CHARS = 2048


@dataclass(frozen=True)
class Placed(Generic[T]):
    """A validated entry and where it was written (`path` is e.g. `("objective", 3)`)."""

    source: SourceFile
    path: KeyPath
    item: T


def where(placed: Placed[T]) -> str:
    line = placed.source.lines.get(placed.path)
    return f"{placed.source.name}:{line}" if line else placed.source.name


def check_bands(bands: Sequence[Placed[GradeBand]], log: IssueLog) -> None:
    seen: dict[str, Placed[GradeBand]] = {}
    for placed in bands:
        band = placed.item
        if band.id in seen:
            log.add(
                placed.source,
                (*placed.path, "id"),
                f"band '{band.id}' is defined twice (first at {where(seen[band.id])})",
                "remove or rename one of them",
            )
        seen.setdefault(band.id, placed)
        if band.default_session_minutes > band.max_session_minutes:
            log.add(
                placed.source,
                (*placed.path, "default_session_minutes"),
                f"{band.default_session_minutes} minutes is longer than this band's "
                f"max_session_minutes ({band.max_session_minutes})",
                "lower default_session_minutes or raise max_session_minutes",
            )


def check_district(placed: Placed[District], log: IssueLog) -> None:
    for n, grade in enumerate(placed.item.aup_renewal_grades):
        if not 1 <= grade <= 12:
            log.add(
                placed.source, ("aup_renewal_grades", n), f"{grade} is not a grade", "use 1 to 12"
            )


def check_district_patterns(source: SourceFile, data: dict[str, Any], log: IssueLog) -> None:
    """The URL lists of district.toml, checked even when other keys of the file are wrong."""
    for key in ("always_allow", "never_allow", "blocklist"):
        check_patterns(source, (key,), data.get(key), log)
    # The browser gets URLBlocklist = ["*", *never_allow] (+ blocklist in filtered bands).
    never = _count(data.get("never_allow"))
    _check_size(source, ("always_allow",), _count(data.get("always_allow")), log)
    _check_size(source, ("never_allow",), 1 + never, log)
    _check_size(source, ("blocklist",), 1 + never + _count(data.get("blocklist")), log)


def check_objective_patterns(
    source: SourceFile, path: KeyPath, table: dict[str, Any], always_allow: int, log: IssueLog
) -> None:
    """Resource URLs and assets of one [[objective]] table, checked even if other keys are wrong."""
    resources = table.get("resources")
    if not isinstance(resources, list):
        return
    patterns = 0
    for n, resource in enumerate(resources):
        if not isinstance(resource, dict):
            continue
        url = resource.get("url")
        if _is_pattern_text(url):
            _check_resource_url(source, (*path, "resources", n, "url"), url, log)
        check_patterns(source, (*path, "resources", n, "assets"), resource.get("assets"), log)
        patterns += 1 + _count(resource.get("assets"))
    if always_allow + patterns > MAX_LIST_ENTRIES:
        log.add(
            source,
            path,
            f"a session for this objective needs {always_allow + patterns} allow rules "
            f"(always_allow + resources + assets); browsers accept at most {MAX_LIST_ENTRIES}",
            "split it into several objectives or use broader patterns",
        )


def check_rooms(rooms: Sequence[Placed[Room]], band_ids: set[str] | None, log: IssueLog) -> None:
    seen: dict[str, Placed[Room]] = {}
    device_rooms: dict[str, Placed[Room]] = {}
    for placed in rooms:
        room, source = placed.item, placed.source
        if room.id in seen:
            log.add(
                source,
                (*placed.path, "id"),
                f"room '{room.id}' is defined twice (first at {where(seen[room.id])})",
                "give each room its own id",
            )
        seen.setdefault(room.id, placed)
        if band_ids is not None and room.band not in band_ids:
            log.add(
                source,
                (*placed.path, "band"),
                f"band '{room.band}' is not defined in district.toml",
                _one_of(band_ids),
            )
        for n, device in enumerate(room.devices):
            other = device_rooms.setdefault(device, placed)
            if other is not placed:
                log.add(
                    source,
                    (*placed.path, "devices", n),
                    f"device '{device}' is already in room '{other.item.id}' ({where(other)})",
                    "a device belongs to exactly one room: remove it from one of them",
                )
            elif room.devices.index(device) != n:
                log.add(
                    source,
                    (*placed.path, "devices", n),
                    f"device '{device}' is listed twice in this room",
                    "remove the second entry",
                )


def check_objectives(
    objectives: Sequence[Placed[Objective]],
    *,
    band_ids: set[str] | None,
    room_ids: set[str] | None,
    room_bands: dict[str, str],
    log: IssueLog,
) -> None:
    seen: dict[str, Placed[Objective]] = {}
    for placed in objectives:
        objective, source, path = placed.item, placed.source, placed.path
        if objective.id in seen:
            log.add(
                source,
                (*path, "id"),
                f"objective '{objective.id}' is defined twice "
                f"(first at {where(seen[objective.id])})",
                "merge them or give one a different id",
            )
        seen.setdefault(objective.id, placed)
        if band_ids is not None and objective.band not in band_ids:
            log.add(
                source,
                (*path, "band"),
                f"band '{objective.band}' is not defined in district.toml",
                _one_of(band_ids),
            )
        for n, room_id in enumerate(objective.rooms):
            if room_ids is not None and room_id not in room_ids:
                log.add(
                    source,
                    (*path, "rooms", n),
                    f"room '{room_id}' is not defined in rooms.toml",
                    _one_of(room_ids),
                )
            elif room_bands.get(room_id, objective.band) != objective.band:
                log.add(
                    source,
                    (*path, "rooms", n),
                    f"room '{room_id}' is for band {room_bands[room_id]}, but this objective "
                    f"is for band {objective.band}, so it would never be offered there",
                    "remove the room or change the objective's band",
                )
        for n, resource in enumerate(objective.resources):
            res_path = (*path, "resources", n)
            for b, band in enumerate(resource.bands):
                if band_ids is not None and band not in band_ids:
                    log.add(
                        source,
                        (*res_path, "bands", b),
                        f"band '{band}' is not defined in district.toml",
                        _one_of(band_ids),
                    )
            if resource.bands and objective.band not in resource.bands:
                log.add(
                    source,
                    (*res_path, "bands"),
                    f"this resource is marked for bands {', '.join(resource.bands)}, "
                    f"outside its objective's band {objective.band}",
                    f'add "{objective.band}" to bands or move the resource to another objective',
                )


def check_patterns(source: SourceFile, path: KeyPath, patterns: Any, log: IssueLog) -> None:
    """Check each pattern of a list; entries of the wrong type are left to type validation."""
    if not isinstance(patterns, list):
        return
    for n, text in enumerate(patterns):
        if _is_pattern_text(text):
            _check_pattern(source, (*path, n), text, log)


def _is_pattern_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_PATTERN_CHARS


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _check_pattern(source: SourceFile, path: KeyPath, text: str, log: IssueLog) -> bool:
    try:
        urlrules.parse_pattern(text)
    except urlrules.PatternError as exc:
        hint = exc.hint or "write a host like example.org, optionally with a /path"
        log.add(source, path, f"{text!r} is not a valid pattern: {exc.message}", hint)
        return False
    return True


def _check_resource_url(source: SourceFile, path: KeyPath, url: str, log: IssueLog) -> None:
    try:
        parts = urlsplit(url)
        full = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        full = False
    if not full or any(ch.isspace() for ch in url):
        log.add(
            source,
            path,
            f"{url!r} is not a full http(s) URL",
            "students open it as a link: write it like https://example.org/page",
        )
        return
    _check_pattern(source, path, url, log)


def _check_size(source: SourceFile, path: KeyPath, entries: int, log: IssueLog) -> None:
    if entries > MAX_LIST_ENTRIES:
        log.add(
            source,
            path,
            f"would put {entries} entries into a browser policy list; browsers accept at most "
            f"{MAX_LIST_ENTRIES}",
            "use broader patterns (example.org covers all its subdomains) or fewer entries",
        )


def _one_of(ids: set[str]) -> str:
    if not ids:
        return "none are defined yet"
    return "use one of: " + ", ".join(sorted(ids))
