from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from agent.clock import Now
from agent.teacher_auth import (
    CachedVerifiers,
    ChainVerifier,
    FileVerifiers,
    TeacherAuth,
    Verdict,
    load_verifier_file,
)

# Cheap parameters keep the tests fast; verification reads the parameters from the hash itself.
ADA_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("4821")


def now(t: float, boot: str = "boot-1") -> Now:
    return Now(wall=1_700_000_000 + t, mono=t, boot_id=boot)


@pytest.fixture
def verifiers(tmp_path: Path) -> Path:
    path = tmp_path / "teachers.toml"
    path.write_text(f'[teachers]\n"t-ada" = "{ADA_HASH}"\n')
    return path


def make_auth(tmp_path: Path, verifiers: Path) -> TeacherAuth:
    return TeacherAuth(FileVerifiers(verifiers), tmp_path / "pin_lockout.json")


def test_right_pin_logs_in_and_is_reported(tmp_path: Path, verifiers: Path) -> None:
    result = make_auth(tmp_path, verifiers).check("t-ada", "4821", now(0))
    assert result.ok
    assert result.reports == (("teacher_login", {"teacher_id": "t-ada"}),)


def test_wrong_empty_and_unknown_staff(tmp_path: Path, verifiers: Path) -> None:
    auth = make_auth(tmp_path, verifiers)
    wrong = auth.check("t-ada", "1111", now(0))
    assert (wrong.ok, wrong.error) == (False, "wrong_pin")
    assert wrong.reports[0][0] == "pin_failed"
    assert wrong.reports[0][1]["teacher_id"] == "t-ada"
    empty = auth.check("t-ada", "", now(1))
    assert (empty.ok, empty.error) == (False, "empty_pin")
    assert empty.reports[0][1] == {"teacher_id": "t-ada", "reason": "empty"}
    unknown = auth.check("t-nobody", "4821", now(2))
    assert (unknown.ok, unknown.error) == (False, "wrong_pin")


def test_five_wrong_pins_lock_with_growing_backoff(tmp_path: Path, verifiers: Path) -> None:
    auth = make_auth(tmp_path, verifiers)
    for i in range(4):
        assert auth.check("t-ada", "0000", now(i)).error == "wrong_pin"
    fifth = auth.check("t-ada", "0000", now(4))
    assert (fifth.error, fifth.retry_after) == ("locked", 30)
    assert ("pin_locked", {"teacher_id": "t-ada", "seconds": 30, "failures": 5}) in fifth.reports
    # Even the right PIN is refused while locked, and the refusal is reported.
    locked = auth.check("t-ada", "4821", now(10))
    assert (locked.ok, locked.error, locked.retry_after) == (False, "locked", 24)
    assert locked.reports == (("pin_rejected_locked", {"teacher_id": "t-ada"}),)
    # After the lock, one more wrong PIN locks again, twice as long.
    again = auth.check("t-ada", "0000", now(35))
    assert (again.error, again.retry_after) == ("locked", 60)
    third = auth.check("t-ada", "0000", now(100))
    assert third.retry_after == 120
    # A right PIN after the lock resets everything.
    assert auth.check("t-ada", "4821", now(300)).ok
    assert auth.check("t-ada", "0000", now(301)).error == "wrong_pin"


def test_lockout_survives_restart_and_reboot(tmp_path: Path, verifiers: Path) -> None:
    auth = make_auth(tmp_path, verifiers)
    for i in range(5):
        auth.check("t-ada", "0000", now(i))
    restarted = make_auth(tmp_path, verifiers)
    assert restarted.check("t-ada", "4821", now(5)).error == "locked"
    # After a reboot the monotonic clock restarts near zero; the wall clock still counts.
    rebooted = make_auth(tmp_path, verifiers)
    assert rebooted.retry_after(Now(wall=1_700_000_000 + 20, mono=1.0, boot_id="boot-2")) == 14
    # Setting the wall clock back does not make the lock longer than it was.
    assert rebooted.retry_after(Now(wall=1_600_000_000, mono=1.0, boot_id="boot-2")) == 30
    assert rebooted.check("t-ada", "4821", Now(1_700_000_040, 3.0, "boot-2")).ok


def test_corrupt_lockout_file_locks_rather_than_frees(tmp_path: Path, verifiers: Path) -> None:
    (tmp_path / "pin_lockout.json").write_text("garbage")
    auth = make_auth(tmp_path, verifiers)
    assert auth.problem is not None
    assert auth.check("t-ada", "0000", now(0)).error == "locked"


def test_no_verifier_file_is_unavailable_not_wrong(tmp_path: Path) -> None:
    source = FileVerifiers(tmp_path / "missing.toml")
    auth = TeacherAuth(source, tmp_path / "lock.json")
    result = auth.check("t-ada", "4821", now(0))
    assert (result.ok, result.error) == (False, "no_verifier")
    assert source.problem is not None and "missing.toml" in source.problem


def test_chain_falls_back_when_online_is_unavailable() -> None:
    class Offline:
        name = "online"

        def verify(self, staff_id: str, pin: str) -> Verdict:
            return Verdict.UNAVAILABLE

    chain = ChainVerifier([Offline(), CachedVerifiers({"t-ada": ADA_HASH})])
    assert chain.verify("t-ada", "4821") is Verdict.OK
    assert chain.last_source == "cached"


def test_bad_verifier_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "teachers.toml"
    path.write_text('[teachers]\n"t-bob" = "4821"\n')
    with pytest.raises(ValueError, match=r"teachers\.t-bob: not an argon2id hash"):
        load_verifier_file(path)


def test_json_verifier_file(tmp_path: Path) -> None:
    path = tmp_path / "teachers.json"
    path.write_text(f'{{"teachers": {{"t-ada": "{ADA_HASH}"}}}}')
    assert FileVerifiers(path).verify("t-ada", "4821") is Verdict.OK


def test_hash_command_makes_a_usable_entry(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent.teacher_auth", "hash", "--teacher", "t-cy", "--pin-stdin"],
        input="7777\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = tmp_path / "teachers.toml"
    path.write_text("[teachers]\n" + out)
    assert FileVerifiers(path).verify("t-cy", "7777") is Verdict.OK
    too_short = subprocess.run(
        [sys.executable, "-m", "agent.teacher_auth", "hash", "--teacher", "t-cy", "--pin-stdin"],
        input="12\n",
        capture_output=True,
        text=True,
    )
    assert too_short.returncode == 2 and "at least 4" in too_short.stderr


def test_pin_hashes_use_owasps_argon2id_minimum() -> None:
    from argon2 import extract_parameters

    from agent.teacher_auth import hash_pin

    p = extract_parameters(hash_pin("4821"))
    assert (p.type.name, p.time_cost, p.memory_cost, p.parallelism) == ("ID", 2, 19 * 1024, 1)
