"""Teacher staff id + PIN at the device, and the lockout after wrong PINs.

Verifier sources answer OK, WRONG or UNAVAILABLE; `ChainVerifier` asks them in order and takes
the first real answer, so the server's online check (issue 6) can sit in front of the cached
verifiers and a network fault never blocks a lesson. Until then the source is a file IT
provisions, TOML or JSON, mapping staff ids to argon2id hashes (never PINs)::

    [teachers]
    "t-ada" = "$argon2id$v=19$m=65536,t=3,p=4$..."

Make an entry with `python -m agent.teacher_auth hash --teacher t-ada` (asks for the PIN twice).

Lockout: five wrong PINs in a row lock the prompt for 30 s; after that every further wrong PIN
locks it again for twice as long (60 s, 120 s, ... up to 15 min) until a correct PIN resets it.
The lock is per device, not per staff id, so guessing across staff ids gains nothing, and it is
persisted, so restarting the agent does not lift it. Within one boot the lock runs on the
monotonic clock; across a reboot it runs on the wall clock but never longer than the lock was.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from agent.clock import Now
from agent.state_store import atomic_write_json, read_json

FREE_ATTEMPTS = 5
FIRST_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 15 * 60
MIN_PIN_LENGTH = 4

# OWASP's minimum for argon2id (t=2, m=19 MiB, p=1), the server's PIN parameters too
# (server_stub/security.py). A 4-12 digit PIN falls to an offline search at any practical cost;
# the lockout below and the server's rate limits are what protect it, so the hash is kept cheap
# enough (tens of ms, not ~0.6 s) to check at the device without stalling it. Verifying uses the
# parameters stored in each hash, so older, costlier hashes keep working.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
# Verified against when the staff id is unknown, so timing does not reveal which ids exist.
_DUMMY_HASH = _hasher.hash("not-a-pin")


class Verdict(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    UNAVAILABLE = "unavailable"


class VerifierSource(Protocol):
    name: str

    def verify(self, staff_id: str, pin: str) -> Verdict: ...


def hash_pin(pin: str) -> str:
    if len(pin) < MIN_PIN_LENGTH or not pin.strip():
        raise ValueError(f"a PIN needs at least {MIN_PIN_LENGTH} characters")
    return _hasher.hash(pin)


class CachedVerifiers:
    """staff id -> argon2id hash, e.g. as the server ships them with each policy bundle."""

    name = "cached"

    def __init__(self, hashes: Mapping[str, str] | None = None) -> None:
        self._hashes = dict(hashes or {})

    def update(self, hashes: Mapping[str, str]) -> None:
        self._hashes = dict(hashes)

    def verify(self, staff_id: str, pin: str) -> Verdict:
        if not self._hashes:
            return Verdict.UNAVAILABLE
        known = self._hashes.get(staff_id)
        try:
            _hasher.verify(known or _DUMMY_HASH, pin)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict.WRONG
        return Verdict.OK if known else Verdict.WRONG


class FileVerifiers:
    """The verifier file IT provisions; re-read when it changes. Missing or bad: UNAVAILABLE."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._cache = CachedVerifiers()

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except OSError as e:
            self.problem, self._stamp = f"{self.path}: {e.strerror or e}", None
            self._cache.update({})
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._cache.update(load_verifier_file(self.path))
            self.problem = None
        except ValueError as e:
            self.problem = str(e)
            self._cache.update({})

    def verify(self, staff_id: str, pin: str) -> Verdict:
        self._refresh()
        return self._cache.verify(staff_id, pin)


def load_verifier_file(path: Path) -> dict[str, str]:
    """Raises ValueError naming the file and the entry at fault."""
    try:
        text = path.read_text(encoding="utf-8")
        raw: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the teacher verifier file: {e}") from e
    teachers = raw.get("teachers") if isinstance(raw, dict) else None
    if not isinstance(teachers, dict):
        raise ValueError(f"{path}: needs a [teachers] table of staff id = argon2id hash")
    out: dict[str, str] = {}
    for staff_id, digest in teachers.items():
        if not isinstance(digest, str) or not digest.startswith("$argon2id$"):
            raise ValueError(
                f"{path}: teachers.{staff_id}: not an argon2id hash "
                "(make one with `python -m agent.teacher_auth hash`)"
            )
        out[staff_id] = digest
    return out


class ChainVerifier:
    name = "chain"

    def __init__(self, sources: Sequence[VerifierSource]) -> None:
        self.sources = list(sources)
        self.last_source: str | None = None

    def verify(self, staff_id: str, pin: str) -> Verdict:
        for source in self.sources:
            verdict = source.verify(staff_id, pin)
            if verdict is not Verdict.UNAVAILABLE:
                self.last_source = source.name
                return verdict
        return Verdict.UNAVAILABLE


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    error: str | None = None  # "empty_pin" | "wrong_pin" | "locked" | "no_verifier"
    retry_after: int | None = None
    # (event type, data) for the service to report; every one carries the teacher id.
    reports: tuple[tuple[str, dict[str, Any]], ...] = field(default_factory=tuple)


def lock_seconds(level: int) -> int:
    return int(min(FIRST_LOCK_SECONDS * 2 ** max(level - 1, 0), MAX_LOCK_SECONDS))


class TeacherAuth:
    def __init__(self, source: VerifierSource, lockout_file: Path) -> None:
        self.source = source
        self.lockout_file = lockout_file
        loaded = read_json(lockout_file)
        self.problem = loaded.problem
        self._s: dict[str, Any] = dict(loaded.data or {})
        if loaded.problem:
            # A damaged lockout file must not hand out free attempts: treat it as a first lock.
            self._s = {"failures": FREE_ATTEMPTS, "level": 1, "locked": None}

    def retry_after(self, now: Now) -> int:
        lock = self._s.get("locked")
        if not lock:
            return 0
        if lock["boot_id"] == now.boot_id:
            left = lock["until_mono"] - now.mono
        else:
            left = min(lock["until_wall"] - now.wall, lock["seconds"])
        return max(0, int(left + 0.999))

    def check(self, staff_id: str, pin: str, now: Now) -> AuthResult:
        who = {"teacher_id": staff_id}
        left = self.retry_after(now)
        if left:
            return AuthResult(False, "locked", left, (("pin_rejected_locked", who),))
        if not pin:
            return AuthResult(
                False, "empty_pin", None, (("pin_failed", {**who, "reason": "empty"}),)
            )
        verdict = self.source.verify(staff_id, pin)
        if verdict is Verdict.UNAVAILABLE:
            return AuthResult(False, "no_verifier", None, (("pin_unverifiable", who),))
        if verdict is Verdict.OK:
            self._s = {"failures": 0, "level": 0, "locked": None}
            self._save()
            return AuthResult(True, None, None, (("teacher_login", who),))
        failures = int(self._s.get("failures", 0)) + 1
        level = int(self._s.get("level", 0))
        reports: list[tuple[str, dict[str, Any]]] = [
            ("pin_failed", {**who, "reason": "wrong", "failures": failures})
        ]
        self._s["failures"] = failures
        if failures >= FREE_ATTEMPTS:
            level += 1
            seconds = lock_seconds(level)
            self._s["level"] = level
            self._s["locked"] = {
                "boot_id": now.boot_id,
                "until_mono": now.mono + seconds,
                "until_wall": now.wall + seconds,
                "seconds": seconds,
            }
            reports.append(("pin_locked", {**who, "seconds": seconds, "failures": failures}))
            self._save()
            return AuthResult(False, "locked", seconds, tuple(reports))
        self._save()
        return AuthResult(False, "wrong_pin", None, tuple(reports))

    def _save(self) -> None:
        atomic_write_json(self.lockout_file, self._s)


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    pin = getpass.getpass("New PIN: ")
    if getpass.getpass("Same PIN again: ") != pin:
        raise ValueError("the two PINs differ")
    return pin


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.teacher_auth")
    sub = parser.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hash", help="print a verifier-file line for a teacher's PIN")
    h.add_argument("--teacher", required=True, help="staff id")
    h.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    args = parser.parse_args(argv)
    try:
        digest = hash_pin(_read_pin(args.pin_stdin))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{json.dumps(args.teacher)} = {json.dumps(digest)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
