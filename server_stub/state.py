"""Everything the request handlers share, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server_stub.config import Settings
from server_stub.notify import Notifier
from server_stub.policy_store import PolicyCache
from server_stub.security import Hasher
from server_stub.signing import SigningKey


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    key: SigningKey
    policies: PolicyCache
    hasher: Hasher
    notifier: Notifier
