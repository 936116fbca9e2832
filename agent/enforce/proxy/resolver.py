"""Where the proxy connects: the addresses IT resolves for an allowed name, never the client's.

Uses the system resolver (getaddrinfo, so the resolvers in /etc/resolv.conf), with a small
bounded cache so a page that opens twenty connections to one host costs one lookup.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections import OrderedDict
from typing import Protocol


class Resolver(Protocol):
    async def resolve(self, host: str) -> list[str]:
        """IP literals for `host` (an IP literal resolves to itself); [] if none."""


class SystemResolver:
    def __init__(self, ttl: float = 30.0, max_entries: int = 1024) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._cache: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    async def resolve(self, host: str) -> list[str]:
        now = time.monotonic()
        hit = self._cache.get(host)  # first: the hot path is a name resolved moments ago
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return []
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self._cache[host] = (now + self._ttl, addresses)
        self._cache.move_to_end(host)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return addresses


@functools.lru_cache(maxsize=4096)
def usable_upstream(address: str, allow_loopback: bool) -> bool:
    """Whether the proxy may connect to `address`: never unspecified or multicast, and never
    loopback (where the agent's own services listen) unless configured for loopback tests."""
    ip = ipaddress.ip_address(address)
    if ip.is_unspecified or ip.is_multicast:
        return False
    return allow_loopback or not ip.is_loopback
