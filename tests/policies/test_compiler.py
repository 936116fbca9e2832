from __future__ import annotations

import pytest

from policies.compiler import ExtraLink, compile_rules, rules_from_patterns
from policies.errors import PolicyError
from tests.policies.sample_policy import sample_policy


def test_closed_state_opens_only_the_always_allow_list() -> None:
    rules = compile_rules(sample_policy(), room_id="lab-3a")
    assert rules.decide("https://accounts.google.com/signin").allowed
    blocked = rules.decide("https://scijinks.gov/weather/")
    assert not blocked.allowed
    assert blocked.reason == "closed until a teacher starts a lesson"
    assert rules.browser_blocklist[0] == "*"


def test_session_opens_its_objectives_resources_and_says_which() -> None:
    rules = compile_rules(sample_policy(), room_id="lab-3a", objective_ids=["NGSS.3-ESS2-1"])
    e = rules.decide("https://scijinks.gov/weather/clouds")
    assert e.allowed and e.objective == "NGSS.3-ESS2-1" and e.resource == "SciJinks weather"
    assert e.pattern == "https://scijinks.gov/weather/"
    off = rules.decide("https://scijinks.gov/games/")
    assert not off.allowed and off.reason == "not part of today's lesson"
    assert not rules.decide("https://code.org/learn").allowed  # another objective
    assert rules.browser_allowlist == (
        "https://scijinks.gov/weather/",
        "cdn.scijinks.test",
        "accounts.google.com",
        "lms.district.test",
    )


def test_host_level_decision_opens_hosts_some_allowed_url_lives_on() -> None:
    rules = compile_rules(sample_policy(), room_id="lab-3a", objective_ids=["NGSS.3-ESS2-1"])
    assert rules.host_allowed("scijinks.gov").allowed
    assert rules.host_allowed("www.scijinks.gov.").allowed
    assert rules.host_allowed("cdn.scijinks.test").allowed
    assert not rules.host_allowed("evil.test").allowed
    assert not rules.host_allowed("203.0.113.5").allowed


def test_locked_rules_win_over_objectives_and_teacher_links() -> None:
    policy = sample_policy()
    link = ExtraLink("https://translate.google.com/", "CSTA.1B-AP-10", "t-42")
    rules = compile_rules(
        policy, room_id="lab-3a", objective_ids=["CSTA.1B-AP-10"], extra_links=[link]
    )
    e = rules.decide("https://translate.google.com/")
    assert not e.allowed and e.reason == "blocked by a locked district rule"
    assert "https://translate.google.com/" not in rules.browser_allowlist
    assert not rules.host_allowed("translate.google.com").allowed
    # A locked path on an allowed host closes the path, not the host.
    assert not rules.decide("https://code.org/evil/x").allowed
    assert rules.decide("https://code.org/learn/1").allowed
    assert rules.host_allowed("code.org").allowed


def test_teacher_link_is_explained_with_the_teacher() -> None:
    link = ExtraLink("https://example.org/map", "CSTA.1B-AP-10", "t-42")
    rules = compile_rules(
        sample_policy(), room_id="lab-3a", objective_ids=["CSTA.1B-AP-10"], extra_links=[link]
    )
    e = rules.decide("https://example.org/map")
    assert e.allowed and "t-42" in e.reason and e.objective == "CSTA.1B-AP-10"


def test_wrapped_urls_are_judged_by_the_page_inside() -> None:
    rules = compile_rules(sample_policy(), room_id="lab-3a", objective_ids=["CSTA.1B-AP-10"])
    amp = rules.decide("https://code-org.cdn.ampproject.org/c/s/evil.test/page")
    assert not amp.allowed and "evil.test" in amp.reason
    ok = rules.decide("https://www.google.com/amp/s/code.org/learn/x")
    assert ok.allowed and ok.objective == "CSTA.1B-AP-10"


def test_filtered_band_applies_the_district_blocklist_only() -> None:
    rules = compile_rules(sample_policy(), room_id="lab-7")
    assert rules.decide("https://example.org/").allowed
    assert not rules.decide("https://games.test/play").allowed
    assert not rules.decide("https://dns.google/").allowed


@pytest.mark.parametrize(
    ("room", "objectives", "message"),
    [
        ("nope", [], "unknown room"),
        ("lab-3a", ["K-ONLY"], "not offered in room"),
        ("lab-3a", ["NOPE"], "not offered in room"),
    ],
)
def test_sessions_the_policy_does_not_offer_are_refused(
    room: str, objectives: list[str], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        compile_rules(sample_policy(), room_id=room, objective_ids=objectives)


def test_ad_hoc_patterns_explain_themselves() -> None:
    rules = rules_from_patterns(["example.com/kids"])
    assert rules.decide("https://example.com/kids").reason == "allowed by pattern example.com/kids"
    assert rules.decide("https://example.com/").reason == "blocked by pattern *"
