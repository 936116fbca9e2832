"""Everything the request handlers share, built once by the app factory."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server_stub.config import Settings
from server_stub.device_directory import DeviceDirectory
from server_stub.heartbeat_buffer import HeartbeatBuffer
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
    directory: DeviceDirectory
    heartbeats: HeartbeatBuffer
    # SQLite has one writer at a time; queueing writers on a lock here is much cheaper than
    # letting them collide and back off in SQLite's busy handler. Unused on PostgreSQL.
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    # Room id -> the policy version check in flight for it (heartbeat path; event loop only).
    policy_refreshes: dict[str, asyncio.Future[str | None]] = field(default_factory=dict)
