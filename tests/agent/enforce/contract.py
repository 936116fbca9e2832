"""The contract every enforcement backend keeps (after keyring's testing/backend.py).

A backend's test module subclasses `EnforcerContract` and provides the backend and probes into
what it installed; the tests here are then run against it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from agent.enforce.base import EnforcementError, Enforcer, Health
from agent.plan import EnforcementPlan, LockState
from policies.compiler import rules_from_patterns


def open_plan(session_id: str = "s-1") -> EnforcementPlan:
    rules = rules_from_patterns(["allowed.test", "assets.allowed.test/lib"])
    return EnforcementPlan(LockState.OPEN, rules, session_id=session_id)


def closed_plan() -> EnforcementPlan:
    return EnforcementPlan(LockState.CLOSED, rules_from_patterns([]))


class EnforcerContract:
    # False for backends whose installed state is the same open or closed (nftables: the proxy
    # makes the difference).
    opens: bool = True

    @pytest.fixture
    def backend(self) -> Iterator[Enforcer]:
        raise NotImplementedError

    # -- probes a backend's test module provides -----------------------------------------------
    def observe(self, backend: Enforcer) -> object:
        """A snapshot of everything the backend installed, comparable with ==."""
        raise NotImplementedError

    def installed(self, backend: Enforcer) -> bool:
        raise NotImplementedError

    def is_closed(self, backend: Enforcer) -> bool:
        """Whether what the backend installed keeps `allowed.test` out of reach."""
        raise NotImplementedError

    @contextlib.contextmanager
    def broken(self, backend: Enforcer) -> Iterator[None]:
        """Make the next apply fail part-way."""
        raise NotImplementedError
        yield

    # -- the contract --------------------------------------------------------------------------
    def test_apply_is_idempotent(self, backend: Enforcer) -> None:
        backend.apply(open_plan())
        first = self.observe(backend)
        backend.apply(open_plan())
        assert self.observe(backend) == first
        assert self.is_closed(backend) is not self.opens

    def test_closed_plan_closes(self, backend: Enforcer) -> None:
        backend.apply(open_plan())
        backend.apply(closed_plan())
        assert self.is_closed(backend)

    def test_revert_removes_everything(self, backend: Enforcer) -> None:
        backend.apply(open_plan())
        assert self.installed(backend)
        backend.revert()
        assert not self.installed(backend)
        backend.revert()  # twice is fine
        assert not self.installed(backend)

    def test_health_reports(self, backend: Enforcer) -> None:
        backend.apply(closed_plan())
        health = backend.health()
        assert isinstance(health, Health)
        assert health.backend == backend.name
        assert health.ok, health.detail

    def test_failed_apply_leaves_the_closed_state(self, backend: Enforcer) -> None:
        backend.apply(open_plan())
        with self.broken(backend), pytest.raises(EnforcementError):
            backend.apply(open_plan("s-2"))
        assert self.is_closed(backend)
