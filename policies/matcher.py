"""URL decisions with Chromium's URLBlocklist/URLAllowlist semantics.

The rule that decides is the one with the highest precedence among those that match
(components/policy/core/browser/url_list/url_blocklist_manager.cc, `FilterTakesPrecedence`):
the bare `*` blocklist entry is the weakest; an exact host (`.example.com`) beats a host with
subdomains; then the longer host, the longer path, the more query conditions; allow wins a tie.
No rule matching means allowed, as in the browser.

Rules are indexed by host, so a decision looks at the URL host's label suffixes only and does
not scan the whole list (`benches/bench_policies.py` measures both).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import ada_url

from policies.urlrules import DEFAULT_PORTS, QueryCondition, UrlPattern, chromium_pattern


def _condition_identity(cond: QueryCondition, allow: bool) -> tuple[bool, str]:
    """When Chromium considers two query conditions the same (it keeps them in a std::set).

    An allowlist condition is identified by its key alone, so `?a=1&a=2` keeps only `a=1`.
    """
    if cond.value is None:
        if cond.prefix or not allow:
            return (False, cond.key + ("" if cond.prefix else "&"))
        return (True, cond.key)
    if cond.prefix and not cond.value:
        return (False, cond.key + "=")
    if allow:
        return (True, cond.key + "=")
    return (False, cond.key + "=" + cond.value + ("" if cond.prefix else "&"))


@dataclass(slots=True)  # not frozen, for the same reason as UrlPattern; never mutated
class Rule:
    pattern: UrlPattern
    allow: bool
    # Who asked for this rule (an objective's resource, the district list...): for explanations.
    source: object = None
    # The pattern's query conditions as Chromium keeps them (duplicates by its identity dropped).
    conditions: tuple[QueryCondition, ...] = field(init=False, repr=False, compare=False)
    # Chromium's FilterTakesPrecedence as a sort key: the larger tuple wins.
    precedence: tuple[bool, bool, int, int, int, bool] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        p = self.pattern
        conditions: tuple[QueryCondition, ...] = ()
        if p.query:
            kept: dict[tuple[bool, str], QueryCondition] = {}
            for cond in p.query:
                kept.setdefault(_condition_identity(cond, self.allow), cond)
            conditions = tuple(kept.values())
        self.conditions = conditions
        self.precedence = (
            not (p.is_wildcard and not self.allow),
            not p.match_subdomains,
            p.host_length,
            len(p.path),
            len(conditions),
            self.allow,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: Rule | None  # None: no rule matched (allowed), or the URL could not be parsed

    @property
    def pattern(self) -> str | None:
        return self.rule.pattern.text if self.rule else None


class ParsedUrl(NamedTuple):
    scheme: str
    host: str  # canonical, trailing dots removed
    port: int  # effective port; -1 where the scheme has none
    path: str
    query: tuple[str, ...] | None  # '&'-separated tokens, None without a '?'


# The parts of a canonical (already normalised) URL; the userinfo is skipped, as browsers match
# the host after the '@'.
_CANONICAL_RE = re.compile(
    r"([a-z][a-z0-9+.\-]*):(?://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::([0-9]+))?)?"
    r"([^?#]*)(\?[^#]*)?"
)


def parse_url(url: str) -> ParsedUrl | None:
    """Canonicalise as a browser does (WHATWG URL, via ada); None if it is not a URL."""
    try:
        canonical = ada_url.normalize_url(url)
    except ValueError:
        return None
    m = _CANONICAL_RE.match(canonical)
    if m is None:  # pragma: no cover - ada only returns canonical URLs
        return None
    scheme, host, port, path, search = m.groups()
    # Chromium's blocklist ignores trailing dots: `example.com..` is judged as example.com.
    host = (host or "").rstrip(".")
    return ParsedUrl(
        scheme,
        host,
        int(port) if port else DEFAULT_PORTS.get(scheme, -1),
        path,
        tuple(search[1:].split("&")) if search is not None else None,
    )


def _query_matches(cond: QueryCondition, tokens: tuple[str, ...], allow: bool) -> bool:
    # Mirrors URLQueryElementMatcherCondition: a blocklist entry matches if any token fits;
    # an allowlist entry only if every token with that key fits (so `?v=abc&v=other` is not
    # let through by `?v=abc`).
    if cond.value is None:
        if cond.prefix:
            return any(t.startswith(cond.key) for t in tokens)
        hits = [t for t in tokens if t.startswith(cond.key)]
        if not allow:
            return cond.key in tokens
        return bool(hits) and all(t == cond.key for t in hits)
    head = cond.key + "="
    want = head + cond.value

    def fits(token: str) -> bool:
        return token.startswith(want) if cond.prefix else token == want

    if not allow or (cond.prefix and not cond.value):
        return any(fits(t) for t in tokens)
    hits = [t for t in tokens if t.startswith(head)]
    return bool(hits) and all(fits(t) for t in hits)


def rule_matches(rule: Rule, url: ParsedUrl) -> bool:
    """Everything but the host, which the index has already checked."""
    p = rule.pattern
    if p.scheme and p.scheme != url.scheme:
        return False
    if p.port and p.port != url.port:
        return False
    if p.path and not url.path.startswith(p.path):
        return False
    if rule.conditions:
        if url.query is None:
            return False
        return all(_query_matches(c, url.query, rule.allow) for c in rule.conditions)
    return True


def _strongest_first(rules: list[Rule]) -> tuple[Rule, ...]:
    return tuple(sorted(rules, key=lambda r: r.precedence, reverse=True))


class Matcher:
    """An immutable set of allow and block rules, indexed by host."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        exact: dict[str, list[Rule]] = {}
        suffix: dict[str, list[Rule]] = {}
        count = 0
        for rule in rules:
            index = suffix if rule.pattern.match_subdomains else exact
            index.setdefault(rule.pattern.host_key, []).append(rule)
            count += 1
        self._exact = {h: _strongest_first(rs) for h, rs in exact.items()}
        self._suffix = {h: _strongest_first(rs) for h, rs in suffix.items()}
        self._count = count

    def __len__(self) -> int:
        return self._count

    @classmethod
    def from_patterns(cls, allow: Iterable[str] = (), block: Iterable[str] = ()) -> Matcher:
        """Exactly what Chromium builds from URLAllowlist and URLBlocklist."""
        rules: list[Rule] = []
        for texts, is_allow in ((block, False), (allow, True)):
            for text in texts:
                pattern = chromium_pattern(text)
                if pattern is not None:  # Chromium drops invalid entries, so do we
                    rules.append(Rule(pattern, is_allow))
        return cls(rules)

    def candidates(self, host: str) -> Iterable[tuple[Rule, ...]]:
        """Rule lists that apply to `host`, each sorted by precedence, strongest list first."""
        exact = self._exact.get(host)
        if exact:
            yield exact
        # Subdomain rules, from the longest host suffix to the bare `*` (key "").
        rest = host
        while True:
            rules = self._suffix.get(rest)
            if rules:
                yield rules
            if not rest:
                return
            dot = rest.find(".")
            rest = rest[dot + 1 :] if dot != -1 else ""

    def best(self, url: ParsedUrl) -> Rule | None:
        # The lists come strongest first (an exact host beats any subdomain rule, a longer
        # host suffix beats a shorter one) and each is sorted, so the first match decides.
        for rules in self.candidates(url.host):
            for rule in rules:
                if rule_matches(rule, url):
                    return rule
        return None

    def decide(self, url: str) -> Decision:
        parsed = parse_url(url)
        if parsed is None:
            return Decision(False, None)
        outer = self.decide_parsed(parsed)
        if outer.allowed and url[:12].lower() == "view-source:":
            # Chromium judges both the view-source: URL and the page whose source it shows.
            return self.decide(url[12:])
        return outer

    def decide_parsed(self, url: ParsedUrl) -> Decision:
        rule = self.best(url)
        return Decision(rule.allow if rule else True, rule)


class LinearMatcher:
    """The same decisions by scanning every rule: the reference the index is tested and
    benchmarked against. Not for production use."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = list(rules)

    def decide(self, url: str) -> Decision:
        parsed = parse_url(url)
        if parsed is None:
            return Decision(False, None)
        best: Rule | None = None
        for rule in self._rules:
            p = rule.pattern
            host_ok = parsed.host == p.host_key or (
                p.match_subdomains and (not p.host or parsed.host.endswith("." + p.host_key))
            )
            if (
                host_ok
                and rule_matches(rule, parsed)
                and (best is None or rule.precedence > best.precedence)
            ):
                best = rule
        return Decision(best.allow if best else True, best)
