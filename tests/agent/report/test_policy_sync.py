from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import policies
from agent.report.policy_sync import BundleRejected, PolicyKeeper
from policies.bundle import canonical_json, room_bundle
from policies.loader import load_policy


def _signed(key: Ed25519PrivateKey, bundle: dict[str, Any]) -> dict[str, Any]:
    sig = base64.b64encode(key.sign(canonical_json(bundle))).decode()
    return {"bundle": bundle, "signature": sig, "version": bundle["version"]}


def _public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return room_bundle(load_policy(policies.DEFAULT_POLICY_DIR), "lab-3a")


def test_good_bundle_is_kept_and_verified_again_at_start(
    tmp_path: Path, bundle: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    keeper = PolicyKeeper(tmp_path, _public(key))
    policy = keeper.accept(_signed(key, bundle), '"e1"')
    assert policy.room("lab-3a") is not None
    again = PolicyKeeper(tmp_path, _public(key))
    assert again.load_last_good() is not None and again.etag == '"e1"'


def test_wrong_key_or_tampered_bundle_is_rejected_and_nothing_kept(
    tmp_path: Path, bundle: dict[str, Any]
) -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keeper = PolicyKeeper(tmp_path, _public(key))
    with pytest.raises(BundleRejected, match="signature"):
        keeper.accept(_signed(other, bundle), None)
    tampered = _signed(key, bundle)
    tampered["bundle"] = {**bundle, "version": "forged"}
    with pytest.raises(BundleRejected, match="signature"):
        keeper.accept(tampered, None)
    assert not (tmp_path / "policy_bundle.json").exists()


def test_signed_but_invalid_bundle_is_rejected(tmp_path: Path, bundle: dict[str, Any]) -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(BundleRejected, match="not a valid policy"):
        PolicyKeeper(tmp_path, _public(key)).accept(_signed(key, {**bundle, "format": 0}), None)


def test_a_kept_bundle_edited_on_disk_is_not_used(tmp_path: Path, bundle: dict[str, Any]) -> None:
    key = Ed25519PrivateKey.generate()
    PolicyKeeper(tmp_path, _public(key)).accept(_signed(key, bundle), None)
    path = tmp_path / "policy_bundle.json"
    raw = json.loads(path.read_text())
    raw["data"]["body"]["bundle"]["version"] = "edited"
    path.write_text(json.dumps(raw))
    keeper = PolicyKeeper(tmp_path, _public(key))
    assert keeper.load_last_good() is None
    assert keeper.problem and "signature" in keeper.problem


def test_an_older_bundle_replayed_with_a_good_signature_is_refused(
    tmp_path: Path, bundle: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    keeper = PolicyKeeper(tmp_path, _public(key))
    keeper.accept(_signed(key, {**bundle, "serial": 7}), '"e7"')
    kept = (tmp_path / "policy_bundle.json").read_bytes()
    with pytest.raises(BundleRejected, match=r"older than the policy this device has \(serial 6"):
        keeper.accept(_signed(key, {**bundle, "serial": 6}), '"e6"')
    assert (tmp_path / "policy_bundle.json").read_bytes() == kept
    assert keeper.etag == '"e7"'
    # after a restart too, and a bundle from before serials existed counts as the oldest
    again = PolicyKeeper(tmp_path, _public(key))
    assert again.load_last_good() is not None
    unnumbered = {k: v for k, v in bundle.items() if k != "serial"}
    with pytest.raises(BundleRejected, match="older"):
        again.accept(_signed(key, unnumbered), None)
    assert again.accept(_signed(key, {**bundle, "serial": 7}), '"e7"')  # the same: fine
    assert again.accept(_signed(key, {**bundle, "serial": 8}), '"e8"')  # a newer import
    assert again.serial == 8


def test_a_serial_that_is_not_a_whole_number_is_invalid(
    tmp_path: Path, bundle: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    keeper = PolicyKeeper(tmp_path, _public(key))
    for serial in (-1, "9", True, 1.5):
        with pytest.raises(BundleRejected, match="not a valid policy"):
            keeper.accept(_signed(key, {**bundle, "serial": serial}), None)
