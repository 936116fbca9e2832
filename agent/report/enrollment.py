"""Enrollment: trade an enrollment token for this device's id and token, and pin the server's
policy-signing key.

`<state_dir>/enrollment.json` keeps what the server said (device id, room, the Ed25519 public key
every bundle must verify against); the device token goes to the credential store. A request that
has not succeeded yet (wrong server, wrong token, server down) is kept as `pending` so the running
agent retries it with back-off and `status` shows why it fails.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import platform
import socket
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.report.credentials import TokenStore
from agent.report.errors import ServerFault
from agent.report.http import ServerClient
from agent.state_store import atomic_write_json, read_json

RECORD = "enrollment.json"
PENDING = "enrollment_pending.json"
PENDING_TOKEN_USER = "enrollment-token"
# Files that belong to one enrollment; a new enrollment starts without them.
PER_ENROLLMENT = ("commands_cursor.json", "policy_bundle.json", "verifiers.json")


@dataclass(frozen=True)
class Enrollment:
    server_url: str
    device_id: str
    room_id: str | None
    school: str | None
    signing_public_key: str  # base64 of the 32 raw bytes: the pinned key
    signing_key_id: str
    heartbeat_interval_s: int
    enrolled_at: float
    # "file" (FileKeyring in the state folder) or "keyring" (the OS store keyring picked). The
    # agent goes straight to the file when it can: keyring's search loads every backend (~10 MB).
    credential_store: str = "keyring"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Enrollment:
        return cls(
            server_url=str(raw["server_url"]),
            device_id=str(raw["device_id"]),
            room_id=None if raw.get("room_id") is None else str(raw["room_id"]),
            school=None if raw.get("school") is None else str(raw["school"]),
            signing_public_key=str(raw["signing_public_key"]),
            signing_key_id=str(raw["signing_key_id"]),
            heartbeat_interval_s=int(raw.get("heartbeat_interval_s") or 30),
            enrolled_at=float(raw.get("enrolled_at") or 0),
            credential_store=str(raw.get("credential_store") or "keyring"),
        )


@dataclass(frozen=True)
class Pending:
    server_url: str
    room: str | None
    since: float


def public_key_bytes(b64: str) -> bytes:
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ServerFault("the server's signing key is not base64") from e
    if len(raw) != 32:
        raise ServerFault("the server's signing key is not an Ed25519 public key (32 bytes)")
    return raw


class EnrollmentStore:
    def __init__(self, state_dir: Path, tokens: TokenStore | None = None) -> None:
        self.state_dir = state_dir
        self._tokens = tokens
        self.problem: str | None = None

    @property
    def tokens(self) -> TokenStore:
        if self._tokens is None:
            found = self.load()
            hint = found.credential_store if found is not None else None
            self._tokens = TokenStore(self.state_dir, hint=hint)
        return self._tokens

    def load(self) -> Enrollment | None:
        loaded = read_json(self.state_dir / RECORD)
        if loaded.problem:
            self.problem = loaded.problem
        if loaded.data is None:
            return None
        try:
            return Enrollment.from_dict(loaded.data)
        except (KeyError, TypeError, ValueError) as e:
            self.problem = f"{self.state_dir / RECORD}: {e}"
            return None

    def token(self, enrollment: Enrollment) -> str | None:
        return self.tokens.load(enrollment.device_id)

    def pending(self) -> tuple[Pending, str] | None:
        loaded = read_json(self.state_dir / PENDING)
        if loaded.data is None:
            return None  # not asking the token store: finding a keyring costs ~10 MB resident
        token = self.tokens.load(PENDING_TOKEN_USER)
        if not token:
            return None
        try:
            raw = loaded.data
            room = raw.get("room")
            return Pending(
                str(raw["server_url"]),
                room if isinstance(room, str) else None,
                float(raw.get("since") or 0),
            ), token
        except (KeyError, TypeError, ValueError):
            return None

    def save_pending(self, server_url: str, token: str, room: str | None) -> None:
        self.tokens.save(PENDING_TOKEN_USER, token)
        atomic_write_json(
            self.state_dir / PENDING, {"server_url": server_url, "room": room, "since": time.time()}
        )

    def clear_pending(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / PENDING).unlink()
        self.tokens.forget(PENDING_TOKEN_USER)

    def save(self, enrollment: Enrollment, device_token: str) -> None:
        old = self.load()
        enrollment = replace(enrollment, credential_store=self.tokens.kind)
        self.tokens.save(enrollment.device_id, device_token)
        for name in PER_ENROLLMENT:
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / name).unlink()
        atomic_write_json(self.state_dir / RECORD, asdict(enrollment))
        if old is not None and old.device_id != enrollment.device_id:
            self.tokens.forget(old.device_id)
        self.problem = None


def enroll(
    cfg: AgentConfig, store: EnrollmentStore, server_url: str, token: str, room: str | None
) -> Enrollment:
    """One attempt; raises `errors.ServerError`. On success the pending request is cleared."""
    client = ServerClient(server_url, ca_bundle=cfg.ca_bundle)
    try:
        body = client.enroll(token, socket.gethostname(), cfg.device_id, platform.platform())
    finally:
        client.close()
    public_key_bytes(str(body["signing_public_key"]))
    interval = body.get("heartbeat_interval_s")
    enrollment = Enrollment(
        server_url=server_url.rstrip("/"),
        device_id=str(body["device_id"]),
        room_id=str(body["room_id"]) if body.get("room_id") else room,
        school=str(body["school"]) if body.get("school") else None,
        signing_public_key=str(body["signing_public_key"]),
        signing_key_id=str(body["signing_key_id"]),
        heartbeat_interval_s=interval if isinstance(interval, int) and interval > 0 else 30,
        enrolled_at=time.time(),
    )
    store.save(enrollment, str(body["device_token"]))
    store.clear_pending()
    return enrollment
