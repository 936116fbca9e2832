"""Runs a real `lessongate-server serve` on 127.0.0.1 and a free port, for tests and benches."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx

PASSWORD = "correct horse battery"


def server_command() -> list[str]:
    script = Path(sys.executable).parent / "lessongate-server"
    if not script.exists():
        raise RuntimeError(f"{script} missing: install the project (pip install -e .)")
    return [str(script)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli(data_dir: Path, database_url: str, *args: str, stdin: str = "") -> str:
    """Runs a `lessongate-server` command in this process (start-up costs seconds otherwise)."""
    from server_stub.cli import main

    argv = [*args, "--data-dir", str(data_dir)]
    if database_url:
        argv += ["--database-url", database_url]
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = saved
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {err.getvalue()}")
    return out.getvalue()


def prepare(data_dir: Path, database_url: str = "") -> str:
    """Schema, the bundled policy, an admin and a teacher of lab-3a (PIN 1234); returns an
    enrollment token for lab-3a."""
    cli(data_dir, database_url, "import-policy")
    cli(data_dir, database_url, "create-admin", "it", "--password-stdin", stdin=PASSWORD + "\n")
    cli(
        data_dir,
        database_url,
        "create-teacher",
        "alice",
        "--name",
        "Alice",
        "--room",
        "lab-3a",
        "--password-stdin",
        stdin=f"{PASSWORD}\n1234\n",
    )
    out = cli(
        data_dir, database_url, "create-enrollment-token", "--room", "lab-3a", "--uses", "500"
    )
    return out.strip().splitlines()[-1]


class Server:
    def __init__(
        self,
        data_dir: Path,
        database_url: str = "",
        log: Path | None = None,
        extra_args: tuple[str, ...] = (),
        command: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [*(command or server_command()), "serve", "--data-dir", str(data_dir)]
        cmd += ["--port", str(self.port), "--log-level", "warning", *extra_args]
        if database_url:
            cmd += ["--database-url", database_url]
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(log or data_dir / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self._log.name}"
                )
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout} s; see {self._log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Signs `client` in through the dashboard form; returns the session's CSRF token."""
    import re

    field = re.compile(r'name="csrf_token" value="([^"]+)"')
    form = client.get("/login")
    found = field.search(form.text)
    assert found is not None
    r = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": found.group(1)}
    )
    assert r.status_code in (200, 303), r.text
    page = client.get("/rooms")
    found = field.search(page.text)
    assert found is not None
    return found.group(1)


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str]:
    """A new empty database on the local PostgreSQL, dropped afterwards."""
    import secrets

    import psycopg

    name = f"lg_scratch_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def enroll_many(base_url: str, token: str, count: int) -> list[str]:
    """Enrolls `count` devices; returns their device tokens."""
    tokens = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for i in range(count):
            r = client.post("/api/v1/enroll", json={"token": token, "hostname": f"sim-{i:04d}"})
            r.raise_for_status()
            tokens.append(r.json()["device_token"])
    return tokens
