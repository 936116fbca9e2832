"""Secrets and hashes: random tokens kept as SHA-256 digests, passwords and PINs as argon2id."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


def new_token() -> str:
    """32 random bytes, URL-safe; the only copy of the clear text goes to the client."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # A plain hash is enough here: the token has 256 bits of entropy, unlike a password.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class Hasher:
    """argon2id for passwords and teacher PINs. `fast` is for the test suite only."""

    def __init__(self, fast: bool = False) -> None:
        if fast:
            self._ph = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
        else:
            self._ph = PasswordHasher(type=Type.ID)
        # Verified against when the user does not exist, so both paths cost the same time.
        self._dummy = self._ph.hash(secrets.token_urlsafe(16))

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        try:
            return self._ph.verify(stored or self._dummy, secret) and stored is not None
        except (VerificationError, InvalidHashError):
            return False
