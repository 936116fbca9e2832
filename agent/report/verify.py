"""Ed25519 signature checks (cryptography), run in a short-lived helper process.

cryptography's OpenSSL binding costs the resident agent ~7 MB, and a bundle is verified only
at start and when the policy changes; so the agent hands the check to a helper process
(`lessongate-agent verify-signature`, or `python -m agent.report.verify` from a source tree) and
never loads the binding itself. Protocol: one JSON object on stdin, `{"key": b64, "signature":
b64, "message": b64}`; exit 0 = valid, 1 = does not verify, 2 = the input was unusable.
"""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
import sys
from typing import Any

HELPER_TIMEOUT = 60.0


def verify_signature(key_b64: str, signature_b64: str, message: bytes) -> bool:
    """In this process; raises ValueError for a malformed key or signature."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64, validate=True))
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"malformed key or signature: {e}") from e
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def helper_command() -> list[str]:
    if getattr(sys, "frozen", False):  # the PyInstaller build: the agent binary itself
        return [sys.executable, "verify-signature"]
    return [sys.executable, "-m", "agent.report.verify"]


def verify_in_helper(key_b64: str, signature_b64: str, message: bytes) -> bool:
    """True/False from the helper; raises OSError/ValueError when it cannot give an answer."""
    payload = json.dumps(
        {
            "key": key_b64,
            "signature": signature_b64,
            "message": base64.b64encode(message).decode("ascii"),
        }
    )
    out = subprocess.run(
        helper_command(), input=payload.encode(), capture_output=True, timeout=HELPER_TIMEOUT
    )
    if out.returncode in (0, 1):
        return out.returncode == 0
    raise ValueError(
        f"signature helper failed (exit {out.returncode}): {out.stderr.decode()[-300:]}"
    )


def main(stdin: Any = None) -> int:
    try:
        raw = json.load(stdin or sys.stdin)
        message = base64.b64decode(raw["message"], validate=True)
        return 0 if verify_signature(str(raw["key"]), str(raw["signature"]), message) else 1
    except (KeyError, TypeError, ValueError) as e:
        print(f"verify-signature: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
