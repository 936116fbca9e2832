"""`lessongate-server` commands, run in-process against a fresh data directory."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from server_stub.cli import main
from server_stub.config import Settings
from server_stub.db.models import EnrollmentToken, TeacherRoom, User
from server_stub.db.session import make_engine, make_sessionmaker
from server_stub.security import token_digest


def _run(args: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    assert monkeypatch is not None
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(args)


def test_setup_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    assert _run(["migrate", *d], monkeypatch=monkeypatch) == 0
    assert _run(["import-policy", *d], monkeypatch=monkeypatch) == 0
    assert "imported policy" in capsys.readouterr().out
    assert (
        _run(["create-admin", "it", "--password-stdin", *d], "long enough pw\n", monkeypatch) == 0
    )
    assert (
        _run(
            [
                "create-teacher",
                "ms-b",
                "--name",
                "Ms B",
                "--room",
                "lab-3a",
                "--password-stdin",
                *d,
            ],
            "teacher password\n2468\n",
            monkeypatch,
        )
        == 0
    )
    assert (
        _run(
            ["create-enrollment-token", "--room", "lab-3a", "--uses", "3", *d],
            monkeypatch=monkeypatch,
        )
        == 0
    )
    token = capsys.readouterr().out.strip().splitlines()[-1]
    engine = make_engine(Settings(data_dir=tmp_path / "data"))
    try:
        with make_sessionmaker(engine)() as db:
            teacher = db.execute(select(User).where(User.username == "ms-b")).scalar_one()
            assert (
                teacher.role == "teacher"
                and teacher.pin_hash
                and teacher.pin_hash.startswith("$argon2id$")
            )
            assert db.get(TeacherRoom, (teacher.id, "lab-3a")) is not None
            row = db.execute(
                select(EnrollmentToken).where(EnrollmentToken.token_hash == token_digest(token))
            ).scalar_one()
            assert row.room_id == "lab-3a" and row.max_uses == 3
    finally:
        engine.dispose()


def test_command_line_errors_are_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    assert _run(["create-admin", "it", "--password-stdin", *d], "short\n", monkeypatch) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert (
        _run(
            ["create-teacher", "t", "--room", "nowhere", "--password-stdin", *d],
            "long enough pw\n1234\n",
            monkeypatch,
        )
        == 2
    )
    assert "unknown room(s): nowhere" in capsys.readouterr().err
    assert (
        _run(["create-teacher", "t", "--password-stdin", *d], "long enough pw\n12\n", monkeypatch)
        == 2
    )
    assert "PIN must be 4 to 12 digits" in capsys.readouterr().err
    assert _run(["create-enrollment-token", "--room", "nowhere", *d], monkeypatch=monkeypatch) == 2
    assert "unknown room 'nowhere'" in capsys.readouterr().err
    broken = tmp_path / "empty-policy"
    broken.mkdir()
    assert _run(["import-policy", str(broken), *d], monkeypatch=monkeypatch) == 2
    assert "not imported" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["create-enrollment-token", *d])  # needs --room or --school


def test_serve_answers_pending_long_polls_when_stopped(tmp_path: Path) -> None:
    import threading

    import httpx

    from tests.server_stub.serverproc import Server, enroll_many, prepare

    data = tmp_path / "data"
    token = prepare(data)
    server = Server(data)
    try:
        device = enroll_many(server.url, token, 1)[0]
        answers: list[httpx.Response] = []

        def poll() -> None:
            answers.append(
                httpx.get(
                    f"{server.url}/api/v1/commands",
                    params={"after": 0, "wait": 25},
                    headers={"Authorization": f"Bearer {device}"},
                    timeout=60,
                )
            )

        poller = threading.Thread(target=poll)
        poller.start()
        # The poll is waiting once the server has it; give it a moment to get there.
        poller.join(1.5)
    finally:
        server.stop()
    poller.join(30)
    assert answers and answers[0].status_code == 200
    assert answers[0].json() == {"cursor": 0, "commands": []}
