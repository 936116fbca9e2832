"""`lessongate-agent selftest`: proves a build works on this machine without touching the host.

It loads the bundled district policy, compiles the closed state for one of its rooms, starts the
filtering proxy in explicit mode on 127.0.0.1 (a free port), and asks it two things:

- a `CONNECT` to a host the policy does not list must be refused (403), and
- a `CONNECT` to a district `always_allow` host must be let through.

The allowed name never reaches DNS or the Internet: the proxy's resolver hook maps it to a test
listener on 127.0.0.1, so "let through" means the bytes really crossed the proxy to that
listener. Nothing here reads or writes the host firewall, `/etc` or the agent's state folder, so
IT can run it on a live device (or a packager in a build chroot) at any time.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import policies
from agent.enforce.proxy.server import ProxyConfig, ProxyServer
from policies.compiler import CompiledRules, compile_rules
from policies.errors import PolicyError
from policies.loader import load_policy
from policies.model import BandMode, Policy

# A name under the reserved .invalid TLD can never be a real site, so no policy can mean to open it.
BLOCKED_HOST = "not-in-policy.selftest.invalid"
_GREETING = b"lessongate-selftest-listener\n"
_TIMEOUT = 5.0


class SelftestError(Exception):
    """One check failed; `str()` says which and what was seen."""


@dataclass(frozen=True)
class _LoopbackResolver:
    """Resolves only the one allowed test name, to loopback; every other name resolves to
    nothing, so the proxy cannot reach out even if a check went wrong."""

    host: str

    async def resolve(self, host: str) -> list[str]:
        return ["127.0.0.1"] if host.lower() == self.host else []


def _pattern_host(pattern: str) -> str | None:
    """`https://.example.org:443/path` -> `example.org`; None for wildcards and IP literals."""
    rest = pattern.split("://", 1)[-1]
    host = rest.split("/", 1)[0].split("@", 1)[0].split(":", 1)[0].lstrip(".").lower()
    if not host or "*" in host or not any(c.isalpha() for c in host):
        return None
    return host


def supervised_room(policy: Policy) -> str | None:
    """A room that is closed outside sessions (the state every K-5 device starts in)."""
    for room in policy.rooms:
        band = policy.district.band(room.band)
        if band is not None and band.mode is BandMode.SUPERVISED:
            return room.id
    return None


def allowed_probe_host(policy: Policy, rules: CompiledRules) -> str:
    """The first district `always_allow` host that the closed-state rules let through."""
    for pattern in policy.district.always_allow:
        host = _pattern_host(pattern)
        if host and rules.host_allowed(host).allowed:
            return host
    raise SelftestError(
        "the policy's district always_allow list has no host name that the closed state allows"
    )


async def _connect_via_proxy(port: int, target: str) -> tuple[int, bytes]:
    """Sends `CONNECT target` to the proxy; returns the status code and the first bytes after
    the response head (what came through the tunnel, if it opened)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        try:
            status = int(status_line.split()[1])
        except (IndexError, ValueError) as e:
            raise SelftestError(f"proxy answered {status_line!r} to CONNECT {target}") from e
        body = b""
        if status == 200:
            body = await reader.readexactly(len(_GREETING))
        return status, body
    finally:
        writer.close()


async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_GREETING)
    await writer.drain()
    writer.close()


async def run_checks(policy_dir: Path) -> list[str]:
    """Runs every check; returns report lines, raises `SelftestError` on the first failure."""
    try:
        policy = load_policy(policy_dir)
    except (PolicyError, OSError) as e:
        raise SelftestError(f"bundled policy {policy_dir} does not load: {e}") from e
    room = supervised_room(policy)
    if room is None:
        raise SelftestError(f"bundled policy {policy_dir} has no room in a supervised band")
    rules = compile_rules(policy, room_id=room)  # no objectives: the closed state
    allowed = allowed_probe_host(policy, rules)
    lines = [
        f"policy:   {policy.district.name}, version {policy.version} ({policy_dir})",
        f"          {len(policy.rooms)} rooms, {len(policy.objectives)} objectives;"
        f" closed state of room {room}",
    ]
    if rules.host_allowed(BLOCKED_HOST).allowed:
        raise SelftestError(f"the closed state allows {BLOCKED_HOST}: it must block it")

    listener = await asyncio.start_server(_greet, "127.0.0.1", 0)
    listener_port = listener.sockets[0].getsockname()[1]
    config = ProxyConfig(
        mode="explicit",
        listen=("127.0.0.1",),
        port=0,
        explicit_ports=(80, 443, listener_port),
        allow_loopback_upstream=True,  # the "allowed site" is the loopback listener above
        connect_timeout=_TIMEOUT,
        head_timeout=_TIMEOUT,
    )
    proxy = ProxyServer(config, _LoopbackResolver(allowed))
    await proxy.start()
    try:
        proxy.set_rules(rules, None)
        lines.append(f"proxy:    explicit mode, listening on 127.0.0.1:{proxy.port}")

        status, _ = await _connect_via_proxy(proxy.port, f"{BLOCKED_HOST}:443")
        if status != 403:
            raise SelftestError(f"CONNECT {BLOCKED_HOST}:443 answered {status}, expected 403")
        lines.append(f"blocked:  CONNECT {BLOCKED_HOST}:443 -> {status} (not in the policy) ok")

        status, body = await _connect_via_proxy(proxy.port, f"{allowed}:{listener_port}")
        if status != 200 or body != _GREETING:
            raise SelftestError(
                f"CONNECT {allowed} (district always_allow) answered {status}, {body!r}:"
                " expected 200 and the test listener's greeting"
            )
        lines.append(
            f"allowed:  CONNECT {allowed} -> {status}, tunnel reached the loopback test listener"
            " (always_allow) ok"
        )
    finally:
        await proxy.close()
        listener.close()
        await listener.wait_closed()
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the report; 0 when every check passed, 1 otherwise."""
    del argv  # no options yet; the signature matches the other entry points
    frozen = " (built binary)" if getattr(sys, "frozen", False) else ""
    print(f"lessongate-agent {policies.__version__} selftest{frozen}", flush=True)
    try:
        lines = asyncio.run(asyncio.wait_for(run_checks(policies.DEFAULT_POLICY_DIR), 4 * _TIMEOUT))
    except (SelftestError, OSError, TimeoutError) as e:
        print(f"selftest FAILED: {e or type(e).__name__}", flush=True)
        return 1
    for line in lines:
        print(f"  {line}")
    print("selftest passed", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
