"""Importing the district policy directory: rooms, versions, refusal of a broken policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from policies import DEFAULT_POLICY_DIR
from policies.errors import PolicyError
from server_stub.db.models import PolicyVersion, Room
from server_stub.policy_store import import_policy
from tests.server_stub.conftest import World


def test_import_default_policy_replaces_rooms(world: World) -> None:
    with world.state.sessions() as db:
        policy = import_policy(db, DEFAULT_POLICY_DIR, "it")
        db.commit()
        rooms = set(db.execute(select(Room.id)).scalars())
        assert rooms == {r.id for r in policy.rooms}
        assert "lab-3a" in rooms and "lab-9z" not in rooms
        lab = db.get(Room, "lab-3a")
        assert lab is not None and "demo-device" in lab.device_names
        assert world.state.policies.policy(db) == policy
        signed = world.state.policies.bundle_for_room(db, "lab-3a")
        assert signed is not None and signed.version == policy.version


def test_broken_policy_writes_nothing(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "policy"
    broken.mkdir()
    for f in DEFAULT_POLICY_DIR.rglob("*.toml"):
        dest = broken / f.relative_to(DEFAULT_POLICY_DIR)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(f.read_text())
    rooms = broken / "rooms.toml"
    rooms.write_text(rooms.read_text().replace('band = "3-5"', 'band = "nonsense"', 1))
    with world.state.sessions() as db:
        before = db.execute(select(func.count()).select_from(PolicyVersion)).scalar_one()
        with pytest.raises(PolicyError) as err:
            import_policy(db, broken, "it")
        db.rollback()
        assert "rooms.toml" in str(err.value)
        after = db.execute(select(func.count()).select_from(PolicyVersion)).scalar_one()
        assert after == before
