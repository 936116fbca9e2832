"""Teacher PINs at the device: ask the server (2 s at most), else the verifiers it shipped.

`ServerVerifiers` is the `online_verifier` AgentService puts in front of its verifier chain. It
answers from the server's `/pin/check` when the server answers in time; otherwise from the
argon2id hashes fetched with each policy bundle (kept in `<state_dir>/verifiers.json`, hashes
only, never PINs). With neither it says UNAVAILABLE and the chain goes on to IT's local file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.report.http import PinAnswer, ServerClient
from agent.state_store import atomic_write_json, read_json
from agent.teacher_auth import CachedVerifiers, Verdict

FILE = "verifiers.json"
ONLINE_TIMEOUT = 2.0


class ServerVerifiers:
    name = "server"

    def __init__(
        self,
        state_dir: Path,
        client: Callable[[], ServerClient | None],
        timeout: float = ONLINE_TIMEOUT,
    ) -> None:
        self.path = state_dir / FILE
        self._client = client
        self.timeout = timeout
        self.cached = CachedVerifiers()
        self.count = 0
        self.last_source: str | None = None
        loaded = read_json(self.path)
        if loaded.data is not None:
            self._set(loaded.data.get("verifiers"))

    def _set(self, raw: Any) -> int:
        hashes: dict[str, str] = {}
        if isinstance(raw, dict):
            for teacher, digest in raw.items():
                if isinstance(digest, str) and digest.startswith("$argon2id$"):
                    hashes[str(teacher)] = digest
        self.cached.update(hashes)
        self.count = len(hashes)
        return self.count

    def refresh(self, body: dict[str, Any]) -> int:
        """Takes the server's /verifiers answer; keeps the hashes on disk for the next start."""
        rows = body.get("verifiers")
        hashes = {
            str(r["teacher_id"]): str(r["pin_hash"])
            for r in rows or []
            if isinstance(r, dict) and r.get("teacher_id") and r.get("pin_hash")
        }
        count = self._set(hashes)
        atomic_write_json(self.path, {"verifiers": hashes})
        return count

    def verify(self, staff_id: str, pin: str) -> Verdict:
        client = self._client()
        if client is not None:
            answer = client.check_pin(staff_id, pin, self.timeout)
            if answer != PinAnswer.UNAVAILABLE:
                self.last_source = "online"
                return Verdict.OK if answer == PinAnswer.OK else Verdict.WRONG
        verdict = self.cached.verify(staff_id, pin)
        if verdict is not Verdict.UNAVAILABLE:
            self.last_source = "cached"
        return verdict
