"""Audit: who opened which room for which objective, when, for how long; filters and CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Select, or_, select

from server_stub.auth import Signed
from server_stub.dashboard.common import DbDep, SignedDep, page
from server_stub.db.models import AuditEntry
from server_stub.people import rooms_of

router = APIRouter()
PAGE_ROWS = 500
CSV_ROWS = 100_000


@dataclass(frozen=True)
class AuditFilter:
    room: str = ""
    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None


def _day(name: str, text: str) -> date | None:
    # Empty fields are what the filter form sends for "no limit".
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"{name}: expected a date like 2026-09-01, got {text!r}") from None


def audit_filter(
    room: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
) -> AuditFilter:
    return AuditFilter(room, actor, action, _day("since", since), _day("until", until))


FilterDep = Annotated[AuditFilter, Depends(audit_filter)]


def _query(db_rooms: list[str], who: Signed, f: AuditFilter) -> Select[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc())
    if who.user.role != "admin":
        # Teachers see what happened in their rooms, and their own actions; nothing else.
        q = q.where(or_(AuditEntry.room_id.in_(db_rooms), AuditEntry.actor == who.user.username))
    if f.room:
        q = q.where(AuditEntry.room_id == f.room)
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action:
        q = q.where(AuditEntry.action == f.action)
    if f.since:
        q = q.where(AuditEntry.at >= datetime.combine(f.since, time(), UTC))
    if f.until:
        q = q.where(AuditEntry.at < datetime.combine(f.until + timedelta(days=1), time(), UTC))
    return q


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, db: DbDep, who: SignedDep, f: FilterDep) -> Response:
    rows = db.execute(_query(rooms_of(db, who.user), who, f).limit(PAGE_ROWS)).scalars().all()
    return page(request, who, "audit.html", rows=rows, f=f, limit=PAGE_ROWS)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells starting with these as formulas; a quote makes them plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/audit.csv")
def audit_csv(db: DbDep, who: SignedDep, f: FilterDep) -> Response:
    rows = db.execute(_query(rooms_of(db, who.user), who, f).limit(CSV_ROWS)).scalars()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "time_utc",
            "actor",
            "role",
            "action",
            "room",
            "device",
            "objectives",
            "minutes",
            "duration_s",
            "detail",
        ]
    )
    for r in rows:
        writer.writerow(
            _cell(v)
            for v in (
                r.at.isoformat(),
                r.actor,
                r.actor_role,
                r.action,
                r.room_id,
                r.device_id,
                " ".join(r.objectives),
                r.minutes,
                r.duration_s,
                r.detail,
            )
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="lessongate-audit.csv"'},
    )
