from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from agent.report import credentials
from agent.report.credentials import FileKeyring, TokenStore, select_backend, usable


def test_file_backend_keeps_secrets_owner_only(tmp_path: Path) -> None:
    ring = FileKeyring(tmp_path / "creds.json")
    ring.set_password("lessongate", "dev-1", "s3cret")
    assert FileKeyring(tmp_path / "creds.json").get_password("lessongate", "dev-1") == "s3cret"
    assert stat.S_IMODE(os.stat(tmp_path / "creds.json").st_mode) == 0o600
    ring.delete_password("lessongate", "dev-1")
    assert ring.get_password("lessongate", "dev-1") is None
    with pytest.raises(PasswordDeleteError):
        ring.delete_password("lessongate", "dev-1")


def test_no_usable_keyring_means_the_file_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(credentials.ENV_VAR, raising=False)
    monkeypatch.setattr(credentials.keyring, "get_keyring", lambda: fail.Keyring())
    chosen = select_backend(tmp_path)
    assert isinstance(chosen, FileKeyring) and chosen.path == tmp_path / "credentials.json"
    assert not usable(fail.Keyring())
    assert FileKeyring.priority < credentials.USABLE_PRIORITY


def test_token_store_with_a_file_hint_never_searches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom() -> None:
        raise AssertionError("keyring searched")

    monkeypatch.setattr(credentials.keyring, "get_keyring", boom)
    store = TokenStore(tmp_path, hint="file")
    store.save("dev-1", "tok")
    assert store.load("dev-1") == "tok" and store.kind == "file"
