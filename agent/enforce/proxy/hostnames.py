"""Host names as the proxy judges them: one canonical spelling, or None when it cannot judge."""

from __future__ import annotations

import ipaddress
import re

# Letters, digits, hyphens and underscores (some real hosts use them); at most 63 per label.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")


def normalize_host(text: str) -> str | None:
    """Lower-cased name without trailing dot, or an IP literal in canonical form; else None."""
    host = text.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or len(host) > 253 + 1:
        return None
    # Only a text ending in a digit (IPv4) or holding a colon (IPv6) can be an IP literal; the
    # check keeps the usual case, a name, off ipaddress's exception path.
    if ":" in host or host[-1].isdigit():
        ip = ip_literal(host)
        if ip is not None:
            return ip
    if host.endswith("."):
        host = host[:-1]
    return host if _NAME.fullmatch(host) else None


def ip_literal(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.split("%")[0]))
    except ValueError:
        return None


def split_host_port(authority: str, default_port: int | None) -> tuple[str | None, int | None]:
    """`host[:port]` or `[v6]:port` -> (normalized host, port); (None, None) if malformed."""
    authority = authority.strip()
    port: int | None = default_port
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None, None
        host_text, rest = authority[: end + 1], authority[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None, None
            port = _port(rest[1:])
    elif authority.count(":") == 1:
        host_text, _, port_text = authority.partition(":")
        port = _port(port_text)
    else:
        host_text = authority
    if port is None:
        return None, None
    return normalize_host(host_text), port


def _port(text: str) -> int | None:
    if not text.isdigit() or len(text) > 5:
        return None
    value = int(text)
    return value if 0 < value < 65536 else None
