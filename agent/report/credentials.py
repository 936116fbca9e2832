"""The device token, kept in the OS credential store through `keyring`, service "lessongate".

keyring picks the platform's store (Windows Credential Manager, macOS Keychain, Secret Service in
a desktop session). A school device's agent runs as a system service (root on Linux, no desktop
session); there keyring finds nothing better than its `fail` backend (priority 0) or an empty
`chainer`, so `select_backend` uses `FileKeyring` instead: a keyring backend of our own that keeps
the secrets in one root-only file (0600, in the 0700 state folder), written atomically.

`LESSONGATE_KEYRING=file` forces the file backend (tests, and hosts whose desktop keyring should
not hold a system service's secret).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail
from keyring.errors import PasswordDeleteError

from agent.atomic import write_atomically

SERVICE = "lessongate"
FILE_NAME = "credentials.json"
ENV_VAR = "LESSONGATE_KEYRING"
# keyring's own guidance: 1 or more is a backend meant for real use.
USABLE_PRIORITY = 1.0


class FileKeyring(KeyringBackend):
    """secrets[service][username] in one JSON file, owner-only. Below every real OS store."""

    priority = 0.1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if path is None:
            from agent.config import default_state_dir

            path = default_state_dir() / FILE_NAME
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {
            str(s): {str(u): str(p) for u, p in users.items()}
            for s, users in raw.items()
            if isinstance(users, dict)
        }

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(self.path, json.dumps(data, sort_keys=True).encode("utf-8"), mode=0o600)

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._read().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            data = self._read()
            data.setdefault(service, {})[username] = password
            self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            data = self._read()
            if username not in data.get(service, {}):
                raise PasswordDeleteError(f"no {service} secret for {username}")
            del data[service][username]
            self._write(data)


def usable(backend: KeyringBackend) -> bool:
    if isinstance(backend, fail.Keyring | FileKeyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(usable(b) for b in backend.backends)
    try:
        return float(backend.priority) >= USABLE_PRIORITY
    except Exception:
        return False


def select_backend(state_dir: Path) -> KeyringBackend:
    """The OS store when keyring found a real one, else the root-only file in `state_dir`."""
    if os.environ.get(ENV_VAR) != "file":
        try:
            found = keyring.get_keyring()
        except Exception:
            found = None
        if found is not None and usable(found):
            return found
    return FileKeyring(state_dir / FILE_NAME)


class TokenStore:
    def __init__(
        self, state_dir: Path, backend: KeyringBackend | None = None, hint: str | None = None
    ) -> None:
        """`hint="file"`: the token was stored in the file backend; use it without a search."""
        if backend is None and hint == "file":
            backend = FileKeyring(state_dir / FILE_NAME)
        self.backend = backend or select_backend(state_dir)

    @property
    def kind(self) -> str:
        return "file" if isinstance(self.backend, FileKeyring) else "keyring"

    @property
    def where(self) -> str:
        b = self.backend
        return f"file {b.path}" if isinstance(b, FileKeyring) else f"keyring {type(b).__name__}"

    def save(self, device_id: str, token: str) -> None:
        self.backend.set_password(SERVICE, device_id, token)

    def load(self, device_id: str) -> str | None:
        try:
            return self.backend.get_password(SERVICE, device_id)
        except Exception:
            return None

    def forget(self, device_id: str) -> None:
        with contextlib.suppress(PasswordDeleteError):
            self.backend.delete_password(SERVICE, device_id)
