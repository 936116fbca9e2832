from __future__ import annotations

import pytest

from policies.compiler import compile_rules, rules_from_patterns
from policies.export import ExportError, browser_policy, firefox_match_pattern
from tests.policies.sample_policy import sample_policy


def test_chrome_policy_blocks_everything_but_the_session_and_locks_the_escapes() -> None:
    rules = compile_rules(sample_policy(), room_id="lab-3a", objective_ids=["CSTA.1B-AP-10"])
    p = browser_policy(rules, "chrome")
    assert p["URLBlocklist"][0] == "*"
    assert "translate.google.com" in p["URLBlocklist"]
    assert "https://code.org/learn" in p["URLAllowlist"]
    assert p["IncognitoModeAvailability"] == 1
    assert p["BrowserGuestModeEnabled"] is False
    assert p["BrowserAddPersonEnabled"] is False
    assert p["DeveloperToolsAvailability"] == 2
    assert p["DnsOverHttpsMode"] == "off"
    assert p["QuicAllowed"] is False
    assert p["EncryptedClientHelloEnabled"] is False
    assert p["ExtensionInstallBlocklist"] == ["*"]


def test_edge_uses_its_own_names_for_private_windows_and_profiles() -> None:
    p = browser_policy(compile_rules(sample_policy(), room_id="lab-3a"), "edge")
    assert p["InPrivateModeAvailability"] == 1 and p["BrowserAddProfileEnabled"] is False
    assert "IncognitoModeAvailability" not in p


def test_firefox_gets_website_filter_match_patterns() -> None:
    rules = compile_rules(sample_policy(), room_id="lab-3a", objective_ids=["CSTA.1B-AP-10"])
    p = browser_policy(rules, "firefox")["policies"]
    assert p["WebsiteFilter"]["Block"][0] == "<all_urls>"
    assert "https://*.code.org/learn*" in p["WebsiteFilter"]["Exceptions"]
    assert p["DisablePrivateBrowsing"] is True
    assert p["DNSOverHTTPS"] == {"Enabled": False, "Locked": True}


@pytest.mark.parametrize(
    ("chrome", "firefox"),
    [
        ("example.com", "*://*.example.com/*"),
        (".example.com/kids", "*://example.com/kids*"),
        ("https://example.com:8443/a?v=1", "https://*.example.com/a?v=1*"),
        ("*", "<all_urls>"),
    ],
)
def test_chrome_filters_become_match_patterns(chrome: str, firefox: str) -> None:
    assert firefox_match_pattern(chrome) == firefox


def test_past_chromes_limit_the_export_refuses_rather_than_truncates() -> None:
    rules = rules_from_patterns([f"site{i}.example.com" for i in range(1001)])
    with pytest.raises(ExportError, match="1001 entries"):
        browser_policy(rules, "chrome")
    assert (
        len(browser_policy(rules_from_patterns(["a.test"] * 1001), "chrome")["URLAllowlist"]) == 1
    )
