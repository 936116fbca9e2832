"""Managed-browser policies from compiled rules: Chrome/Chromium, Microsoft Edge, Firefox.

Besides the URL lists, every export switches off what would walk around them: private windows,
guest mode, new profiles, developer tools, the browser's own DNS-over-HTTPS, QUIC (which the
network layer cannot see into) and extension installs.
"""

from __future__ import annotations

from typing import Any, Literal

from policies.compiler import CompiledRules
from policies.model import MAX_LIST_ENTRIES
from policies.urlrules import chromium_pattern

Browser = Literal["chrome", "chromium", "edge", "firefox"]
BROWSERS: tuple[Browser, ...] = ("chrome", "chromium", "edge", "firefox")


class ExportError(ValueError):
    """The rules cannot be expressed for that browser without changing their meaning."""


def _check_size(name: str, entries: tuple[str, ...]) -> None:
    if len(entries) > MAX_LIST_ENTRIES:
        raise ExportError(
            f"{name} would have {len(entries)} entries; browsers read only the first "
            f"{MAX_LIST_ENTRIES} and ignore the rest. Pick fewer objectives for the session "
            "or merge resource patterns by host."
        )


def _chromium_family(rules: CompiledRules, edge: bool) -> dict[str, Any]:
    _check_size("URLAllowlist", rules.browser_allowlist)
    _check_size("URLBlocklist", rules.browser_blocklist)
    policy: dict[str, Any] = {
        "URLBlocklist": list(rules.browser_blocklist),
        "URLAllowlist": list(rules.browser_allowlist),
        "BrowserGuestModeEnabled": False,
        "DeveloperToolsAvailability": 2,  # disallowed everywhere
        "DnsOverHttpsMode": "off",
        "QuicAllowed": False,
        # ECH would hide the real name inside the ClientHello; the proxy decides by that name.
        "EncryptedClientHelloEnabled": False,
        "ExtensionInstallBlocklist": ["*"],
    }
    if edge:
        policy["InPrivateModeAvailability"] = 1  # disabled
        policy["BrowserAddProfileEnabled"] = False
    else:
        policy["IncognitoModeAvailability"] = 1  # disabled
        policy["BrowserAddPersonEnabled"] = False
    return policy


def firefox_match_pattern(text: str) -> str | None:
    """A Chrome filter as a WebExtension match pattern (Firefox's WebsiteFilter).

    Match patterns cannot say "this port only" or "every token of this key", so a port is
    dropped and a query becomes a prefix of the path: Firefox's filter is then slightly wider
    than Chrome's for those rules, never narrower.
    """
    p = chromium_pattern(text)
    if p is None:
        return None
    if p.is_wildcard:
        return "<all_urls>"
    scheme = p.scheme if p.scheme in ("http", "https") else "*"
    if not p.host:
        host = "*"
    elif p.match_subdomains:
        host = "*." + p.host_key
    else:
        host = p.host_key
    path = p.path or "/"
    if p.query:
        query = "&".join(c.key + ("" if c.value is None else "=" + c.value) for c in p.query)
        path = f"{path}?{query}"
    return f"{scheme}://{host}{path}*"


def _match_patterns(texts: tuple[str, ...]) -> list[str]:
    return [m for m in map(firefox_match_pattern, texts) if m is not None]


def _firefox(rules: CompiledRules) -> dict[str, Any]:
    _check_size("WebsiteFilter.Exceptions", rules.browser_allowlist)
    return {
        "policies": {
            "WebsiteFilter": {
                "Block": _match_patterns(rules.browser_blocklist),
                "Exceptions": _match_patterns(rules.browser_allowlist),
            },
            "DisablePrivateBrowsing": True,
            "DisableDeveloperTools": True,
            "DisableProfileRefresh": True,
            "DNSOverHTTPS": {"Enabled": False, "Locked": True},
            "ExtensionSettings": {"*": {"installation_mode": "blocked"}},
            "Preferences": {"network.http.http3.enable": {"Value": False, "Status": "locked"}},
        }
    }


def browser_policy(rules: CompiledRules, browser: Browser) -> dict[str, Any]:
    """The managed-policy JSON `browser` reads; ExportError past its list limits."""
    if browser == "firefox":
        return _firefox(rules)
    return _chromium_family(rules, edge=browser == "edge")
