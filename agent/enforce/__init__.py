"""Enforcement backends behind one interface (see `base.Enforcer`), picked once per OS.

- Linux with `enforce = true`: transparent proxy + nftables + browser policies + processes;
- anywhere else, or without `enforce` (safe mode): the proxy in explicit mode on 127.0.0.1 and
  the process watcher in report-only mode; nothing on the host is changed, and `status` says so;
- Windows/macOS enforcement is later work: `FailEnforcer` says so instead of pretending.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agent.enforce.base import EnforcementError, Enforcer, Health
from agent.enforce.browser_policy import BrowserPolicyEnforcer
from agent.enforce.nftables import NftablesEnforcer
from agent.enforce.processes import ProcessEnforcer, ProcessEvent
from agent.enforce.proxy import ProxyConfig, ProxyEnforcer
from agent.enforce.settings import EnforceSettings
from agent.plan import EnforcementPlan

__all__ = [
    "EnforceSettings",
    "EnforcementError",
    "Enforcer",
    "FailEnforcer",
    "Health",
    "disable",
    "safe_mode",
    "select_backends",
]


@dataclass
class FailEnforcer:
    """Stands in where a mechanism does not exist yet; every apply fails with the reason, so the
    service keeps the device closed and shows the message (after keyring's fail backend)."""

    name: str
    message: str

    def apply(self, plan: EnforcementPlan) -> None:
        raise EnforcementError(self.message)

    def revert(self) -> None:
        return None

    def health(self) -> Health:
        return Health(self.name, False, self.message)


def safe_mode(settings: EnforceSettings, platform: str = sys.platform) -> bool:
    """True when nothing on the host is enforced: only the loopback proxy runs."""
    return not (settings.enforce and platform.startswith("linux"))


def select_backends(
    settings: EnforceSettings,
    on_process_event: Callable[[ProcessEvent], None] | None = None,
    platform: str = sys.platform,
) -> list[Enforcer]:
    if settings.enforce and not platform.startswith("linux"):
        return [
            FailEnforcer(
                "firewall",
                f"enforcement on {platform} is not available yet; set enforce = false to run "
                "the loopback proxy (safe mode), or use a Linux device",
            )
        ]
    if safe_mode(settings, platform):
        proxy = ProxyConfig(
            mode="explicit",
            listen=("127.0.0.1",),
            port=settings.proxy_port,
            ui_port=settings.ui_port,
        )
        return [
            ProxyEnforcer(proxy),
            ProcessEnforcer(settings, on_process_event, report_only=True),
        ]
    proxy = ProxyConfig(mode="transparent", port=settings.proxy_port, ui_port=settings.ui_port)
    return [
        ProxyEnforcer(proxy),
        NftablesEnforcer(settings),
        BrowserPolicyEnforcer(settings),
        ProcessEnforcer(settings, on_process_event),
    ]


def check_code(settings: EnforceSettings, code: str) -> bool:
    """The IT code against its argon2 hash (or, for a bare sha256 hex, a constant-time compare)."""
    stored = settings.disable_code_hash
    if not stored or not code:
        return False
    if stored.startswith("$argon2"):
        try:
            return PasswordHasher().verify(stored, code)
        except (VerificationError, InvalidHashError):
            return False
    return hmac.compare_digest(hashlib.sha256(code.encode()).hexdigest(), stored.lower())


def disable(settings: EnforceSettings, code: str) -> bool:
    """`lessongate-agent disable --code`: with the right IT code, remove the firewall table and
    browser policies (the service must then stop applying plans). False for a wrong code."""
    if not check_code(settings, code):
        return False
    errors = []
    for backend in (NftablesEnforcer(settings), BrowserPolicyEnforcer(settings)):
        try:
            backend.revert()
        except EnforcementError as exc:
            errors.append(f"{backend.name}: {exc}")
    if errors:
        raise EnforcementError("disable incomplete: " + "; ".join(errors))
    return True
