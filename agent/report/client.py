"""The agent's side of the conversation with the server: four loops on the agent's asyncio loop.

    heartbeats   every `heartbeat_seconds` ±10 %; a missed one becomes a `heartbeat` event
    deliveries   the outbox, oldest first, in batches; back-off with jitter while failing
    commands     long-poll for remote start/end/extend; cursor saved after each is handled
    policies     signed bundle with ETag when the server's version differs, and every 10 min;
                 the teacher verifiers are refreshed with it

Blocking HTTP (requests) runs in short-lived daemon threads, so a long-poll in flight never holds
up the agent's exit. Nothing here can open the device: failures only change `status` and the
events reported; the device keeps its last good policy and stays closed unless a session is open.
Until the device is enrolled the loops do not run; a pending enrollment is retried with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from agent.config import AgentConfig
from agent.report import commands, heartbeat
from agent.report.backoff import Backoff, jittered
from agent.report.delivery import deliver_once
from agent.report.enrollment import Enrollment, EnrollmentStore, enroll
from agent.report.errors import ServerError
from agent.report.http import ServerClient
from agent.report.outbox import Outbox
from agent.report.pins import ServerVerifiers
from agent.report.policy_sync import BundleRejected, PolicyKeeper

if TYPE_CHECKING:
    from agent.service import AgentService

T = TypeVar("T")
POLL_WAIT = 25.0
POLICY_REFRESH = 600.0
IDLE_DELIVERY = 5.0
NOT_ENROLLED = "not enrolled: run `lessongate-agent enroll --server URL --token TOKEN`"
log = logging.getLogger(__name__)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a daemon thread (an unanswered request must not keep the agent alive)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not fut.done():
            fut.set_result(value) if ok else fut.set_exception(value)

    def run() -> None:
        try:
            result: Any = fn(*args)
            ok = True
        except BaseException as e:
            result, ok = e, False
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(settle, ok, result)

    threading.Thread(target=run, daemon=True, name="lessongate-report").start()
    return await fut


async def wait_any(seconds: float, *events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


class ReportClient:
    def __init__(
        self,
        cfg: AgentConfig,
        store: EnrollmentStore,
        outbox: Outbox,
        verifiers: ServerVerifiers | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.outbox = outbox
        self.verifiers = verifiers or ServerVerifiers(cfg.state_dir, self.pin_client)
        self.service: AgentService | None = None
        self.enrollment: Enrollment | None = None
        self.token: str | None = None
        self.keeper: PolicyKeeper | None = None
        self.cursor_file = commands.CursorFile(cfg.state_dir)
        self.cursor: int | None = None
        self.last_contact: float | None = None
        self.last_error: str | None = None
        self.policy_rejected: str | None = None
        self._last_rejection: tuple[str, str] | None = None
        self.skew = 0.0  # server clock minus ours, from heartbeat answers
        self.interval = float(cfg.heartbeat_seconds or 30)
        self._pin_client: ServerClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_events = asyncio.Event()
        self._server_back = asyncio.Event()
        self._policy_due = asyncio.Event()
        found = store.load()
        if found is not None:
            self._use(found, store.token(found))
        outbox.on_append = self._on_append

    # ---- enrollment and clients ------------------------------------------------------------

    def _use(self, enrollment: Enrollment, token: str | None) -> None:
        self.enrollment, self.token = enrollment, token
        if not token:
            self.last_error = (
                f"the device token is missing from {self.store.tokens.where}: enroll again"
            )
            return
        try:
            self.keeper = PolicyKeeper(self.cfg.state_dir, enrollment.signing_public_key)
        except ServerError as e:
            self.last_error = f"pinned signing key unusable: {e}; enroll again"
            self.token = None
            return
        self.cursor = self.cursor_file.load()
        if self.cfg.heartbeat_seconds is None:
            self.interval = float(enrollment.heartbeat_interval_s)
        self._pin_client = None

    @property
    def enrolled(self) -> bool:
        return self.enrollment is not None and bool(self.token) and self.keeper is not None

    def api(self, timeout: float | None = None) -> ServerClient:
        assert self.enrollment is not None
        client = ServerClient(self.enrollment.server_url, self.token, ca_bundle=self.cfg.ca_bundle)
        if timeout is not None:
            client.timeout = timeout
        return client

    def pin_client(self) -> ServerClient | None:
        if not self.enrolled:
            return None
        if self._pin_client is None:
            self._pin_client = self.api()
        return self._pin_client

    def attach(self, service: AgentService) -> None:
        self.service = service

    def _svc(self) -> AgentService:
        assert self.service is not None, "attach() the AgentService first"
        return self.service

    # ---- bookkeeping -------------------------------------------------------------------------

    def _on_append(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._new_events.set)

    def _ok(self) -> None:
        self.last_contact = time.time()
        self.last_error = None
        self._server_back.set()

    def _fail(self, what: str, e: Exception) -> None:
        self.last_error = f"{what}: {e}"

    def status(self) -> dict[str, Any]:
        e = self.enrollment
        counters = self.outbox.counters()
        return {
            "enrolled": self.enrolled,
            "server_url": e.server_url if e else None,
            "device_id": e.device_id if e else None,
            "room_id": e.room_id if e else None,
            "last_contact": self.last_contact,
            "last_error": self.last_error,
            "outbox_depth": self.outbox.depth,
            "outbox_dropped": counters.get("dropped", 0),
            "outbox_rejected": counters.get("rejected", 0),
            "policy_bundle": self.keeper.version if self.keeper else None,
            "policy_rejected": self.policy_rejected,
            "commands_cursor": self.cursor,
            "cached_verifiers": self.verifiers.count,
            "credentials": self.store.tokens.where,
        }

    # ---- the loops -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        for ev in (self._new_events, self._server_back, self._policy_due):
            ev.clear()
        if not self.enrolled:
            await self._enroll_loop(stop)
        if stop.is_set():
            return
        loops = (self._heartbeats, self._deliveries, self._commands, self._policies)
        tasks = [asyncio.create_task(self._supervised(loop, stop)) for loop in loops]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _supervised(
        self, loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]], stop: asyncio.Event
    ) -> None:
        """A bug in one loop must not end reporting for good: log it, say it, start again."""
        while not stop.is_set():
            try:
                await loop(stop)
                return
            except Exception as e:
                log.exception("report loop %s failed", loop.__name__)
                self.last_error = f"{loop.__name__.strip('_')} failed: {e}"
                await wait_any(5.0, stop)

    async def _enroll_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff(base=5.0, cap=600.0)
        while not stop.is_set():
            found = self.store.load()
            if found is not None and self.store.token(found):
                self._enrolled(found)
                return
            pending = self.store.pending()
            if pending is None:
                self.last_error = NOT_ENROLLED
                await wait_any(10.0, stop)
                continue
            request, token = pending
            try:
                done = await in_thread(
                    enroll, self.cfg, self.store, request.server_url, token, request.room
                )
            except ServerError as e:
                self.last_error = f"enrollment with {request.server_url} failed: {e}"
                await wait_any(backoff.next_delay(), stop)
                continue
            self._enrolled(done)
            return

    def _enrolled(self, enrollment: Enrollment) -> None:
        self._use(enrollment, self.store.token(enrollment))
        svc = self._svc()
        if self.cfg.room is None and enrollment.room_id:
            svc.assign_room(enrollment.room_id)
        svc.report(
            "enrolled", {"server_device_id": enrollment.device_id, "room_id": enrollment.room_id}
        )

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        client = self.api()
        while not stop.is_set():
            body = await in_thread(self._heartbeat_body)
            try:
                answer = await in_thread(client.heartbeat, body)
            except ServerError as e:
                self._fail("heartbeat", e)
                await in_thread(self._svc().report, "heartbeat", heartbeat.offline_record(body))
            else:
                self._ok()
                self._heard(answer)
            await wait_any(jittered(self.interval), stop)

    def _heartbeat_body(self) -> dict[str, Any]:
        svc = self._svc()
        extra = [f"policy rejected: {self.policy_rejected}"] if self.policy_rejected else []
        return heartbeat.heartbeat_body(svc.status(), svc.enforcers, extra)

    def _heard(self, answer: dict[str, Any]) -> None:
        with contextlib.suppress(TypeError, ValueError):
            server_now = datetime.fromisoformat(str(answer.get("server_time")))
            self.skew = server_now.timestamp() - time.time()
        interval = answer.get("heartbeat_interval_s")
        if self.cfg.heartbeat_seconds is None and isinstance(interval, int) and interval > 0:
            self.interval = float(interval)
        # A new policy, or IT moved this device to another room (its bundle names the room).
        version, room = answer.get("policy_version"), answer.get("room_id")
        kept = self.keeper
        if (version and version != (kept.bundle_version if kept else None)) or (
            room and room != (kept.room if kept else None)
        ):
            self._policy_due.set()

    async def _deliveries(self, stop: asyncio.Event) -> None:
        client = self.api()
        backoff = Backoff(base=1.0, cap=60.0)
        while not stop.is_set():
            self._new_events.clear()
            try:
                sent = await in_thread(deliver_once, self.outbox, client)
            except ServerError as e:
                self._fail("event delivery", e)
                self._server_back.clear()
                await wait_any(backoff.next_delay(), stop, self._server_back)
                continue
            backoff.reset()
            if sent:
                self._ok()
                continue
            await wait_any(IDLE_DELIVERY, stop, self._new_events)

    async def _commands(self, stop: asyncio.Event) -> None:
        client = self.api()
        backoff = Backoff(base=1.0, cap=60.0)
        while not stop.is_set():
            try:
                if self.cursor is None:
                    first = await in_thread(client.poll_commands, None, 0)
                    self.cursor = int(first["cursor"])
                    await in_thread(self.cursor_file.save, self.cursor)
                body = await in_thread(client.poll_commands, self.cursor, POLL_WAIT)
            except ServerError as e:
                self._fail("commands", e)
                self._server_back.clear()
                await wait_any(backoff.next_delay(), stop, self._server_back)
                continue
            backoff.reset()
            self._ok()
            await in_thread(self._handle_commands, body)

    def _handle_commands(self, body: dict[str, Any]) -> None:
        svc = self._svc()
        for raw in body["commands"]:
            try:
                cmd = commands.Command.parse(raw)
            except (KeyError, TypeError, ValueError) as e:
                svc.report("remote_command_invalid", {"problem": str(e)[:200]})
                continue
            if self.cursor is not None and cmd.id <= self.cursor:
                continue
            commands.handle(svc, cmd, time.time() + self.skew)
            self.cursor = cmd.id
            self.cursor_file.save(cmd.id)
        cursor = body["cursor"]
        if self.cursor is None or cursor > self.cursor:
            self.cursor = cursor
            self.cursor_file.save(cursor)

    async def _policies(self, stop: asyncio.Event) -> None:
        client = self.api()
        backoff = Backoff(base=2.0, cap=300.0)
        while not stop.is_set():
            self._policy_due.clear()
            try:
                await in_thread(self._sync_policy, client)
            except BundleRejected:
                # Forged in transit or broken at the source: try again later, not on every
                # heartbeat that still names the newer version.
                await wait_any(backoff.next_delay(), stop)
                continue
            except ServerError as e:
                self._fail("policy", e)
                self._server_back.clear()
                await wait_any(backoff.next_delay(), stop, self._server_back)
                continue
            backoff.reset()
            self._ok()
            await wait_any(POLICY_REFRESH, stop, self._policy_due)

    def _sync_policy(self, client: ServerClient) -> None:
        keeper = self.keeper
        assert keeper is not None
        etag, body = client.get_policy(keeper.etag)
        if body is not None:
            version = str(body.get("version"))[:100]
            try:
                policy = keeper.accept(body, etag)
            except BundleRejected as e:
                self.policy_rejected = f"version {version}: {e}"
                log.warning("policy bundle rejected: %s", self.policy_rejected)
                if self._last_rejection != (version, str(e)):
                    self._last_rejection = (version, str(e))
                    self._svc().report("policy_rejected", {"version": version, "reason": str(e)})
                raise
            self.policy_rejected = self._last_rejection = None
            self._svc().update_policy(policy, keeper.room)
        self.verifiers.refresh(client.verifiers())
