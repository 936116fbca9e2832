"""`serve` options: several worker processes only on PostgreSQL, refused clearly on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from server_stub.cli import main


def test_several_workers_on_sqlite_are_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--data-dir", str(tmp_path / "data"), "--workers", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--workers 2 needs PostgreSQL" in err and "SQLite allows one writer" in err
    # Refused before anything was created or migrated.
    assert not (tmp_path / "data" / "lessongate.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--heartbeat-flush-ms", "0"], "--heartbeat-flush-ms must be between 10 and 60000"),
    ],
)
def test_bad_serve_options_are_refused(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--data-dir", str(tmp_path / "data"), *args]) == 2
    assert message in capsys.readouterr().err
