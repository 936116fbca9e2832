"""The one interface every enforcement backend implements.

Backends are picked once per OS and mechanism (see `agent.enforce.select_backends`), in the
spirit of keyring's backends: each says whether it is viable here, and the service applies the
same plan to all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent.plan import EnforcementPlan


@dataclass(frozen=True)
class Health:
    backend: str
    ok: bool
    detail: str = ""


class Enforcer(Protocol):
    name: str

    def apply(self, plan: EnforcementPlan) -> None:
        """Make the host match `plan`. Idempotent; raises EnforcementError on failure."""

    def revert(self) -> None:
        """Remove everything this backend installed (uninstall, `disable --code`)."""

    def health(self) -> Health: ...


class EnforcementError(Exception):
    """An enforcer could not apply a plan; the service falls back to the closed plan."""
