"""The local UI server: a small Starlette app on 127.0.0.1, run as a task in the agent's loop.

The agent service starts it with `serve_ui(controller, "127.0.0.1", port, new_secret(),
state_dir=...)`; once the socket is bound, the URL and the secret go to `ui_address_file()`
(readable by root only), which is where `lessongate-agent panel` finds them. The secret lives
only in memory and in that file and changes on every start.

    GET  /?k=<secret>          sets the key cookie, then redirects to /
    GET  /                     the app shell (needs the cookie)
    GET  /blocked?host=<name>  what a student sees when the proxy refuses a page (public)
    GET  /static/...           CSS and JS (public, nothing secret in them)
    *    /api/...              JSON, needs cookie + X-LessonGate-Key header (see guard.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from agent.atomic import write_atomically
from agent.ui import i18n, pages
from agent.ui.api import UiApi
from agent.ui.controller import UiController
from agent.ui.guard import KEY_COOKIE, GuardMiddleware, UiGuard, same_secret

ADDRESS_FILE_NAME = "ui-address.json"
STATIC_DIR = Path(__file__).with_name("static")


class UiAddressError(Exception):
    """The address file is missing or unreadable: the agent is not running, or not as us."""


@dataclass(frozen=True)
class UiAddress:
    url: str  # e.g. "http://127.0.0.1:8765", no trailing slash
    secret: str

    @property
    def panel_url(self) -> str:
        """What the window opens: the shell plus the key that sets its cookie."""
        return f"{self.url}/?{urlencode({'k': self.secret})}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def ui_address_file(state_dir: Path) -> Path:
    return state_dir / ADDRESS_FILE_NAME


def write_ui_address(state_dir: Path, url: str, secret: str) -> Path:
    """Atomically writes {"url", "secret"} as JSON, mode 0600, so only root reads it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    target = ui_address_file(state_dir)
    data = json.dumps({"url": url.rstrip("/"), "secret": secret}).encode("utf-8")
    write_atomically(target, data, mode=0o600)
    return target


def read_ui_address(state_dir: Path) -> UiAddress:
    path = ui_address_file(state_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UiAddressError(f"{path}: not found; is the LessonGate agent running?") from None
    except PermissionError:
        raise UiAddressError(f"{path}: permission denied; run the panel as root") from None
    except (OSError, ValueError) as exc:
        raise UiAddressError(f"{path}: unreadable ({exc})") from None
    url, secret = (data.get("url"), data.get("secret")) if isinstance(data, dict) else (None, None)
    if not isinstance(url, str) or not url.startswith("http://"):
        raise UiAddressError(f"{path}: field 'url' must be an http:// URL")
    if not isinstance(secret, str) or not secret:
        raise UiAddressError(f"{path}: field 'secret' is missing")
    return UiAddress(url.rstrip("/"), secret)


def _language(request: Request) -> str:
    return i18n.pick_language(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )


def create_app(controller: UiController, secret: str, *, port: int | None = None) -> Starlette:
    """The ASGI app. `port` pins the Host check to that port; None accepts any loopback port
    (for an app created before its socket is bound; `serve_ui` always pins it)."""
    guard = UiGuard(secret, port)
    api = UiApi(controller)

    async def shell(request: Request) -> Response:
        language = _language(request)
        given = request.query_params.get("k")
        if given is not None:
            if not same_secret(given, secret):
                return _html(pages.forbidden_page(language), 403)
            query = {"lang": request.query_params["lang"]} if "lang" in request.query_params else {}
            # Redirecting drops the key from the address bar and from history.
            target = "/" + (f"?{urlencode(query)}" if query else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(KEY_COOKIE, secret, httponly=True, samesite="strict", path="/")
            redirect.headers["Cache-Control"] = "no-store"
            return redirect
        if not same_secret(request.cookies.get(KEY_COOKIE), secret):
            return _html(pages.forbidden_page(language), 403)
        return _html(pages.app_shell(language, secret), 200)

    async def blocked(request: Request) -> Response:
        return _html(pages.blocked_page(_language(request), request.query_params.get("host")), 200)

    app = Starlette(
        routes=[
            Route("/", shell, methods=["GET"]),
            Route("/blocked", blocked, methods=["GET"]),
            *api.routes(),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(GuardMiddleware, guard=guard)],
    )
    app.state.guard = guard
    return app


def _html(body: str, status: int) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=pages.SECURITY_HEADERS)


class _EmbeddedServer(uvicorn.Server):
    # The agent owns the process's signals; uvicorn must not take SIGINT/SIGTERM from it.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_loopback(host: str, port: int) -> socket.socket:
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"the UI listens on loopback only, not {host!r}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


async def serve_ui(
    controller: UiController,
    host: str,
    port: int,
    secret: str,
    *,
    state_dir: Path | None = None,
    ready: asyncio.Future[UiAddress] | None = None,
) -> None:
    """Serves until cancelled, then shuts down gracefully. Port 0 picks a free port; the chosen
    address is written to `ui_address_file(state_dir)` when given and set on `ready`."""
    sock = bind_loopback(host, port)
    bound_port = sock.getsockname()[1]
    app = create_app(controller, secret, port=bound_port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # no record of what children's screens asked for
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = _EmbeddedServer(config)
    address = UiAddress(f"http://127.0.0.1:{bound_port}", secret)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    written: Path | None = None
    try:
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            await serving  # raises the startup failure
            return
        if state_dir is not None:
            written = write_ui_address(state_dir, address.url, secret)
        if ready is not None and not ready.done():
            ready.set_result(address)
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True
        await serving
        raise
    finally:
        sock.close()
        if written is not None:
            # A stale address would send the panel to a port that may belong to someone else.
            with contextlib.suppress(OSError):
                written.unlink()
