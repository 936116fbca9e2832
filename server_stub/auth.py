"""People's sign-in: argon2id passwords, server-side sessions and CSRF tokens.

The session cookie holds a random id; the database keeps only its SHA-256, so a leaked database
cannot be replayed as a login. Each session has its own CSRF token, which every form POST (and
every fetch POST, as the X-CSRF-Token header) must carry. The login form, before any session
exists, uses a double-submit cookie instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from server_stub import audit, throttle
from server_stub.db.models import User, WebSession, utcnow
from server_stub.security import Hasher, same, token_digest

SESSION_COOKIE = "lg_session"
LOGIN_CSRF_COOKIE = "lg_login_csrf"
SESSION_HOURS = 12


class LoginRequired(Exception):
    """Raised by page handlers; the app turns it into a redirect to /login."""


class LoginRefused(Exception):
    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Signed:
    user: User
    session: WebSession


def login(
    db: Session, hasher: Hasher, username: str, password: str, client_ip: str
) -> tuple[str, WebSession]:
    """Check a password; returns the cookie value and the new session. Five failures per
    username or per client address, then back-off (see `throttle`)."""
    now = utcnow()
    keys = (("login-user", username[:200]), ("login-ip", client_ip))
    for scope, key in keys:
        wait = throttle.retry_after(db, scope, key, now)
        if wait is not None:
            raise LoginRefused(f"too many failed sign-ins; try again in {wait} s", wait)
    user = db.execute(
        select(User).where(User.username == username, User.disabled.is_(False))
    ).scalar_one_or_none()
    if not hasher.verify(user.password_hash if user else None, password) or user is None:
        for scope, key in keys:
            throttle.record_failure(db, scope, key, now)
        audit.record(db, actor=username[:64], role="unknown", action="login_failed")
        db.commit()
        raise LoginRefused("wrong username or password")
    for scope, key in keys:
        throttle.clear(db, scope, key)
    cookie = secrets.token_urlsafe(32)
    session = WebSession(
        id_hash=token_digest(cookie),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=SESSION_HOURS),
    )
    db.add(session)
    audit.record(db, actor=user.username, role=user.role, action="login")
    db.commit()
    return cookie, session


def signed_in(request: Request, db: Session) -> Signed | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    row = db.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.id_hash == token_digest(cookie),
            WebSession.expires_at > utcnow(),
            User.disabled.is_(False),
        )
    ).first()
    if row is None:
        return None
    return Signed(user=row[1], session=row[0])


def require(request: Request, db: Session, role: str | None = None) -> Signed:
    who = signed_in(request, db)
    if who is None:
        raise LoginRequired
    if role is not None and who.user.role != role:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "IT administrators only")
    return who


def check_csrf(request: Request, who: Signed, form_token: str | None) -> None:
    token = form_token or request.headers.get("x-csrf-token") or ""
    if not same(token, who.session.csrf_token):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token; reload the page"
        )


def logout(db: Session, who: Signed) -> None:
    db.delete(who.session)
    audit.record(db, actor=who.user.username, role=who.user.role, action="logout")
    db.commit()
