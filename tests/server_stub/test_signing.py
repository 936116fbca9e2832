"""The signing key is created once, kept private, and reused."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from server_stub.signing import SigningKey, load_or_create


def test_key_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "signing-key.pem"
    first = load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create(path).public_b64 == first.public_b64
    assert len(first.key_id) == 16


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    keys: list[SigningKey] = []
    threads = [threading.Thread(target=lambda: keys.append(load_or_create(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({k.public_b64 for k in keys}) == 1
    assert os.path.getsize(path) > 0
