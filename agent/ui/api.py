"""The JSON API behind the UI: checks the shape of each request, asks the controller, and turns
its `Outcome` into an answer with words in the reader's language.

Controller methods are called on the event-loop thread, except `teacher_login`: its PIN check
(argon2, and the server's online check of up to 2 s) runs on a worker thread so the UI and the
control socket stay responsive; the service behind the controller is thread-safe.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent.ui import i18n
from agent.ui.controller import Outcome, TeacherView, UiController

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024

# HTTP status by error code; anything unlisted is a plain 400.
_STATUS = {
    "wrong_pin": 401,
    "not_signed_in": 401,
    "locked": 429,
    "not_open": 409,
    "already_open": 409,
    "internal": 500,
}


class BadInput(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _language(request: Request) -> str:
    return i18n.pick_language(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )


def _failure(
    request: Request, code: str, retry_after: int | None = None, **params: Any
) -> JSONResponse:
    language = _language(request)
    if retry_after is not None:
        params["seconds"] = retry_after
    body: dict[str, Any] = {
        "ok": False,
        "error": code,
        "message": i18n.error_text(language, code, **params),
    }
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        body["retry_after"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=_STATUS.get(code, 400), headers=headers)


def _success(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"ok": True, **body}, headers={"Cache-Control": "no-store"})


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadInput("bad_request")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadInput("bad_request") from None
    if not isinstance(data, dict):
        raise BadInput("bad_request")
    return data


def _text(data: dict[str, Any], field: str, empty_code: str) -> str:
    value = data.get(field, "")
    if not isinstance(value, str):
        raise BadInput("bad_request")
    value = value.strip()
    if not value:
        raise BadInput(empty_code)
    return value


def _minutes(data: dict[str, Any], field: str = "minutes") -> int:
    value = data.get(field)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    # bool is an int in Python; `true` minutes is not a duration.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadInput("bad_minutes")
    return value


def _link(data: dict[str, Any]) -> str:
    url = _text(data, "url", "bad_url")
    if "://" not in url:
        # Teachers type "nasa.gov"; a page address without a scheme means https.
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        raise BadInput("bad_url")
    return url


def _teacher_json(view: TeacherView) -> dict[str, Any]:
    choices = sorted(view.choices, key=lambda c: (c.subject.lower(), c.title.lower()))
    return {
        "choices": [asdict(c) for c in choices],
        "default_minutes": view.default_minutes,
        "max_minutes": view.max_minutes,
    }


class UiApi:
    def __init__(self, controller: UiController) -> None:
        self.controller = controller

    def routes(self) -> list[Route]:
        return [
            Route("/api/view", self.view, methods=["GET"]),
            Route("/api/teacher/login", self.login, methods=["POST"]),
            Route("/api/teacher/choices", self.choices, methods=["POST"]),
            Route("/api/session/start", self.start, methods=["POST"]),
            Route("/api/session/end", self.end, methods=["POST"]),
            Route("/api/session/extend", self.extend, methods=["POST"]),
            Route("/api/session/link", self.add_link, methods=["POST"]),
        ]

    async def view(self, request: Request) -> JSONResponse:
        return _success({"view": asdict(self.controller.view())})

    def _outcome(
        self, request: Request, outcome: Outcome, token: str | None = None
    ) -> JSONResponse:
        if outcome.ok:
            return _success({"details": dict(outcome.details)})
        params: dict[str, Any] = dict(outcome.details)
        if outcome.error == "too_long" and "max" not in params and token is not None:
            teacher = self.controller.teacher_view(token)
            params["max"] = teacher.max_minutes if teacher else "?"
        return _failure(request, outcome.error or "unknown", outcome.retry_after, **params)

    async def _handle(self, request: Request, action: str) -> JSONResponse:
        try:
            data = await _body(request)
            if action == "login":
                staff_id = _text(data, "staff_id", "empty_staff_id")
                pin = _text(data, "pin", "empty_pin")
                # argon2 and the server's online check block: off the loop that serves the UI.
                outcome = await asyncio.to_thread(self.controller.teacher_login, staff_id, pin)
                if not outcome.ok or outcome.token is None:
                    return self._outcome(request, outcome)
                teacher = self.controller.teacher_view(outcome.token)
                if teacher is None:
                    return _failure(request, "not_signed_in")
                return _success({"token": outcome.token, "teacher": _teacher_json(teacher)})
            token = _text(data, "token", "not_signed_in")
            teacher = self.controller.teacher_view(token)
            if teacher is None:
                return _failure(request, "not_signed_in")
            if action == "choices":
                return _success({"teacher": _teacher_json(teacher)})
            if action == "start":
                ids = data.get("objective_ids")
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    raise BadInput("bad_request")
                if not ids:
                    raise BadInput("no_objectives")
                minutes = _minutes(data)
                if minutes > teacher.max_minutes:
                    raise BadInput("too_long", max=teacher.max_minutes)
                return self._outcome(request, self.controller.start(token, ids, minutes), token)
            if action == "end":
                return self._outcome(request, self.controller.end(token), token)
            if action == "extend":
                outcome = self.controller.extend(token, _minutes(data))
                return self._outcome(request, outcome, token)
            return self._outcome(request, self.controller.add_link(token, _link(data)), token)
        except BadInput as bad:
            return _failure(request, bad.code, **bad.params)
        except Exception:
            # The service failing must not leave the teacher guessing; the device state is
            # whatever the service kept, which is closed unless a session was already running.
            log.exception("UI action %s failed", action)
            return _failure(request, "internal")

    async def login(self, request: Request) -> JSONResponse:
        return await self._handle(request, "login")

    async def choices(self, request: Request) -> JSONResponse:
        return await self._handle(request, "choices")

    async def start(self, request: Request) -> JSONResponse:
        return await self._handle(request, "start")

    async def end(self, request: Request) -> JSONResponse:
        return await self._handle(request, "end")

    async def extend(self, request: Request) -> JSONResponse:
        return await self._handle(request, "extend")

    async def add_link(self, request: Request) -> JSONResponse:
        return await self._handle(request, "link")
