"""Load a district policy directory into a `Policy`, or explain everything that is wrong with it.

    policy/
      district.toml          name, aup_renewal_grades, always_allow, never_allow, blocklist,
                             and one [[band]] table per grade band
      rooms.toml             one [[room]] table per room
      objectives/*.toml      [[objective]] tables, each with [[objective.resources]] tables

`load_policy` either returns a complete, valid Policy or raises PolicyError listing every problem
in every file (file, line, key path, what to do), never a partial policy and never another
exception for bad input.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from policies._crosscheck import (
    Placed,
    check_bands,
    check_district,
    check_district_patterns,
    check_objective_patterns,
    check_objectives,
    check_rooms,
)
from policies._source import IssueLog, SourceFile, read_source
from policies._typecheck import validate
from policies.errors import PolicyError, PolicyIssue
from policies.model import District, GradeBand, Objective, Policy, Room

OBJECTIVES_DIR = "objectives"

# TOML key -> model field it feeds: one [[band]] table per entry of District.bands.
_DISTRICT_RENAMES = {"bands": "band"}


def load_policy(directory: Path) -> Policy:
    """The policy in `directory`; raises PolicyError with every problem found in it."""
    directory = Path(directory)
    log = IssueLog()
    if not directory.is_dir():
        raise PolicyError.single(
            f"{directory} is not a directory",
            hint="give the folder that holds district.toml, rooms.toml and objectives/",
        )
    district_src = read_source(directory, "district.toml", log)
    rooms_src = read_source(directory, "rooms.toml", log)
    objective_srcs = [
        src
        for name in _objective_files(directory, log)
        if (src := read_source(directory, name, log)) is not None
    ]

    district, bands, band_ids = _district(district_src, log)
    rooms, room_ids = _rooms(rooms_src, band_ids, log)
    always_allow = district_src.data.get("always_allow") if district_src else None
    always_allow_count = len(always_allow) if isinstance(always_allow, list) else 0
    objectives = [o for src in objective_srcs for o in _objectives(src, always_allow_count, log)]
    check_objectives(
        objectives,
        band_ids=band_ids,
        room_ids=room_ids,
        room_bands={r.item.id: r.item.band for r in rooms},
        log=log,
    )
    if log.issues or district is None:
        raise PolicyError(sorted_issues(log.issues))
    sources = [s for s in (district_src, rooms_src, *objective_srcs) if s is not None]
    return Policy(
        district=district.item.model_copy(update={"bands": tuple(b.item for b in bands)}),
        rooms=tuple(r.item for r in rooms),
        objectives=tuple(o.item for o in objectives),
        version=policy_version(sources),
    )


def policy_version(sources: list[SourceFile]) -> str:
    """A content hash over file names and bytes: the same files always give the same version."""
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda s: s.name):
        name = source.name.encode()
        digest.update(b"%d:%s%d:" % (len(name), name, len(source.raw)))
        digest.update(source.raw)
    return digest.hexdigest()[:16]


def sorted_issues(issues: list[PolicyIssue]) -> list[PolicyIssue]:
    """Issues in reading order: district.toml, rooms.toml, objectives/*, then by line."""
    rank = {"district.toml": 0, "rooms.toml": 1}

    def key(issue: PolicyIssue) -> tuple[int, str, int]:
        return (rank.get(issue.file, 2), issue.file, issue.line or 0)

    return sorted(issues, key=key)


def _objective_files(directory: Path, log: IssueLog) -> list[str]:
    folder = directory / OBJECTIVES_DIR
    if not folder.is_dir():
        log.add_at_line(
            OBJECTIVES_DIR,
            None,
            "folder is missing",
            "create objectives/ with at least one .toml file of [[objective]] tables",
        )
        return []
    try:
        names = sorted(
            p.name for p in folder.iterdir() if p.suffix == ".toml" and not p.name.startswith(".")
        )
    except OSError as exc:
        log.add_at_line(OBJECTIVES_DIR, None, f"cannot be listed: {exc.strerror or exc}")
        return []
    if not names:
        log.add_at_line(
            OBJECTIVES_DIR,
            None,
            "folder has no .toml files",
            "add at least one file of [[objective]] tables, e.g. objectives/science.toml",
        )
    return [f"{OBJECTIVES_DIR}/{name}" for name in names]


def _district(
    src: SourceFile | None, log: IssueLog
) -> tuple[Placed[District] | None, list[Placed[GradeBand]], set[str] | None]:
    """The district's top-level settings (bands empty), its valid bands, all band ids written."""
    if src is None:
        return None, [], None
    data = dict(src.data)
    band_tables = _tables(src, "band", data.pop("band", None), log, required=True)
    if "bands" in data:
        log.add(src, ("bands",), "unknown key 'bands'", "write each band as a [[band]] table")
        del data["bands"]
    district = validate(District, {**data, "bands": []}, source=src, prefix=(), log=log,
                        renames=_DISTRICT_RENAMES)  # fmt: skip
    bands = _validate_each(GradeBand, src, "band", band_tables, log)
    band_ids = {t["id"] for t in band_tables if isinstance(t.get("id"), str)}
    check_bands(bands, log)
    check_district_patterns(src, data, log)
    placed = Placed(src, (), district) if district is not None else None
    if placed is not None:
        check_district(placed, log)
    return placed, bands, band_ids


def _rooms(
    src: SourceFile | None, band_ids: set[str] | None, log: IssueLog
) -> tuple[list[Placed[Room]], set[str] | None]:
    if src is None:
        return [], None
    tables = _tables(src, "room", src.data.get("room"), log, required=True)
    _only_key(src, "room", log)
    rooms = _validate_each(Room, src, "room", tables, log)
    check_rooms(rooms, band_ids, log)
    return rooms, {t["id"] for t in tables if isinstance(t.get("id"), str)}


def _objectives(src: SourceFile, always_allow: int, log: IssueLog) -> list[Placed[Objective]]:
    tables = _tables(src, "objective", src.data.get("objective"), log, required=True)
    _only_key(src, "objective", log)
    for n, table in enumerate(tables):
        check_objective_patterns(src, ("objective", n), table, always_allow, log)
    return _validate_each(Objective, src, "objective", tables, log)


def _tables(
    src: SourceFile, key: str, value: Any, log: IssueLog, *, required: bool
) -> list[dict[str, Any]]:
    """The [[key]] tables of a file; logs a problem when the value has another shape."""
    if value is None or value == []:
        if required:
            log.add(src, (), f"has no [[{key}]] tables", f"add at least one [[{key}]] table")
        return []
    if isinstance(value, dict):
        log.add(src, (key,), f"[{key}] must be written [[{key}]]", "use double brackets")
        return []
    if not isinstance(value, list):
        log.add(src, (key,), f"'{key}' must be [[{key}]] tables", f"write [[{key}]] sections")
        return []
    bad = [n for n, item in enumerate(value) if not isinstance(item, dict)]
    for n in bad:
        log.add(src, (key, n), f"each '{key}' entry must be a table", f"write [[{key}]] sections")
    return [item for item in value if isinstance(item, dict)] if not bad else []


def _only_key(src: SourceFile, key: str, log: IssueLog) -> None:
    for other in src.data:
        if other != key:
            log.add(
                src,
                (other,),
                f"unknown key '{other}'",
                f"this file holds only [[{key}]] tables; move '{other}' into one of them",
            )


def _validate_each(
    model: type[Room] | type[Objective] | type[GradeBand],
    src: SourceFile,
    key: str,
    tables: list[dict[str, Any]],
    log: IssueLog,
) -> list[Placed[Any]]:
    placed: list[Placed[Any]] = []
    for n, table in enumerate(tables):
        item = validate(model, table, source=src, prefix=(key, n), log=log)
        if item is not None:
            placed.append(Placed(src, (key, n), item))
    return placed
