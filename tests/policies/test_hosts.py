from __future__ import annotations

from policies.hosts import HostIndex
from policies.matcher import Rule
from policies.urlrules import chromium_pattern


def rule(text: str, allow: bool) -> Rule:
    p = chromium_pattern(text)
    assert p is not None
    return Rule(p, allow)


def allowed(index: HostIndex, host: str) -> bool:
    r = index.rule_for(host)
    return r.allow if r else True


def test_a_path_rule_opens_its_host_but_a_path_block_does_not_close_it() -> None:
    index = HostIndex([rule("*", False), rule("example.com/kids", True)])
    assert allowed(index, "example.com") and allowed(index, "www.example.com")
    assert not allowed(index, "other.test")


def test_locked_rules_close_everything_under_them_even_exact_allows() -> None:
    index = HostIndex(
        [rule("*", False), rule(".translate.google.com", True), rule("google.com", True)],
        locked=[rule("translate.google.com", False)],
    )
    assert not allowed(index, "translate.google.com")
    assert not allowed(index, "x.translate.google.com")
    assert allowed(index, "www.google.com")


def test_longer_host_wins_and_exact_beats_subdomain() -> None:
    index = HostIndex([rule("example.com", True), rule("ads.example.com", False)])
    assert allowed(index, "example.com") and not allowed(index, "x.ads.example.com")
    index = HostIndex([rule(".example.com", True), rule("example.com", False)])
    assert allowed(index, "example.com") and not allowed(index, "www.example.com")


def test_ip_hosts_match_only_exact_ip_rules() -> None:
    index = HostIndex([rule("*", False), rule("192.0.2.10", True)])
    assert allowed(index, "192.0.2.10") and not allowed(index, "2.10")


def test_the_boolean_fast_path_agrees_with_the_rules() -> None:
    index = HostIndex(
        [rule("*", False), rule("example.com/kids", True), rule(".exact.test", True)],
        locked=[rule("locked.example.com", False)],
    )
    for host in [
        "example.com",
        "a.example.com",
        "locked.example.com",
        "x.locked.example.com",
        "exact.test",
        "a.exact.test",
        "other.test",
        "",
    ]:
        assert index.allows(host) == allowed(index, host), host
