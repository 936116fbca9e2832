"""Host-level decisions for the network layer, which sees a host name and nothing else.

Each rule is reduced to the hosts it covers: an allow rule for `example.com/kids` opens the host
`example.com` (the browser layer then judges the path), while a block rule closes a host only
when it has no path, query, scheme or port of its own. Per host key only the strongest such rule
is kept, so a decision is a handful of dictionary lookups, one per label of the host.

Locked rules are folded in when the index is built: any entry at or under a locked host is
replaced by the locked rule, so the first entry found on the way from the full host name to the
shortest suffix decides.
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


def _suffixes(host: str) -> Iterable[str]:
    """`a.b.c`, `b.c`, `c`, then `` (the key of `*`)."""
    rest = host
    while True:
        yield rest
        if not rest:
            return
        dot = rest.find(".")
        rest = rest[dot + 1 :] if dot != -1 else ""


class HostIndex:
    def __init__(self, rules: Iterable[Rule], locked: Iterable[Rule] = ()) -> None:
        self._exact: dict[str, Rule] = {}
        self._suffix: dict[str, Rule] = {}
        for rule in rules:
            index = self._suffix if rule.pattern.match_subdomains else self._exact
            key = rule.pattern.host_key
            held = index.get(key)
            if held is None or _strength(rule) > _strength(held):
                index[key] = rule
        locked_exact = {r.pattern.host_key: r for r in locked if not r.pattern.match_subdomains}
        locked_suffix = {r.pattern.host_key: r for r in locked if r.pattern.match_subdomains}
        for index in (self._exact, self._suffix) if locked_exact or locked_suffix else ():
            for key in index:
                cover = locked_exact.get(key) if index is self._exact else None
                cover = cover or next(
                    (locked_suffix[s] for s in _suffixes(key) if s in locked_suffix), None
                )
                if cover is not None:
                    index[key] = cover
        self._exact.update(locked_exact)
        self._suffix.update(locked_suffix)
        # The same index as plain booleans, for `allows`: the proxy asks for every connection.
        self._exact_allow = {k: r.allow for k, r in self._exact.items()}
        self._suffix_allow = {k: r.allow for k, r in self._suffix.items()}

    def allows(self, host: str) -> bool:
        """`rule_for(host).allow`, True where no rule decides; the hot path of the proxy."""
        allowed = self._exact_allow.get(host)
        if allowed is not None:
            return allowed
        suffix = self._suffix_allow
        rest = host
        while True:
            allowed = suffix.get(rest)
            if allowed is not None:
                return allowed
            if not rest:
                return True
            dot = rest.find(".")
            rest = rest[dot + 1 :] if dot != -1 else ""

    def rule_for(self, host: str) -> Rule | None:
        """The deciding rule for `host` (lower-case, no trailing dot), or None."""
        rule = self._exact.get(host)
        if rule is not None:
            return rule
        # `_suffixes` inlined: this runs for every connection the proxy sees.
        suffix = self._suffix
        rest = host
        while True:
            rule = suffix.get(rest)
            if rule is not None or not rest:
                return rule
            dot = rest.find(".")
            rest = rest[dot + 1 :] if dot != -1 else ""
