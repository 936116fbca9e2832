from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.enforce.base import EnforcementError, Enforcer
from agent.enforce.nftables import NftablesEnforcer, ruleset
from agent.enforce.settings import EnforceSettings
from tests.agent.enforce.contract import EnforcerContract, closed_plan
from tests.agent.enforce.netns import in_ns, netns, sh


def settings(**overrides: object) -> EnforceSettings:
    base: dict[str, object] = {
        "enforce": True,
        "proxy_port": 3129,
        "state_dir": Path("/nonexistent"),
        "server_addresses": ("192.0.2.10",),
        "resolvers": ("203.0.113.53", "2001:db8::53"),
        "exemptions": ("198.51.100.0/28",),
        "agent_uid": 999,
    }
    base.update(overrides)
    return EnforceSettings(**base)  # type: ignore[arg-type]


class TestNftablesEnforcer(EnforcerContract):
    opens = False

    @pytest.fixture
    def backend(self) -> Iterator[Enforcer]:
        with netns("lgnft") as ns:
            self.ns = ns
            yield NftablesEnforcer(settings(), nft_argv=in_ns(ns, "nft"))

    def observe(self, backend: Enforcer) -> object:
        assert isinstance(backend, NftablesEnforcer)
        return backend.listing()

    def installed(self, backend: Enforcer) -> bool:
        return "table inet lessongate" in sh(*in_ns(self.ns, "nft", "list", "tables"))

    def is_closed(self, backend: Enforcer) -> bool:
        listing = sh(*in_ns(self.ns, "nft", "list", "table", "inet", "lessongate"), check=False)
        return "meta skuid { 0, 999 } accept" in listing and (
            "reject" in listing or "drop" in listing
        )

    @contextlib.contextmanager
    def broken(self, backend: Enforcer) -> Iterator[None]:
        assert isinstance(backend, NftablesEnforcer)
        backend._ruleset = lambda: "table inet lessongate { chain x { nonsense } }"  # type: ignore[method-assign]
        try:
            yield
        finally:
            del backend._ruleset  # type: ignore[method-assign]


def test_the_closed_and_open_tables_are_one_and_the_same() -> None:
    text = ruleset(settings())
    assert "tcp dport { 80, 443 } redirect to :3129" in text
    assert "ip daddr { 203.0.113.53/32 } udp dport 53 accept" in text
    assert "ip6 daddr { 2001:db8::53/128 } tcp dport 53 accept" in text
    assert "ip daddr { 192.0.2.10/32, 198.51.100.0/28 } accept" in text
    assert text.startswith("table inet lessongate\ndelete table inet lessongate\n")


def test_refuses_to_touch_the_firewall_without_enforce() -> None:
    backend = NftablesEnforcer(settings(enforce=False), nft_argv=("false",))
    with pytest.raises(EnforcementError, match="enforce is not set"):
        backend.apply(closed_plan())
    with pytest.raises(EnforcementError, match="enforce is not set"):
        backend.revert()
    assert not backend.health().ok


def test_a_bad_address_in_settings_names_the_field() -> None:
    with pytest.raises(EnforcementError, match=r"settings.exemptions: 'nope'"):
        ruleset(settings(exemptions=("nope",)))


def test_replacing_the_table_is_atomic_and_leaves_no_duplicates() -> None:
    with netns("lgnft") as ns:
        backend = NftablesEnforcer(settings(), nft_argv=in_ns(ns, "nft"))
        backend.apply(closed_plan())
        backend.apply(closed_plan())
        tables = sh(*in_ns(ns, "nft", "list", "tables")).split("\n")
        assert tables.count("table inet lessongate") == 1
        assert sh(*in_ns(ns, "nft", "list", "ruleset")).count("redirect to :3129") == 1
        assert backend.health().ok
