from __future__ import annotations

import pytest

from policies.urlrules import PatternError, QueryCondition, chromium_pattern, parse_pattern


def test_full_pattern_is_split_into_its_components() -> None:
    p = parse_pattern("https://.Example.com:8443/kids?v=1&list*")
    assert (p.scheme, p.host, p.match_subdomains, p.port, p.path) == (
        "https",
        "example.com",
        False,
        8443,
        "/kids",
    )
    assert p.query == (QueryCondition("v", "1", False), QueryCondition("list", None, True))


def test_host_and_port_is_not_mistaken_for_a_scheme() -> None:
    p = parse_pattern("example.com:8080/x")
    assert (p.scheme, p.host, p.port, p.path) == ("", "example.com", 8080, "/x")


def test_star_alone_and_scheme_wildcards() -> None:
    assert parse_pattern("*").is_wildcard
    p = parse_pattern("https://*")
    assert (p.scheme, p.host, p.is_wildcard) == ("https", "", False)


def test_ip_addresses_match_exactly() -> None:
    assert not parse_pattern("192.0.2.10").match_subdomains
    assert not parse_pattern("[2001:db8::1]").match_subdomains
    assert parse_pattern("example.com").match_subdomains


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("*.example.com", "write example.com"),
        ("*://example.com", "leave the scheme out"),
        ("bücher.example", "write xn--bcher-kva.example"),
        ("%61llowed.org", "write allowed.org"),
        ("0xC0.0.2.10", "write 192.0.2.10"),
        ("3221225994", "write 192.0.2.10"),
        ("[2001:DB8:0::1]", "write [2001:db8::1]"),
        ("example.com/kids/../x", "write the path as /x"),
        ("example.com/a b", "without spaces"),
        ("user@example.com", "write the host only"),
        ("example.com:99999", "fix or remove the port"),
        ("example.com#top", "remove it"),
        ("https://", "has no host"),
        ("example.com/?a&&b", "key=value"),
        ("", "without spaces"),
        ("example.com/kids*", "remove the '*'"),
    ],
)
def test_patterns_chromium_ignores_or_misreads_are_errors_with_a_fix(text: str, fix: str) -> None:
    with pytest.raises(PatternError) as err:
        parse_pattern(text)
    assert fix in err.value.hint or fix in err.value.message


def test_chromium_reading_keeps_patterns_that_never_match() -> None:
    # Chromium accepts these and they then match nothing; the matcher must do the same.
    p = chromium_pattern("*.example.com")
    assert p is not None and p.host == "*.example.com"
    assert chromium_pattern("example.com:0") is None
    assert chromium_pattern("https://") is None
    assert chromium_pattern("user:pw@example.com") is None
