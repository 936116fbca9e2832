"""Host-level decisions for the network layer, which sees a host name and nothing else.

Each rule is reduced to the hosts it covers: an allow rule for `example.com/kids` opens the host
`example.com` (the browser layer then judges the path), while a block rule closes a host only
when it has no path, query, scheme or port of its own. Per host key only the strongest such rule
is kept, so a decision is a handful of dictionary lookups, one per label of the host.
"""

from __future__ import annotations

from collections.abc import Iterable

from policies.matcher import Rule


def _strength(rule: Rule) -> tuple[bool, bool, int, bool]:
    # Chromium's precedence with the path and query left out (they are not seen here).
    p = rule.pattern
    return (
        not (p.is_wildcard and not rule.allow),
        not p.match_subdomains,
        p.host_length,
        rule.allow,
    )


def covers_whole_host(rule: Rule) -> bool:
    p = rule.pattern
    return not p.scheme and not p.port and not p.path and not p.query


class HostIndex:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self._exact: dict[str, Rule] = {}
        self._suffix: dict[str, Rule] = {}
        for rule in rules:
            index = self._suffix if rule.pattern.match_subdomains else self._exact
            key = rule.pattern.host_key
            held = index.get(key)
            if held is None or _strength(rule) > _strength(held):
                index[key] = rule

    def rule_for(self, host: str) -> Rule | None:
        """The deciding rule for `host` (lower-case, no trailing dot), or None."""
        rule = self._exact.get(host)
        if rule is not None:
            return rule
        suffix = self._suffix
        rest = host
        while True:
            rule = suffix.get(rest)
            if rule is not None or not rest:
                return rule
            dot = rest.find(".")
            rest = rest[dot + 1 :] if dot != -1 else ""
