"""The district policy as the server holds it: imported from the policy directory (the source of
truth, in git), stored whole as JSON, and served per room as a signed bundle."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from policies.model import Policy
from server_stub import audit
from server_stub.db.models import PolicyVersion, Room
from server_stub.signing import SigningKey


@dataclass(frozen=True)
class SignedBundle:
    room_id: str
    version: str
    bundle: dict[str, Any]
    signature: str
    key_id: str

    @property
    def etag(self) -> str:
        digest = hashlib.sha256(f"{self.version}|{self.room_id}|{self.key_id}".encode()).hexdigest()
        return f'"{digest[:32]}"'


def import_policy(db: Session, directory: Path, actor: str) -> Policy:
    """Load and validate `directory`, then store it and its rooms. Raises PolicyError, writing
    nothing, when the policy is invalid."""
    from policies.loader import load_policy

    policy = load_policy(directory)
    store_policy(db, policy, actor)
    return policy


def store_policy(db: Session, policy: Policy, actor: str) -> None:
    """Make `policy` the current one and bring the rooms table in line with it."""
    db.add(
        PolicyVersion(
            version=policy.version, imported_by=actor, policy_json=policy.model_dump_json()
        )
    )
    keep = {r.id for r in policy.rooms}
    for room in policy.rooms:
        row = db.get(Room, room.id)
        if row is None:
            row = Room(id=room.id)
            db.add(row)
        row.name, row.school, row.band = room.name, room.school, room.band
        row.device_names = list(room.devices)
    # Rooms gone from the policy go too; devices in them get no bundle until reassigned.
    db.execute(delete(Room).where(Room.id.not_in(keep)))
    audit.record(
        db,
        actor=actor,
        role="admin",
        action="policy_import",
        detail=f"version {policy.version}: {len(policy.rooms)} rooms, "
        f"{len(policy.objectives)} objectives",
    )


def bundle_serial_for(imported_at: datetime) -> int:
    """A bundle's serial: its import time in microseconds since 1970 (UTC). It grows with every
    import, and keeps growing after the database is restored from a backup (a row id would
    start again below what devices already hold, and they would refuse every bundle)."""
    if imported_at.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
        imported_at = imported_at.replace(tzinfo=UTC)
    return (imported_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


class PolicyCache:
    """Parses the current policy once per version and signs each room's bundle once."""

    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._policy: tuple[int, Policy, int] | None = None  # row id, policy, bundle serial
        self._checked = 0.0
        self._bundles: dict[tuple[int, str], SignedBundle] = {}

    def current(self, db: Session, max_age: float = 0.0) -> tuple[int, Policy] | None:
        """The newest imported policy. With `max_age`, a result checked less than that many
        seconds ago is reused without asking the database (for the heartbeat path)."""
        found = self._current(db, max_age)
        return (found[0], found[1]) if found else None

    def _current(self, db: Session, max_age: float) -> tuple[int, Policy, int] | None:
        if max_age > 0:
            with self._lock:
                if self._policy is not None and time.monotonic() - self._checked < max_age:
                    return self._policy
        row = db.execute(
            select(PolicyVersion.id).order_by(PolicyVersion.id.desc()).limit(1)
        ).scalar_one_or_none()
        if row is None:
            return None
        with self._lock:
            if self._policy is not None and self._policy[0] == row:
                self._checked = time.monotonic()
                return self._policy
        text, imported_at = db.execute(
            select(PolicyVersion.policy_json, PolicyVersion.imported_at).where(
                PolicyVersion.id == row
            )
        ).one()
        found = (row, Policy.model_validate_json(text), bundle_serial_for(imported_at))
        with self._lock:
            self._policy = found
            self._checked = time.monotonic()
            self._bundles.clear()
        return found

    def recent_version(self, room_id: str, max_age: float) -> tuple[bool, str | None]:
        """(True, version) from memory when the policy was checked less than `max_age` s ago and
        the room's bundle is built; (False, None) when the database must be asked."""
        with self._lock:
            if self._policy is None or time.monotonic() - self._checked >= max_age:
                return False, None
            signed = self._bundles.get((self._policy[0], room_id))
            if signed is not None:
                return True, signed.version
            return False, None

    def policy(self, db: Session) -> Policy | None:
        found = self.current(db)
        return found[1] if found else None

    def bundle_for_room(
        self, db: Session, room_id: str, max_age: float = 0.0
    ) -> SignedBundle | None:
        from policies.bundle import canonical_json, room_bundle

        found = self._current(db, max_age)
        if found is None:
            return None
        pid, policy, serial = found
        with self._lock:
            cached = self._bundles.get((pid, room_id))
        if cached is not None:
            return cached
        if policy.room(room_id) is None:
            return None
        data = room_bundle(policy, room_id, serial=serial)
        signed = SignedBundle(
            room_id=room_id,
            version=str(data.get("version", policy.version)),
            bundle=data,
            signature=self._key.sign_b64(canonical_json(data)),
            key_id=self._key.key_id,
        )
        with self._lock:
            self._bundles[(pid, room_id)] = signed
        return signed
