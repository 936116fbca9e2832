"""Signed policy bundles: verify against the key pinned at enrollment, keep the last good one.

(The Ed25519 check itself runs in a helper process: see `agent.report.verify`.)

A bundle is accepted only if its Ed25519 signature over `canonical_json(bundle)` verifies with
the pinned key and `policy_from_bundle` finds nothing wrong with it. The accepted body is kept in
`<state_dir>/policy_bundle.json` and verified again when the agent starts (a file edited on disk
is no better than a forged download), so the device comes up with the last good policy even when
the server is away.

Each bundle carries a serial that grows with every policy the server imports. A bundle with a
lower serial than the kept one is refused even though its signature is good: it can only be an
old bundle replayed (by someone between the device and the server) to undo a later policy. A
deliberate roll-back is a new import of the old files, with a new serial.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from agent.report.enrollment import public_key_bytes
from agent.report.verify import verify_in_helper
from agent.state_store import atomic_write_json, read_json
from policies.bundle import bundle_serial, canonical_json, policy_from_bundle
from policies.errors import PolicyError
from policies.model import Policy

FILE = "policy_bundle.json"


class BundleRejected(Exception):
    """The bundle failed verification or validation; `str()` says which."""


class PolicyKeeper:
    def __init__(self, state_dir: Path, public_key_b64: str) -> None:
        self.path = state_dir / FILE
        public_key_bytes(public_key_b64)  # raises ServerFault for a key that cannot be one
        self._key = public_key_b64
        self.etag: str | None = None
        self.version: str | None = None
        self.bundle_version: str | None = None  # the server's name for it (heartbeat answers)
        self.serial = 0  # of the kept bundle
        self.room: str | None = None  # the kept bundle's: where the server placed this device
        self.problem: str | None = None  # why the kept bundle could not be used at start

    def verify(self, body: dict[str, Any]) -> Policy:
        bundle, signature = body.get("bundle"), body.get("signature")
        if not isinstance(bundle, dict) or not isinstance(signature, str):
            raise BundleRejected("not a signed bundle (bundle or signature missing)")
        try:
            valid = verify_in_helper(self._key, signature, canonical_json(bundle))
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            # Cannot check it, so cannot trust it: the last good bundle stays.
            raise BundleRejected(f"the signature could not be checked: {e}") from e
        if not valid:
            raise BundleRejected("the signature does not verify against the pinned key")
        try:
            return policy_from_bundle(bundle)
        except PolicyError as e:
            first = str(e).splitlines()[0] if str(e) else "invalid"
            raise BundleRejected(f"the bundle is signed but not a valid policy: {first}") from e

    def accept(self, body: dict[str, Any], etag: str | None) -> Policy:
        """Verifies, then keeps the bundle as the last good one. Raises BundleRejected."""
        policy = self.verify(body)
        serial = bundle_serial(body["bundle"])
        if serial < self.serial:
            raise BundleRejected(
                f"older than the policy this device has (serial {serial} < {self.serial}): "
                "a replayed bundle"
            )
        atomic_write_json(self.path, {"etag": etag, "body": body})
        self._keep(policy, body, etag, serial)
        return policy

    def _keep(self, policy: Policy, body: dict[str, Any], etag: str | None, serial: int) -> None:
        self.etag, self.version = etag, policy.version
        self.bundle_version = str(body.get("version"))[:100]
        self.serial = serial
        self.room = str(body["bundle"]["room"])  # policy_from_bundle checked it is there

    def load_last_good(self) -> Policy | None:
        loaded = read_json(self.path)
        if loaded.problem:
            self.problem = loaded.problem
        if loaded.data is None:
            return None
        body, etag = loaded.data.get("body"), loaded.data.get("etag")
        if not isinstance(body, dict):
            self.problem = f"{self.path}: no bundle in it"
            return None
        try:
            policy = self.verify(body)
        except BundleRejected as e:
            self.problem = f"{self.path}: {e}"
            return None
        etag = etag if isinstance(etag, str) else None
        self._keep(policy, body, etag, bundle_serial(body["bundle"]))
        return policy
