"""The proxy as an `Enforcer`: runs the asyncio server on its own thread; apply swaps the rules.

A proxy that is not running refuses connections, which on a transparent device means no
Internet: the closed state holds even when this backend fails.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from agent.enforce.base import EnforcementError, Health
from agent.enforce.proxy.resolver import Resolver
from agent.enforce.proxy.server import DenyAll, HostRules, ProxyConfig, ProxyServer
from agent.enforce.steps import Step, run_steps
from agent.plan import EnforcementPlan

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (faster accept, connect and relay), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ProxyEnforcer:
    name = "proxy"

    def __init__(self, config: ProxyConfig, resolver: Resolver | None = None) -> None:
        self.config = config
        self._resolver = resolver
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ProxyServer | None = None

    # -- Enforcer ------------------------------------------------------------------------------
    def apply(self, plan: EnforcementPlan) -> None:
        rules: HostRules = plan.rules
        try:
            run_steps(
                [
                    Step("start proxy", self.start),
                    Step("swap rules", lambda: self._set_rules(rules, plan.session_id)),
                ]
            )
        except EnforcementError:
            self._close_best_effort()
            raise

    def revert(self) -> None:
        with self._lock:
            loop, thread, server = self._loop, self._thread, self._server
            self._loop = self._thread = self._server = None
        if loop is None or server is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5)

    def health(self) -> Health:
        server = self._server
        if server is None or not server.listening:
            return Health(self.name, False, f"{self.config.mode} proxy is not listening")
        return Health(self.name, True, f"{self.config.mode} proxy listening on port {server.port}")

    # -- for the service and heartbeats --------------------------------------------------------
    @property
    def port(self) -> int | None:
        return self._server.port if self._server else None

    def blocked_hosts(self) -> dict[str, int]:
        """Blocked host name -> count, for the current session only (empty outside sessions)."""
        return self._call(lambda s: s.blocked.snapshot(), {})

    def stats(self) -> dict[str, int]:
        return self._call(lambda s: s.stats.snapshot(), {})

    # -- internals -----------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._server is not None and self._server.listening:
                return
            loop = new_event_loop()
            server = ProxyServer(self.config, self._resolver)
            thread = threading.Thread(target=loop.run_forever, name="lessongate-proxy", daemon=True)
            thread.start()
            try:
                asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
            except Exception as exc:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(5)
                raise EnforcementError(
                    f"proxy cannot listen on port {self.config.port}: {exc}"
                ) from exc
            self._loop, self._thread, self._server = loop, thread, server

    def _set_rules(self, rules: HostRules, session_id: str | None) -> None:
        self._call(lambda s: s.set_rules(rules, session_id), None, strict=True)

    def _close_best_effort(self) -> None:
        try:
            self._set_rules(DenyAll(), None)
        except Exception:
            self.revert()  # a stopped proxy refuses everything, which is closed too

    def _call(self, fn: Callable[[ProxyServer], T], default: T, strict: bool = False) -> T:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            if strict:
                raise EnforcementError("proxy is not running")
            return default

        async def run() -> T:
            return fn(server)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(5)
