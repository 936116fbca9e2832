from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent.state_store import StateStore, boot_id, ensure_private_dir


def test_save_then_load(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save({"session": {"id": "s1"}})
    assert store.load().data == {"session": {"id": "s1"}}
    assert store.load().problem is None
    assert [p.name for p in tmp_path.iterdir()] == ["session.json"]  # no temp files left


def test_no_file_is_not_a_problem(tmp_path: Path) -> None:
    loaded = StateStore(tmp_path).load()
    assert loaded.data is None and loaded.problem is None


@pytest.mark.parametrize(
    "blob",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"format": "other", "version": 1, "data": {}}).encode(),
        json.dumps({"format": "lessongate-agent-state", "version": 99, "data": {}}).encode(),
        json.dumps({"format": "lessongate-agent-state", "version": 1, "data": 3}).encode(),
    ],
)
def test_corrupt_file_is_reported_and_moved_aside(tmp_path: Path, blob: bytes) -> None:
    (tmp_path / "session.json").write_bytes(blob)
    loaded = StateStore(tmp_path).load()
    assert loaded.data is None
    assert loaded.problem is not None and "session.json" in loaded.problem
    assert (tmp_path / "session.json.corrupt").read_bytes() == blob
    assert StateStore(tmp_path).load().problem is None  # the next start is clean


def test_failed_write_leaves_the_old_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save({"n": 1})
    with pytest.raises(TypeError):
        store.save({"n": object()})
    assert store.load().data == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["session.json"]


def test_private_dir_and_boot_id(tmp_path: Path) -> None:
    d = tmp_path / "state"
    ensure_private_dir(d)
    assert os.stat(d).st_mode & 0o777 == 0o700
    assert boot_id() == boot_id() != ""
    assert boot_id(tmp_path / "missing") == ""
