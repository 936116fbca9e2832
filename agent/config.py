"""Agent configuration: one TOML file, every key optional, defaults that are safe.

The file comes from `--config PATH` or `LESSONGATE_AGENT_CONFIG`; without either, the defaults
apply. `enforce` is the safety interlock: only `enforce = true` (set by the installer) lets the
agent touch the host firewall and `/etc` browser policies; by default it runs the proxy in
explicit mode on loopback and changes nothing else on the host.

Example::

    state_dir = "/var/lib/lessongate"
    policy_dir = "/etc/lessongate/policy"
    device_id = "lab3a-pc07"
    room = "lab-3a"            # overrides the policy's device list
    ui_port = 8765             # 0 = pick a free port
    proxy_port = 3129
    enforce = false
    resolvers = ["192.0.2.53"]        # DNS servers students may query; default: resolv.conf's
    exemptions = ["192.0.2.0/28"]     # networks every user may reach directly, all ports
    agent_user = "lessongate"         # its egress is exempt; default: "lessongate" if it exists,
                                      # else only root's
    disable_code_hash = "$argon2id$..."  # IT's disable code (`lessongate-agent hash-code`);
                                         # default: the policy's
    verifier_file = "/etc/lessongate/teachers.toml"
    server_url = "https://lessongate.district.example"   # the central server (issue 6)
    ca_bundle = "/etc/lessongate/district-ca.pem"        # a custom CA; default: the system's
    heartbeat_seconds = 30                               # default: what the server asks for

Relative paths are taken relative to the config file's folder.

Test hook: with `LESSONGATE_TEST_MINUTES_ARE_SECONDS=1` in the agent's environment a session's
minutes count as seconds, so the end-to-end tests can watch a real session expire. It can only
make sessions shorter, and `status` says when it is on.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import socket
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import policies
from agent.ports import PROXY_PORT

ENV_VAR = "LESSONGATE_AGENT_CONFIG"
CONTROL_SOCKET = "control.sock"
DEFAULT_AGENT_USER = "lessongate"  # the installer's system user
TEST_MINUTES_ENV = "LESSONGATE_TEST_MINUTES_ARE_SECONDS"
_ARGON2ID = re.compile(r"^\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


class ConfigError(Exception):
    """The config file is unreadable or a key is wrong; `str()` names the file and the key."""


@dataclass(frozen=True)
class AgentConfig:
    state_dir: Path
    policy_dir: Path
    # The name IT lists in rooms.toml; by default the machine's host name, so that one image
    # cloned to a lab gives each machine its own id.
    device_id: str = field(default_factory=socket.gethostname)
    room: str | None = None
    ui_port: int = 0
    proxy_port: int = PROXY_PORT
    enforce: bool = False
    resolvers: tuple[str, ...] = ()  # empty: the nameservers in /etc/resolv.conf
    exemptions: tuple[str, ...] = ()
    agent_user: str | None = None  # None: DEFAULT_AGENT_USER if it exists, else root only
    disable_code_hash: str | None = None  # None: the policy's
    seconds_per_minute: int = 60  # 1 only under the e2e tests' TEST_MINUTES_ENV hook
    verifier_file: Path | None = None  # None: `<state_dir>/teachers.toml`
    server_url: str | None = None  # `enroll` uses it when --server is not given
    ca_bundle: Path | None = None  # None: the system's CAs (TLS is always verified)
    heartbeat_seconds: float | None = None  # None: the server's interval (30 s)
    source: Path | None = None  # the file this came from, for messages

    @property
    def control_socket(self) -> Path:
        return self.state_dir / CONTROL_SOCKET

    @property
    def teachers_file(self) -> Path:
        return self.verifier_file or self.state_dir / "teachers.toml"

    def agent_uid(self) -> int:
        """The uid whose egress the firewall exempts (besides root's): the proxy's upstream."""
        name = self.agent_user or DEFAULT_AGENT_USER
        try:
            return pwd.getpwnam(name).pw_uid
        except KeyError:
            if self.agent_user is not None:  # checked at load; the user was removed since
                raise ConfigError(
                    f"{self.source}: key 'agent_user': no system user {name!r}"
                ) from None
            return os.geteuid()  # root on a device: only root's egress is exempt


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/lessongate")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "lessongate"


def default_config() -> AgentConfig:
    return AgentConfig(state_dir=default_state_dir(), policy_dir=policies.DEFAULT_POLICY_DIR)


def _port(raw: Any, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 65535:
        raise ConfigError(f"{where}: must be a port number 0-65535, got {raw!r}")
    return raw


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where}: must be a non-empty string, got {raw!r}")
    return raw.strip()


def _path(raw: Any, where: str, base: Path) -> Path:
    return base / Path(_text(raw, where)).expanduser()


def _server_url(raw: Any, where: str) -> str:
    url = _text(raw, where).rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ConfigError(
            f"{where}: must start with https:// (or http:// on a lab LAN), got {raw!r}"
        )
    return url


def _addresses(raw: Any, where: str, networks: bool) -> tuple[str, ...]:
    what = 'networks like "203.0.113.0/24"' if networks else "IP addresses"
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: must be an array of {what}, got {raw!r}")
    out = []
    for n, item in enumerate(raw):
        try:
            if not isinstance(item, str):
                raise ValueError
            value = ipaddress.ip_network(item, strict=False) if networks else None
            out.append(str(value) if value else str(ipaddress.ip_address(item.strip())))
        except ValueError:
            raise ConfigError(f"{where}[{n}]: {item!r} is not one of the {what}") from None
    return tuple(out)


def _agent_user(raw: Any, where: str) -> str:
    name = _text(raw, where)
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(
            f"{where}: no system user {name!r} (the installer creates {DEFAULT_AGENT_USER!r})"
        ) from None
    return name


def _code_hash(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not _ARGON2ID.match(raw.strip()):
        raise ConfigError(
            f"{where}: must be an argon2id hash (make one with `lessongate-agent hash-code`), "
            "never the code itself"
        )
    return raw.strip()


def parse_config(data: dict[str, Any], source: Path) -> AgentConfig:
    cfg = default_config()
    base = source.parent
    known = {
        "state_dir",
        "policy_dir",
        "device_id",
        "room",
        "ui_port",
        "proxy_port",
        "enforce",
        "verifier_file",
        "server_url",
        "ca_bundle",
        "heartbeat_seconds",
        "resolvers",
        "exemptions",
        "agent_user",
        "disable_code_hash",
    }
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{source}: unknown key {key!r} (known keys: {', '.join(sorted(known))})"
            )
    kw: dict[str, Any] = {"source": source}
    for key in ("state_dir", "policy_dir", "verifier_file", "ca_bundle"):
        if key in data:
            kw[key] = _path(data[key], f"{source}: key {key!r}", base)
    for key in ("device_id", "room"):
        if key in data:
            kw[key] = _text(data[key], f"{source}: key {key!r}")
    if "server_url" in data:
        kw["server_url"] = _server_url(data["server_url"], f"{source}: key 'server_url'")
    if "heartbeat_seconds" in data:
        raw = data["heartbeat_seconds"]
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0.1 <= raw <= 3600:
            raise ConfigError(
                f"{source}: key 'heartbeat_seconds': must be a number of seconds 0.1-3600, "
                f"got {raw!r}"
            )
        kw["heartbeat_seconds"] = float(raw)
    if "resolvers" in data:
        kw["resolvers"] = _addresses(data["resolvers"], f"{source}: key 'resolvers'", False)
    if "exemptions" in data:
        kw["exemptions"] = _addresses(data["exemptions"], f"{source}: key 'exemptions'", True)
    if "agent_user" in data:
        kw["agent_user"] = _agent_user(data["agent_user"], f"{source}: key 'agent_user'")
    if "disable_code_hash" in data:
        where = f"{source}: key 'disable_code_hash'"
        kw["disable_code_hash"] = _code_hash(data["disable_code_hash"], where)
    for key in ("ui_port", "proxy_port"):
        if key in data:
            kw[key] = _port(data[key], f"{source}: key {key!r}")
    if "enforce" in data:
        if not isinstance(data["enforce"], bool):
            raise ConfigError(
                f"{source}: key 'enforce': must be true or false, got {data['enforce']!r}"
            )
        kw["enforce"] = data["enforce"]
    return AgentConfig(
        state_dir=kw.pop("state_dir", cfg.state_dir),
        policy_dir=kw.pop("policy_dir", cfg.policy_dir),
        **kw,
    )


def load_config(path: Path | str | None = None) -> AgentConfig:
    """`path`, else `$LESSONGATE_AGENT_CONFIG`, else the defaults."""
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is None:
        return _test_hook(default_config())
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{source}: cannot read the agent config: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from e
    return _test_hook(parse_config(data, source))


def _test_hook(cfg: AgentConfig) -> AgentConfig:
    if os.environ.get(TEST_MINUTES_ENV) == "1":
        return replace(cfg, seconds_per_minute=1)
    return cfg
