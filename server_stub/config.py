"""Server settings: one frozen object built once from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path("./lessongate-data")
HEARTBEAT_INTERVAL_S = 30
# A device is offline after three missed heartbeats plus this much slack for jitter and delays.
OFFLINE_GRACE_S = 15


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    # Empty means the embedded SQLite database in `data_dir`.
    database_url: str = ""
    signing_key_path: Path | None = None
    retention_days: int = 30
    heartbeat_interval_s: int = HEARTBEAT_INTERVAL_S
    offline_grace_s: int = OFFLINE_GRACE_S
    # Cookies marked Secure only when the server sits behind TLS; plain HTTP on a lab LAN otherwise.
    secure_cookies: bool = False
    # Fast argon2 parameters are for the test suite only; hashes carry their own parameters.
    fast_hashing: bool = False
    # How often long-polls re-read the database when no notification came; None picks 1 s on
    # SQLite (one process, in-process wake-ups) and 10 s on PostgreSQL (LISTEN/NOTIFY wakes them).
    command_poll_s: float | None = None
    max_body_bytes: int = 1_000_000
    # Heartbeats are written behind, this often (see heartbeat_buffer); the dashboard lags by it.
    heartbeat_flush_s: float = 0.2

    @property
    def url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'lessongate.db').resolve()}"

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    @property
    def poll_interval_s(self) -> float:
        if self.command_poll_s is not None:
            return self.command_poll_s
        return 10.0 if self.is_postgres else 1.0

    @property
    def key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "signing-key.pem"

    @property
    def offline_after_s(self) -> int:
        return 3 * self.heartbeat_interval_s + self.offline_grace_s


def normalise_database_url(url: str) -> str:
    """Accept the usual `postgresql://` spelling and pick the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def settings_from_env(
    data_dir: str | None = None,
    database_url: str | None = None,
    signing_key: str | None = None,
    retention_days: int | None = None,
) -> Settings:
    env = os.environ
    return Settings(
        data_dir=Path(data_dir or env.get("LESSONGATE_DATA") or DEFAULT_DATA_DIR),
        database_url=database_url or env.get("LESSONGATE_DATABASE_URL", ""),
        signing_key_path=Path(signing_key or env["LESSONGATE_SIGNING_KEY"])
        if signing_key or env.get("LESSONGATE_SIGNING_KEY")
        else None,
        retention_days=retention_days or int(env.get("LESSONGATE_RETENTION_DAYS", "30")),
        secure_cookies=env.get("LESSONGATE_SECURE_COOKIES", "") == "1",
    )
