"""The matcher's own rules; agreement with real Chromium is in test_matcher_chromium.py."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.matcher import LinearMatcher, Matcher, Rule, parse_url
from policies.urlrules import chromium_pattern


def decide(url: str, allow: list[str], block: list[str] | None = None) -> bool:
    return Matcher.from_patterns(allow, ["*"] if block is None else block).decide(url).allowed


def test_no_rule_matching_means_allowed_like_the_browser() -> None:
    assert Matcher.from_patterns([], []).decide("https://example.com/").allowed


def test_subdomains_match_unless_the_host_starts_with_a_dot() -> None:
    assert decide("https://www.example.com/", ["example.com"])
    assert decide("https://example.com/", ["example.com"])
    assert not decide("https://badexample.com/", ["example.com"])
    assert decide("https://example.com/", [".example.com"])
    assert not decide("https://www.example.com/", [".example.com"])


def test_path_is_a_prefix_and_case_sensitive() -> None:
    assert decide("https://example.com/kids/page", ["example.com/kids"])
    assert decide("https://example.com/kidsx", ["example.com/kids"])
    assert not decide("https://example.com/Kids", ["example.com/kids"])
    assert not decide("https://example.com/", ["example.com/kids"])


def test_scheme_and_port_restrict_when_given() -> None:
    assert decide("https://example.com/", ["https://example.com"])
    assert not decide("http://example.com/", ["https://example.com"])
    assert decide("https://example.com/", ["example.com:443"])
    assert not decide("http://example.com/", ["example.com:443"])
    assert decide("http://example.com:8080/", ["example.com:8080"])


def test_more_specific_rule_wins_and_allow_wins_ties() -> None:
    assert not decide("https://a.example.com/", ["example.com"], ["a.example.com"])
    assert decide("https://a.example.com/", ["a.example.com"], ["example.com"])
    assert decide("https://example.com/kids", ["example.com/kids"], ["example.com"])
    assert not decide("https://example.com/kids/x", ["example.com/kids"], ["example.com/kids/x"])
    assert decide("https://example.com/", ["example.com"], ["example.com"])
    # An exact host outranks a longer host that also matches subdomains.
    assert decide("https://a.example.com/", [".a.example.com"], ["a.example.com/"])


def test_allowlist_query_needs_every_occurrence_of_the_key_to_match() -> None:
    allow = ["example.com/watch?v=abc"]
    assert decide("https://example.com/watch?v=abc", allow)
    assert decide("https://example.com/watch?x=1&v=abc", allow)
    assert not decide("https://example.com/watch?v=abc&v=evil", allow)
    assert not decide("https://example.com/watch", allow)
    assert decide("https://example.com/watch?v=abcd", ["example.com/watch?v=ab*"])


def test_blocklist_query_matches_any_occurrence() -> None:
    assert not decide("https://example.com/?a=1&v=bad", ["example.com"], ["example.com/?v=bad"])


def test_canonical_url_forms_are_judged_as_the_browser_sees_them() -> None:
    assert decide("HTTPS://WWW.EXAMPLE.COM/", ["example.com"])
    assert decide("https://example.com./", [".example.com"])
    assert not decide("https://example.com@evil.test/", ["example.com"])
    assert decide("http://3221225994/", ["192.0.2.10"])  # 192.0.2.10 in decimal
    assert decide("https://bücher.example/", ["xn--bcher-kva.example"])
    assert not decide("https://example.com/kids/../admin", ["example.com/kids"])


def test_unparseable_url_is_blocked() -> None:
    assert not Matcher.from_patterns(["*"], []).decide("http://[::1/").allowed


def test_invalid_patterns_are_dropped_like_chromium_does() -> None:
    m = Matcher.from_patterns(["example.com:99999", "mailto:x"], ["*"])
    assert len(m) == 1


HOSTS = ["example.com", "a.example.com", "b.a.example.com", "example.org", "test", "*"]
PATHS = ["", "/", "/kids", "/kids/", "/k"]


@st.composite
def patterns(draw: st.DrawFn) -> Rule:
    host = draw(st.sampled_from(HOSTS))
    dot = "." if host != "*" and draw(st.booleans()) else ""
    scheme = draw(st.sampled_from(["", "https://", "http://"]))
    path = draw(st.sampled_from(PATHS))
    query = draw(st.sampled_from(["", "?v=1", "?v=1*", "?v"]))
    pattern = chromium_pattern(f"{scheme}{dot}{host}{path}{query}")
    assert pattern is not None
    return Rule(pattern, draw(st.booleans()))


@st.composite
def urls(draw: st.DrawFn) -> str:
    host = draw(st.sampled_from([h for h in HOSTS if h != "*"] + ["x.b.a.example.com"]))
    scheme = draw(st.sampled_from(["https", "http"]))
    path = draw(st.sampled_from(["/", "/kids", "/kids/x", "/kx", "/other"]))
    query = draw(st.sampled_from(["", "?v=1", "?v=12", "?v=1&v=2", "?v", "?w=1"]))
    return f"{scheme}://{host}{path}{query}"


@settings(max_examples=300, deadline=None)
@given(st.lists(patterns(), max_size=12), urls())
def test_indexed_matcher_decides_like_a_linear_scan(rules: list[Rule], url: str) -> None:
    fast, slow = Matcher(rules).decide(url), LinearMatcher(rules).decide(url)
    assert fast.allowed == slow.allowed
    assert (fast.rule.precedence if fast.rule else None) == (
        slow.rule.precedence if slow.rule else None
    )


def test_parse_url_reports_effective_port_and_query_tokens() -> None:
    u = parse_url("https://Example.COM./a?x=1&y")
    assert u is not None
    assert (u.host, u.port, u.path, u.query) == ("example.com", 443, "/a", ("x=1", "y"))
