"""Process backend: ends programs that would route around the other layers (VPN clients, Tor,
portable browsers), by name or executable path, closed or in a session.

Never touches the agent's own processes or root's (system services). Each ended process is
reported through `on_event`. In report-only mode (safe mode) it reports without ending.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import psutil

from agent.enforce.base import EnforcementError, Health
from agent.enforce.settings import EnforceSettings
from agent.plan import EnforcementPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessEvent:
    pid: int
    name: str
    exe: str
    uid: int
    rule: str  # the denied_processes entry that matched
    action: Literal["ended", "reported", "failed"]


def _matches(rule: str, name: str, exe: str) -> bool:
    if "/" in rule:
        return bool(exe) and fnmatch.fnmatchcase(exe, rule)
    rule = rule.lower()
    names = {name.lower(), os.path.basename(exe).lower()} - {""}
    return any(fnmatch.fnmatchcase(n, rule) for n in names)


def _owner(pid: int) -> int | None:
    """The uid that owns /proc/<pid> (the process's effective uid), None where unknown."""
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _identity(pid: int) -> bytes | None:
    """pid, program name and start time from /proc/<pid>/stat, in one read: changes when the
    process exec's another program or the pid is reused. None where there is no /proc (the
    process is then judged on every pass)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    end = stat.rfind(b")")
    fields = stat[end + 2 :].split(b" ")
    # After "pid (comm)": field 3 is the state; the start time is field 22.
    return stat[: end + 1] + b" " + fields[19] if len(fields) > 19 else None


class ProcessEnforcer:
    name = "processes"

    def __init__(
        self,
        settings: EnforceSettings,
        on_event: Callable[[ProcessEvent], None] | None = None,
        *,
        report_only: bool = False,
        interval: float = 1.0,
    ) -> None:
        self._configured = settings.denied_processes
        self._rules = settings.denied_processes
        self._protected = {0, settings.agent_uid}
        self._on_event = on_event or (lambda event: None)
        self.report_only = report_only
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: set[tuple[int, float]] = set()
        # Processes already found harmless, by identity (see `_identity`), so that a pass only
        # looks closely at processes that are new or have exec'd another program since.
        self._clean: set[bytes] = set()
        self._clean_rules: tuple[str, ...] = ()
        # One pass at a time (apply's and the watcher's), so a program is ended and reported once.
        self._scan_lock = threading.Lock()

    def apply(self, plan: EnforcementPlan) -> None:
        # The same list holds open or closed: the device's own (settings) plus the policy's,
        # which the plan carries so that a policy update reaches the watcher at once.
        self._rules = tuple(dict.fromkeys((*self._configured, *plan.denied_processes)))
        try:
            self.scan_once()
        except (psutil.Error, OSError) as exc:
            self._start()  # keep watching even if this pass failed
            raise EnforcementError(f"process scan failed: {exc}") from exc
        self._start()

    def revert(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None

    def health(self) -> Health:
        if self._thread is None or not self._thread.is_alive():
            return Health(self.name, False, "process watcher is not running")
        mode = "reporting" if self.report_only else "ending"
        return Health(self.name, True, f"{mode} {len(self._rules)} denied programs")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def scan_once(self) -> list[ProcessEvent]:
        with self._scan_lock:
            return self._scan()

    def _scan(self) -> list[ProcessEvent]:
        events: list[ProcessEvent] = []
        rules = self._rules  # one list for the whole pass, even if a plan swaps it meanwhile
        if not rules:
            return events
        if rules != self._clean_rules:  # new rules: everything must be judged again
            self._clean, self._clean_rules = set(), rules
        me = os.getpid()
        seen: set[bytes] = set()
        for pid in psutil.pids():
            if _owner(pid) in self._protected:
                continue  # root's and the agent's own: one stat(2), no file read
            identity = _identity(pid)
            if identity is not None:
                seen.add(identity)
                if identity in self._clean:
                    continue
            try:
                proc = psutil.Process(pid)
                info = proc.as_dict(["pid", "name", "exe", "uids", "create_time"])
            except psutil.Error:
                continue
            uids = info.get("uids")
            if info["pid"] == me or uids is None or uids.real in self._protected:
                if identity is not None:
                    self._clean.add(identity)
                continue
            name, exe = info.get("name") or "", info.get("exe") or ""
            rule = next((r for r in rules if _matches(r, name, exe)), None)
            if rule is None:
                if identity is not None:
                    self._clean.add(identity)
                continue
            event = self._act(proc, rule, name, exe, uids.real, info.get("create_time") or 0.0)
            if event is not None:
                events.append(event)
                self._on_event(event)
        self._clean &= seen  # forget processes that have gone
        return events

    def _act(
        self, proc: psutil.Process, rule: str, name: str, exe: str, uid: int, started: float
    ) -> ProcessEvent | None:
        if self.report_only:
            key = (proc.pid, started)
            if key in self._reported:
                return None  # report each running process once
            self._reported.add(key)
            return ProcessEvent(proc.pid, name, exe, uid, rule, "reported")
        try:
            proc.terminate()
            _, alive = psutil.wait_procs([proc], timeout=1.0)
            for survivor in alive:
                survivor.kill()
        except psutil.NoSuchProcess:
            pass
        except psutil.Error as exc:
            log.warning("cannot end %s (%s): %s", name, proc.pid, exc)
            return ProcessEvent(proc.pid, name, exe, uid, rule, "failed")
        return ProcessEvent(proc.pid, name, exe, uid, rule, "ended")

    def _start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, name="lessongate-processes", daemon=True
        )
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.scan_once()
            except Exception:  # the watcher must outlive one bad pass
                log.exception("process scan failed")
