"""The enforcement plan: what the session state machine hands to every enforcer.

A plan is a complete description of the wanted state, never a delta, so applying the same plan
twice is a no-op and an enforcer that restarts only needs the latest plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from policies.compiler import CompiledRules


class LockState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True)
class EnforcementPlan:
    state: LockState
    # What may be reached in this state; in the closed state only the district's always_allow.
    rules: CompiledRules
    session_id: str | None = None
    # Wall-clock expiry, for display and for enforcers that schedule their own close (browser
    # policies cannot expire by themselves). The session machine owns the authoritative,
    # monotonic deadline.
    expires_at: float | None = None
    # Programs the process backend ends (the policy's `denied_processes`), the same in every
    # state; carried by the plan so a policy update reaches the watcher like any other rule.
    denied_processes: tuple[str, ...] = ()
