from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agent.enforce.base import Enforcer
from agent.enforce.processes import ProcessEnforcer, ProcessEvent
from agent.enforce.settings import EnforceSettings
from tests.agent.enforce.contract import EnforcerContract


@contextlib.contextmanager
def student_program(tmp_path: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A copy of `sleep` called `name`, run as the unprivileged user `nobody`."""
    exe = tmp_path / name
    shutil.copy("/bin/sleep", exe)
    tmp_path.chmod(0o755)
    exe.chmod(0o755)
    proc = subprocess.Popen(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(exe), "60"]
    )
    try:
        _wait_started_as(proc, name)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)


def _wait_started_as(proc: subprocess.Popen[bytes], name: str, limit: float = 10.0) -> None:
    """Until setpriv has dropped to `nobody` and exec'd the program (psutil then sees `name`)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(psutil.NoSuchProcess):
            p = psutil.Process(proc.pid)
            if p.name() == name and p.uids().real == 65534:
                return
        time.sleep(0.01)
    raise AssertionError(f"{name} did not start as nobody within {limit} s")


def wait_exit(proc: subprocess.Popen[bytes], limit: float = 10.0) -> int | None:
    """Bounded poll; the time taken is not asserted."""
    try:
        return proc.wait(limit)
    except subprocess.TimeoutExpired:
        return None


class TestProcessEnforcer(EnforcerContract):
    @pytest.fixture
    def backend(self) -> Iterator[Enforcer]:
        enforcer = ProcessEnforcer(EnforceSettings(denied_processes=("lg-denied-*",)), interval=0.1)
        yield enforcer
        enforcer.revert()

    def observe(self, backend: Enforcer) -> object:
        assert isinstance(backend, ProcessEnforcer)
        return backend.running

    def installed(self, backend: Enforcer) -> bool:
        assert isinstance(backend, ProcessEnforcer)
        return backend.running

    def is_closed(self, backend: Enforcer) -> bool:
        # Denied programs are denied in every state: "closed" means the watcher runs.
        assert isinstance(backend, ProcessEnforcer)
        return backend.running

    opens = False

    @contextlib.contextmanager
    def broken(self, backend: Enforcer) -> Iterator[None]:
        real = psutil.pids

        def failing(*args: object, **kwargs: object) -> object:
            raise psutil.AccessDenied(0)

        psutil.pids = failing  # type: ignore[assignment]
        try:
            yield
        finally:
            psutil.pids = real


def test_a_denied_program_of_a_student_is_ended_and_reported(tmp_path: Path) -> None:
    events: list[ProcessEvent] = []
    enforcer = ProcessEnforcer(
        EnforceSettings(denied_processes=("tor-browser-e2e", f"{tmp_path}/portable-*")),
        events.append,
        interval=0.1,
    )
    from tests.agent.enforce.contract import closed_plan

    with student_program(tmp_path, "tor-browser-e2e") as by_name:
        enforcer.apply(closed_plan())
        try:
            assert wait_exit(by_name) is not None
            with student_program(tmp_path, "portable-chrome") as by_path:
                assert wait_exit(by_path) is not None
        finally:
            enforcer.revert()
    assert [(e.name, e.action) for e in events] == [
        ("tor-browser-e2e", "ended"),
        ("portable-chrome", "ended"),
    ]
    assert {e.uid for e in events} == {65534}  # nobody


def test_report_only_mode_and_protected_users(tmp_path: Path) -> None:
    events: list[ProcessEvent] = []
    rootly = subprocess.Popen([shutil.copy("/bin/sleep", tmp_path / "lg-root-sleep"), "60"])
    try:
        enforcer = ProcessEnforcer(
            EnforceSettings(denied_processes=("lg-root-sleep", "lg-student-sleep")),
            events.append,
            report_only=True,
        )
        with student_program(tmp_path, "lg-student-sleep") as student:
            enforcer.scan_once()
            enforcer.scan_once()
            assert student.poll() is None  # reported, not ended
        assert [(e.name, e.action) for e in events] == [("lg-student-sleep", "reported")]
        assert rootly.poll() is None  # root's processes are never touched
    finally:
        rootly.kill()
        rootly.wait(5)


def test_the_policy_list_comes_with_the_plan(tmp_path: Path) -> None:
    """A policy update (a new plan) changes what is ended, without a new enforcer."""
    from dataclasses import replace

    from tests.agent.enforce.contract import closed_plan

    events: list[ProcessEvent] = []
    enforcer = ProcessEnforcer(EnforceSettings(), events.append, interval=0.1)
    try:
        with student_program(tmp_path, "lg-policy-denied") as student:
            time.sleep(0.2)  # past setpriv's exec, so the name is the program's
            enforcer.apply(closed_plan())
            assert enforcer.scan_once() == [] and student.poll() is None
            enforcer.apply(replace(closed_plan(), denied_processes=("lg-policy-*",)))
            assert wait_exit(student) is not None
    finally:
        enforcer.revert()
    # The apply's own pass and the watcher may both see it go: one program, one rule.
    assert {(e.name, e.rule, e.action) for e in events} == {
        ("lg-policy-denied", "lg-policy-*", "ended")
    }


def test_a_harmless_process_that_execs_a_denied_program_is_caught() -> None:
    """Harmless processes are remembered between passes; exec'ing another program (same pid)
    must still be seen."""
    # The student (nobody) must reach the files: a folder of its own, not pytest's 0700 one.
    with tempfile.TemporaryDirectory(prefix="lg-exec-") as folder:
        _exec_into_denied(Path(folder))


def _exec_into_denied(tmp_path: Path) -> None:
    denied = tmp_path / "lg-exec-denied"
    shutil.copy("/bin/sleep", denied)
    tmp_path.chmod(0o755)
    denied.chmod(0o755)
    events: list[ProcessEvent] = []
    enforcer = ProcessEnforcer(EnforceSettings(denied_processes=("lg-exec-denied",)), events.append)
    enforcer._rules = ("lg-exec-denied",)
    go = tmp_path / "go"
    script = f"while [ ! -e {go} ]; do sleep 0.05; done; exec {denied} 60"
    proc = subprocess.Popen(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script]
    )
    try:
        enforcer.scan_once()
        enforcer.scan_once()  # the shell is now known to be harmless
        assert proc.poll() is None and not events
        go.touch()
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            enforcer.scan_once()
            time.sleep(0.05)
        assert [(e.name, e.action, e.pid) for e in events] == [
            ("lg-exec-denied", "ended", proc.pid)
        ]
        assert wait_exit(proc) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
