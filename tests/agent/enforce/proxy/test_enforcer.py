from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from agent.enforce.base import Enforcer
from agent.enforce.proxy import ProxyConfig, ProxyEnforcer
from tests.agent.enforce.contract import EnforcerContract, open_plan
from tests.agent.enforce.proxy.support import MapResolver, connect_via, upstream


class TestProxyEnforcer(EnforcerContract):
    @pytest.fixture
    def backend(self) -> Iterator[Enforcer]:
        with upstream(b"HELLO") as port:
            self.upstream_port = port
            config = ProxyConfig(
                mode="explicit",
                listen=("127.0.0.1",),
                port=0,
                explicit_ports=(port,),
                allow_loopback_upstream=True,
            )
            enforcer = ProxyEnforcer(config, MapResolver({"allowed.test": "127.0.0.1"}))
            try:
                yield enforcer
            finally:
                enforcer.revert()

    def reaches(self, backend: ProxyEnforcer, host: str) -> bool:
        if backend.port is None:
            return False
        try:
            answer = connect_via(backend.port, host, self.upstream_port)
        except OSError:
            return False
        return answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"HELLO")

    def observe(self, backend: Enforcer) -> object:
        assert isinstance(backend, ProxyEnforcer)
        return (backend.health().ok, self.reaches(backend, "allowed.test"))

    def installed(self, backend: Enforcer) -> bool:
        assert isinstance(backend, ProxyEnforcer)
        return backend.health().ok

    def is_closed(self, backend: Enforcer) -> bool:
        assert isinstance(backend, ProxyEnforcer)
        return not self.reaches(backend, "allowed.test")

    @contextlib.contextmanager
    def broken(self, backend: Enforcer) -> Iterator[None]:
        assert isinstance(backend, ProxyEnforcer)
        server = backend._server
        assert server is not None
        real = server.set_rules
        calls = []

        def fail_once(rules: object, session_id: str | None) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("injected failure")
            real(rules, session_id)  # type: ignore[arg-type]

        server.set_rules = fail_once  # type: ignore[method-assign]
        try:
            yield
        finally:
            server.set_rules = real  # type: ignore[method-assign]


def test_blocked_hosts_are_counted_per_session_only() -> None:
    with upstream(b"HELLO") as port:
        config = ProxyConfig(mode="explicit", listen=("127.0.0.1",), port=0, explicit_ports=(port,))
        enforcer = ProxyEnforcer(config, MapResolver({}))
        try:
            from tests.agent.enforce.contract import closed_plan

            enforcer.apply(closed_plan())
            assert enforcer.port is not None
            connect_via(enforcer.port, "outside.test", port)
            assert enforcer.blocked_hosts() == {}
            enforcer.apply(open_plan("s-9"))
            for _ in range(3):
                connect_via(enforcer.port, "games.test", port)
            assert enforcer.blocked_hosts() == {"games.test": 3}
            assert enforcer.stats()["blocked"] == 4
            enforcer.apply(open_plan("s-10"))
            assert enforcer.blocked_hosts() == {}
        finally:
            enforcer.revert()
