"""Real processes for the agent ⇄ server tests: `lessongate-server serve` on SQLite in a temp
folder and `lessongate-agent run` (safe mode, loopback only), each ended by its pid."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from argon2 import PasswordHasher

from agent.control import ControlError, request

SERVER = [sys.executable, "-m", "server_stub.cli"]
AGENT = [sys.executable, "-m", "agent.cli"]
ROOM = "lab-3a"
OBJECTIVE = "NGSS.3-ESS2-1"
TEACHER, PASSWORD, PIN = "t-demo", "correct horse battery", "482913"


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A private temp folder, on tmpfs when there is one: these tests are about delivery, and a
    slow disk's fsyncs would only make them slow (durability has its own unit tests)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="lg-report-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    """Polls `check` until it returns something truthy; fails the test after `timeout`."""
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            last = check()
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


def stop_process(
    proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace: float = 15.0
) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


class Server:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str = "") -> str:
        out = subprocess.run(
            [*SERVER, args[0], "--data-dir", str(self.data_dir), *args[1:]],
            input=stdin.encode(),
            capture_output=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr.decode()
        return out.stdout.decode().strip()

    def setup(self, teacher_room: str | None = ROOM) -> None:
        """Imports the bundled policy; a teacher for `teacher_room` (None: no teacher, so the
        device's PIN chain falls through to the local verifier file)."""
        self.cli("import-policy")
        if teacher_room is None:
            return
        self.cli(
            "create-teacher",
            TEACHER,
            "--room",
            teacher_room,
            "--password-stdin",
            stdin=f"{PASSWORD}\n{PIN}\n",
        )

    def token(self, uses: int = 50) -> str:
        return self.cli("create-enrollment-token", "--room", ROOM, "--uses", str(uses))

    def start(self) -> None:
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                *SERVER,
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        wait_for(lambda: requests.get(self.url + "/healthz", timeout=1).ok, 30)

    def stop(self) -> None:
        if self.proc is not None:
            # uvicorn's graceful stop waits for open long-polls (25 s); a test needs it gone.
            stop_process(self.proc, grace=3.0)
            self.proc = None

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "lessongate.db")

    def events(self, device_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(event id, type, data) as stored, in the device's order (`seq`)."""
        with contextlib.closing(self.db()) as db:
            rows = db.execute(
                "SELECT event_id, type, data FROM device_events WHERE device_id = ?", (device_id,)
            ).fetchall()
        out = [(r[0], r[1], json.loads(r[2])) for r in rows]
        return sorted(out, key=lambda r: int(r[2].get("seq", 0)))


def local_events(state: Path) -> list[dict[str, Any]]:
    """The agent's own JSON-lines event log, oldest first."""
    out = []
    for name in ("events.jsonl.1", "events.jsonl"):
        path = state / name
        if path.exists():
            out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def blocked_connect(proxy_port: int, host: str = "not-in-lesson.invalid") -> bytes:
    """A CONNECT the agent's proxy refuses before any lookup (the name is not in the policy)."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as s:
        s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        return s.recv(200)


def fast_verifier_file(path: Path, staff_id: str = "t-local", pin: str = "2468") -> None:
    digest = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(pin)
    path.write_text(f'[teachers]\n"{staff_id}" = "{digest}"\n')


class Agent:
    def __init__(
        self, root: Path, *, heartbeat: float = 1.0, device_id: str = "demo-device", extra: str = ""
    ) -> None:
        self.root = root
        self.state = root / "state"
        self.config = root / "agent.toml"
        fast_verifier_file(root / "teachers.toml")
        self.config.write_text(
            f'state_dir = "state"\ndevice_id = "{device_id}"\nverifier_file = "teachers.toml"\n'
            f"enforce = false\nui_port = 0\nproxy_port = {free_port()}\n"
            f"heartbeat_seconds = {heartbeat}\n{extra}"
        )
        self.env = {**os.environ, "LESSONGATE_KEYRING": "file"}
        self.proc: subprocess.Popen[str] | None = None

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AGENT, "--config", str(self.config), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def enroll(self, server: Server, token: str) -> str:
        out = self.cli("enroll", "--server", server.url, "--token", token)
        assert out.returncode == 0, out.stderr
        return str(json.loads((self.state / "enrollment.json").read_text())["data"]["device_id"])

    def start(self) -> None:
        log = open(self.root / "agent.log", "a")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [*AGENT, "--config", str(self.config), "run"],
            env=self.env,
            stdout=log,
            stderr=log,
            text=True,
        )
        log.close()
        wait_for(lambda: self.status(), 30)

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        return request(self.state / "control.sock", payload, timeout=10)

    def status(self) -> dict[str, Any]:
        try:
            answer = self.request({"cmd": "status"})
        except ControlError:
            return {}
        return dict(answer.get("status") or {})

    def server(self) -> dict[str, Any]:
        return dict(self.status().get("server") or {})

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop_process(self.proc, sig)
            self.proc = None
