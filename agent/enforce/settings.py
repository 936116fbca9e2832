"""What the enforcement backends need to know, built by the service from its own config.

Kept here (not in agent.config) so that enforcement does not depend on how the service reads its
configuration, and tests can build one in a line.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from agent.ports import PROXY_PORT as DEFAULT_PROXY_PORT


def _resolvers_from_resolv_conf(path: Path = Path("/etc/resolv.conf")) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    found: list[str] = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                found.append(str(ipaddress.ip_address(parts[1].split("%")[0])))
            except ValueError:
                continue
    return tuple(found)


@dataclass(frozen=True)
class EnforceSettings:
    # Safety interlock: only with enforce=True may a backend touch the host firewall or /etc.
    enforce: bool = False
    proxy_port: int = DEFAULT_PROXY_PORT
    state_dir: Path = Path("/var/lib/lessongate")
    # Addresses (IPv4/IPv6 literals) of the LessonGate server; students may reach them directly.
    server_addresses: tuple[str, ...] = ()
    # DNS resolvers students may query on port 53; empty means "the nameservers in resolv.conf".
    resolvers: tuple[str, ...] = ()
    # Networks ("203.0.113.0/24", "2001:db8::1") every user may reach directly, all ports.
    # Proposed policy field: [district] network_exemptions.
    exemptions: tuple[str, ...] = ()
    # The uid the agent (and so the proxy's upstream connections) runs as; exempt from the rules.
    agent_uid: int = field(default_factory=os.getuid)
    # The agent UI's port on 127.0.0.1, for the proxy's block page; None: a plain 403 page.
    ui_port: int | None = None
    # Program names or absolute executable paths (fnmatch globs allowed) ended by the process
    # backend. Proposed policy field: [district] denied_processes.
    denied_processes: tuple[str, ...] = ()
    # argon2 hash of the IT code that `lessongate-agent disable --code` checks.
    disable_code_hash: str | None = None
    # Where browser policy files are written; "/" on a real device, a temp dir in tests.
    root: Path = Path("/")

    def effective_resolvers(self) -> tuple[str, ...]:
        return self.resolvers or _resolvers_from_resolv_conf()
