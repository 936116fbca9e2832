"""Where the agent's config meets `agent.enforce`: the settings, the process events, and the
switch that IT's disable code throws.

`agent.enforce` knows nothing about config files; this module builds its `EnforceSettings` from
the config (resolvers, exemptions, the agent's user, the server's addresses, the disable code's
hash) and turns the process watcher's findings into reportable events.

Disabling (`lessongate-agent disable --code`) is recorded as a file in the state folder, so it
holds across agent restarts until `lessongate-agent enable` (or a re-install) removes the file:
while it exists the service applies no plan and `status` says so.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.config import AgentConfig
from agent.state_store import atomic_write_json

if TYPE_CHECKING:  # `agent.enforce` imports argon2 and the backends; the CLI loads it lazily
    from agent.enforce.processes import ProcessEvent
    from agent.enforce.settings import EnforceSettings

DISABLED_FILE = "enforcement-disabled.json"

# What the process watcher did -> the event type reported (device state, not browsing).
_PROCESS_EVENTS = {
    "ended": "process_ended",
    "reported": "process_seen",  # safe mode: reported, not ended
    "failed": "process_end_failed",
}


def server_addresses(url: str | None) -> tuple[tuple[str, ...], str | None]:
    """The server's IP addresses (students may reach it directly), and a note if unresolvable."""
    host = urlsplit(url).hostname if url else None
    if not host:
        return (), None
    try:
        return (str(ipaddress.ip_address(host)),), None
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as e:
        return (), f"server {host} did not resolve ({e}): students cannot reach it directly"
    found = dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos)
    return tuple(found), None


def enforce_settings(
    cfg: AgentConfig, *, code_hash: str | None = None, resolve_server: bool = True
) -> tuple[EnforceSettings, str | None]:
    """The settings for every backend, and a note for `status` when something is missing."""
    from agent.enforce.settings import EnforceSettings

    addresses, note = server_addresses(cfg.server_url) if resolve_server else ((), None)
    settings = EnforceSettings(
        enforce=cfg.enforce,
        proxy_port=cfg.proxy_port,
        state_dir=cfg.state_dir,
        server_addresses=addresses,
        resolvers=cfg.resolvers,
        exemptions=cfg.exemptions,
        agent_uid=cfg.agent_uid(),
        ui_port=cfg.ui_port or None,
        disable_code_hash=cfg.disable_code_hash or code_hash,
    )
    return settings, note


def process_report(event: ProcessEvent) -> tuple[str, dict[str, Any]]:
    kind = _PROCESS_EVENTS.get(event.action, f"process_{event.action}")
    return kind, {
        "name": event.name,
        "exe": event.exe,
        "rule": event.rule,
        "uid": event.uid,
        "pid": event.pid,
    }


# ---- the disabled flag ----------------------------------------------------------------------


def disabled_file(state_dir: Path) -> Path:
    return state_dir / DISABLED_FILE


def disabled_since(state_dir: Path) -> dict[str, Any] | None:
    """The record `disable` left ({"at": wall, "by": who}), or None when enforcement is on.
    A damaged record still counts as disabled: only `enable` turns enforcement back on."""
    path = disabled_file(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        return {"problem": f"{path}: {e.strerror or e}"}
    try:  # read here, not with state_store.read_json, which moves a damaged file aside
        data = json.loads(raw)["data"]
        return dict(data) if isinstance(data, dict) else {"problem": f"{path}: no data"}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        return {"problem": f"{path}: {e}"}


def mark_disabled(state_dir: Path, at: float, by: str) -> None:
    atomic_write_json(disabled_file(state_dir), {"at": at, "by": by})


def clear_disabled(state_dir: Path) -> bool:
    """True if enforcement was disabled until now."""
    try:
        disabled_file(state_dir).unlink()
    except FileNotFoundError:
        return False
    return True
