"""Secrets and hashes: random tokens kept as SHA-256 digests, passwords and PINs as argon2id."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


def new_token() -> str:
    """32 random bytes as hex; the only copy of the clear text goes to the client.

    Hex, not URL-safe base64: IT pastes enrollment tokens into command lines, env files and
    installer switches (`enroll --token T`, `/TOKEN=`), where a token starting with "-" (1 in 64
    base64 tokens) was taken for an option."""
    return secrets.token_hex(32)


def token_digest(token: str) -> str:
    # A plain hash is enough here: the token has 256 bits of entropy, unlike a password.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# Teacher PINs: OWASP's minimum for argon2id (t=2, m=19 MiB, p=1), about a tenth of the
# library's password default. A 4-12 digit PIN falls to an offline search at any practical cost,
# so what protects it is the lockout and the rate limits (server throttle, device back-off) and
# keeping the hashes off students' reach; a cheaper hash keeps the device's offline check and
# the server's online check (under its 2 s budget, many teachers at 8:00) quick. The agent
# hashes PINs with the same parameters (agent/teacher_auth.py). Passwords keep the defaults.
PIN_TIME_COST = 2
PIN_MEMORY_KIB = 19 * 1024
PIN_PARALLELISM = 1


class Hasher:
    """argon2id for passwords and teacher PINs. `fast` is for the test suite only."""

    def __init__(self, fast: bool = False) -> None:
        if fast:
            self._ph = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
            self._pin = self._ph
        else:
            self._ph = PasswordHasher(type=Type.ID)
            self._pin = PasswordHasher(
                time_cost=PIN_TIME_COST,
                memory_cost=PIN_MEMORY_KIB,
                parallelism=PIN_PARALLELISM,
                type=Type.ID,
            )
        # Verified against when the user does not exist, so both paths cost the same time.
        self._dummy = self._ph.hash(secrets.token_urlsafe(16))
        self._dummy_pin = self._pin.hash(secrets.token_urlsafe(16))

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def hash_pin(self, pin: str) -> str:
        return self._pin.hash(pin)

    def verify(self, stored: str | None, secret: str) -> bool:
        try:
            return self._ph.verify(stored or self._dummy, secret) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def verify_pin(self, stored: str | None, pin: str) -> bool:
        """Like `verify`, with a PIN-cost dummy, so an unknown teacher costs as much as a known one
        (a hash carries its own parameters: older, costlier PIN hashes still verify)."""
        try:
            return self._pin.verify(stored or self._dummy_pin, pin) and stored is not None
        except (VerificationError, InvalidHashError):
            return False
