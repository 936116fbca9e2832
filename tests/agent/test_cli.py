"""The real `lessongate-agent run` in a subprocess (loopback only, temp state, enforce = false),
driven by the CLI as a teacher or IT would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

OBJ = "CCSS.MATH.3.OA.A.1"
AGENT = [sys.executable, "-m", "agent.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    digest = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("4821")
    (tmp_path / "teachers.toml").write_text(f'[teachers]\n"t-ada" = "{digest}"\n')
    conf = tmp_path / "agent.toml"
    conf.write_text(
        'state_dir = "state"\ndevice_id = "demo-device"\nverifier_file = "teachers.toml"\n'
        "enforce = false\n"
        f"ui_port = 0\nproxy_port = {free_port()}\n"
    )
    return {**os.environ, "LESSONGATE_AGENT_CONFIG": str(conf)}


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def status(env: dict[str, str]) -> dict[str, object]:
    out = cli(env, "status", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def agent(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    procs: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen([*AGENT, "run"], env=env, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        sock = tmp_path / "state" / "control.sock"
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "agent did not come up"
            time.sleep(0.05)
        return proc

    yield start()  # type: ignore[misc]
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_run_status_unlock_end(agent: subprocess.Popen[str], env: dict[str, str]) -> None:
    before = status(env)
    assert before["state"] == "closed"
    assert before["room"] == "lab-3a" and before["enforce"] is False
    assert before["policy_version"]

    wrong = cli(env, "unlock", "--teacher", "t-ada", "--objective", OBJ, "--pin-stdin", stdin="1\n")
    assert wrong.returncode == 1
    assert "wrong_pin" in wrong.stderr
    too_long = cli(
        env,
        "unlock",
        "--teacher",
        "t-ada",
        "--objective",
        OBJ,
        "--minutes",
        "500",
        "--pin-stdin",
        stdin="4821\n",
    )
    assert too_long.returncode == 1 and "60 minutes" in too_long.stderr
    assert status(env)["state"] == "closed"

    ok = cli(
        env,
        "unlock",
        "--teacher",
        "t-ada",
        "--objective",
        OBJ,
        "--minutes",
        "15",
        "--pin-stdin",
        stdin="4821\n",
    )
    assert ok.returncode == 0, ok.stderr
    during = status(env)
    assert (during["state"], during["teacher"], during["objectives"]) == ("open", "t-ada", [OBJ])
    assert isinstance(during["expires_at"], float)
    assert 14 * 60 < during["seconds_left"] <= 15 * 60  # type: ignore[operator]

    text = cli(env, "status")
    assert "state:       open" in text.stdout and "t-ada" in text.stdout

    assert cli(env, "end").returncode == 0
    assert status(env)["state"] == "closed"
    again = cli(env, "end")
    assert again.returncode == 1 and "not_open" in again.stderr

    agent.send_signal(signal.SIGTERM)
    assert agent.wait(20) == 0
    gone = cli(env, "status")
    assert gone.returncode == 3 and "is `lessongate-agent run` running?" in gone.stderr


def test_killed_agent_restarts_into_the_same_session(
    agent: subprocess.Popen[str], env: dict[str, str], tmp_path: Path
) -> None:
    ok = cli(env, "unlock", "--teacher", "t-ada", "--objective", OBJ, "--pin-stdin", stdin="4821\n")
    assert ok.returncode == 0, ok.stderr
    session = status(env)["session_id"]
    agent.kill()
    agent.wait(10)
    restarted = subprocess.Popen([*AGENT, "run"], env=env, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            out = cli(env, "status", "--json")
            if out.returncode == 0:
                break
            assert time.monotonic() < deadline, out.stderr
            time.sleep(0.1)
        after = json.loads(out.stdout)
        assert (after["state"], after["session_id"]) == ("open", session)
    finally:
        restarted.terminate()
        restarted.wait(20)
    log = (tmp_path / "state" / "events.jsonl").read_text()
    assert '"session_resumed"' in log


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text("enforce = 'yes'\n")
    out = subprocess.run(
        [*AGENT, "--config", str(conf), "status"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert str(conf) in out.stderr and "'enforce'" in out.stderr


def _with_code(env: dict[str, str], tmp_path: Path, code: str) -> str:
    made = cli(env, "hash-code", "--code-stdin", stdin=code + "\n")
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert line.startswith('disable_code_hash = "$argon2id$') and code not in line
    conf = Path(env["LESSONGATE_AGENT_CONFIG"])
    conf.write_text(conf.read_text() + line + "\n")
    return line


def _log(tmp_path: Path) -> list[dict[str, object]]:
    text = (tmp_path / "state" / "events.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_disable_and_enable_without_a_running_agent(env: dict[str, str], tmp_path: Path) -> None:
    _with_code(env, tmp_path, "it-code-2468")
    wrong = cli(env, "disable", "--code-stdin", stdin="it-code-0000\n")
    assert wrong.returncode == 1 and "wrong_code" in wrong.stderr
    assert not (tmp_path / "state" / "enforcement-disabled.json").exists()

    right = cli(env, "disable", "--code", "it-code-2468")
    assert right.returncode == 0, right.stderr
    assert (tmp_path / "state" / "enforcement-disabled.json").exists()
    events = _log(tmp_path)
    assert [e["type"] for e in events] == ["disable_refused", "enforcement_disabled"]
    assert "it-code" not in json.dumps(events)

    assert cli(env, "enable").returncode == 0
    assert not (tmp_path / "state" / "enforcement-disabled.json").exists()
    assert _log(tmp_path)[-1]["type"] == "enforcement_enabled"


def test_disable_through_the_running_agent(env: dict[str, str], tmp_path: Path) -> None:
    _with_code(env, tmp_path, "it-code-2468")
    proc = subprocess.Popen([*AGENT, "run"], env=env, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        while cli(env, "status").returncode != 0:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        assert cli(env, "disable", "--code-stdin", stdin="nope-nope\n").returncode == 1
        assert status(env)["enforcement"]["mode"] == "safe"  # type: ignore[index]
        assert cli(env, "disable", "--code-stdin", stdin="it-code-2468\n").returncode == 0
        now = status(env)
        assert now["enforcement"]["mode"] == "disabled"  # type: ignore[index]
        assert "disabled" in cli(env, "status").stdout
        assert cli(env, "enable").returncode == 0
        assert status(env)["enforcement"]["mode"] == "safe"  # type: ignore[index]
    finally:
        proc.terminate()
        proc.wait(20)
    kinds = [e["type"] for e in _log(tmp_path)]
    assert kinds.count("disable_refused") == 1 and kinds.count("enforcement_disabled") == 1
    assert kinds.index("enforcement_enabled") > kinds.index("enforcement_disabled")
