"""Real ClientHello bytes, made by Python's own TLS stack (OpenSSL)."""

from __future__ import annotations

import contextlib
import ssl


def client_hello(server_name: str | None = "allowed.test") -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def records(handshake: bytes, size: int) -> bytes:
    """Re-frame a handshake message into TLS records of at most `size` payload bytes."""
    out = b""
    for i in range(0, len(handshake), size):
        part = handshake[i : i + size]
        out += b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part
    return out
