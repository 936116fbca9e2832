"""Who may talk to the UI: only this machine's LessonGate window, never another program or page.

Three checks, each closing one hole:
- the Host header must name the loopback address and our port, so a web page that re-points its
  own DNS name at 127.0.0.1 (DNS rebinding) is refused;
- every API call carries the per-start secret twice, as an HttpOnly SameSite=Strict cookie (set
  when the panel opens `/?k=<secret>`) and as the `X-LessonGate-Key` header; a page from another
  origin can neither read the secret nor send a custom header without a CORS preflight we never
  grant, and a local program without root cannot read the address file that holds it;
- a browser-sent Origin, when present, must be ours.
Everything else (static files, the blocked page) is public and shows nothing of the session.
"""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.ui import i18n

KEY_HEADER = "X-LessonGate-Key"
KEY_COOKIE = "lessongate_ui"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def same_secret(given: str | None, secret: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


class UiGuard:
    def __init__(self, secret: str, port: int | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("the UI secret must be at least 16 characters")
        self.secret = secret
        # None while the port is not known yet (an app built before its socket is bound).
        self.port = port

    def _allowed_authorities(self) -> set[str]:
        if self.port is None:
            return set()
        return {f"{name}:{self.port}" for name in LOOPBACK_NAMES}

    def host_ok(self, conn: HTTPConnection) -> bool:
        host = conn.headers.get("host", "").lower()
        if self.port is None:
            name, _, port = host.rpartition(":")
            return name in LOOPBACK_NAMES and port.isdigit()
        return host in self._allowed_authorities()

    def origin_ok(self, conn: HTTPConnection) -> bool:
        origin = conn.headers.get("origin")
        if origin is None:
            return True
        scheme, _, authority = origin.lower().partition("://")
        if scheme != "http":
            return False
        if self.port is None:
            name, _, port = authority.rpartition(":")
            return name in LOOPBACK_NAMES and port.isdigit()
        return authority in self._allowed_authorities()

    def key_ok(self, conn: HTTPConnection) -> bool:
        return same_secret(conn.cookies.get(KEY_COOKIE), self.secret) and same_secret(
            conn.headers.get(KEY_HEADER), self.secret
        )


def refusal(conn: HTTPConnection, code: str) -> JSONResponse:
    language = i18n.pick_language(
        conn.query_params.get("lang"), conn.headers.get("accept-language")
    )
    return JSONResponse(
        {"ok": False, "error": code, "message": i18n.error_text(language, code)},
        status_code=403,
        headers={"Cache-Control": "no-store"},
    )


class GuardMiddleware:
    """Applies `UiGuard` before any route runs, so a new route cannot forget it."""

    def __init__(self, app: ASGIApp, guard: UiGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websocket routes exist
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if not self.guard.host_ok(conn):
            await refusal(conn, "bad_host")(scope, receive, send)
            return
        if scope["path"].startswith("/api/") and not (
            self.guard.key_ok(conn) and self.guard.origin_ok(conn)
        ):
            await refusal(conn, "forbidden")(scope, receive, send)
            return
        await self.app(scope, receive, send)
