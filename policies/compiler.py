"""Compile a policy and a session (room, objectives, teacher links) into what enforcement needs.

- the path-level allow and block lists for managed browser policies (`browser_allowlist`,
  `browser_blocklist`), and `decide(url)`, which answers as the browser will, plus LessonGate's
  two rules on top: the locked `never_allow` list always wins, and Translate/AMP/cache URLs are
  judged by the page they wrap;
- a host-level decision for the network layer (`host_allowed`): a host is reachable when some
  allowed pattern could match a URL on it and no locked rule closes the whole host.

Every answer says which objective, resource and pattern decided, or which district rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policies.errors import PolicyError
from policies.hosts import HostIndex, covers_whole_host
from policies.matcher import Matcher, Rule, parse_url
from policies.model import BandMode, Policy
from policies.unwrap import embedded_url, might_wrap
from policies.urlrules import UrlPattern, chromium_pattern


@dataclass(frozen=True, slots=True)
class ExtraLink:
    """A teacher's one-off link for the running session."""

    url: str
    objective_id: str
    teacher_id: str


@dataclass(frozen=True, slots=True)
class RuleSource:
    # "objective", "teacher_link", "always_allow", "never_allow", "blocklist", "lesson" (the
    # catch-all of a supervised band) or "pattern" (ad-hoc, from `explain --allow`)
    kind: str
    objective: str | None = None
    resource: str | None = None
    teacher: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    url: str
    allowed: bool
    pattern: str | None
    objective: str | None
    resource: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "decision": "allow" if self.allowed else "block",
            "pattern": self.pattern,
            "objective": self.objective,
            "reason": self.reason,
        }


_CATCH_ALL = UrlPattern("*", "", "", True, 0, "", ())


def _reason(rule: Rule | None, session_open: bool) -> str:
    if rule is None:
        return "no rule matches; browsers allow it"
    src = rule.source if isinstance(rule.source, RuleSource) else RuleSource("pattern")
    if src.kind == "pattern":
        return f"{'allowed' if rule.allow else 'blocked'} by pattern {rule.pattern.text}"
    if src.kind == "objective":
        return f"part of objective {src.objective} ({src.resource})"
    if src.kind == "teacher_link":
        return f"link added by teacher {src.teacher} for objective {src.objective}"
    if src.kind == "always_allow":
        return "always allowed by the district"
    if src.kind == "never_allow":
        return "blocked by a locked district rule"
    if src.kind == "blocklist":
        return "on the district blocklist"
    return (
        "not part of today's lesson" if session_open else "closed until a teacher starts a lesson"
    )


def _overlaps(a: UrlPattern, b: UrlPattern) -> bool:
    """Could one URL match both? (Hosts are already known to overlap.)"""
    if a.scheme and b.scheme and a.scheme != b.scheme:
        return False
    if a.port and b.port and a.port != b.port:
        return False
    return a.path.startswith(b.path) or b.path.startswith(a.path)


class CompiledRules:
    def __init__(
        self,
        *,
        policy_version: str,
        room_id: str,
        objective_ids: tuple[str, ...],
        allow: Iterable[Rule],
        block: Iterable[Rule],
        locked: Iterable[Rule],
    ) -> None:
        self.policy_version = policy_version
        self.room_id = room_id
        self.objective_ids = objective_ids
        locked = list(locked)
        self._locked = Matcher(locked)
        kept, self.dropped = self._without_locked_conflicts(allow)
        block = list(block)
        self._matcher = Matcher([*block, *kept])
        self.browser_allowlist: tuple[str, ...] = tuple(dict.fromkeys(r.pattern.text for r in kept))
        self.browser_blocklist: tuple[str, ...] = tuple(
            dict.fromkeys(r.pattern.text for r in [*block, *locked])
        )
        self._hosts = HostIndex(
            [*(r for r in block if covers_whole_host(r)), *kept],
            locked=[r for r in locked if covers_whole_host(r)],
        )

    @property
    def session_open(self) -> bool:
        return bool(self.objective_ids)

    def _without_locked_conflicts(self, allow: Iterable[Rule]) -> tuple[list[Rule], list[Rule]]:
        """Drop allow rules that would beat a locked rule in the browser's precedence."""
        kept: list[Rule] = []
        dropped: list[Rule] = []
        if not len(self._locked):
            return list(allow), dropped
        for rule in allow:
            conflict = any(
                _overlaps(rule.pattern, locked.pattern) and rule.precedence > locked.precedence
                for rules in self._locked.candidates(rule.pattern.host_key)
                for locked in rules
            )
            (dropped if conflict else kept).append(rule)
        return kept, dropped

    def _explain(self, url: str, rule: Rule | None, allowed: bool, reason: str) -> Explanation:
        src = rule.source if rule and isinstance(rule.source, RuleSource) else None
        return Explanation(
            url,
            allowed,
            rule.pattern.text if rule else None,
            src.objective if src else None,
            src.resource if src else None,
            reason,
        )

    def decide(self, url: str) -> Explanation:
        """What a browser with the exported policy shows, with LessonGate's locked rules first."""
        target, parsed = url, parse_url(url)
        for _ in range(4):
            if parsed is None:
                return self._explain(url, None, False, "not a valid URL")
            locked = self._locked.best(parsed)
            if locked is not None:
                return self._explain(url, locked, False, _reason(locked, self.session_open))
            inner = embedded_url(target) if might_wrap(parsed.host) else None
            if inner is None:
                break
            target, parsed = inner, parse_url(inner)
        else:
            return self._explain(url, None, False, "wrapped too many times to judge")
        decision = self._matcher.decide_parsed(parsed)
        reason = _reason(decision.rule, self.session_open)
        if target != url:
            reason = f"judged by the page it wraps, {target}: {reason}"
        return self._explain(url, decision.rule, decision.allowed, reason)

    def allows_host(self, host: str) -> bool:
        """The network layer's hot path: `host_allowed(host).allowed`, without the explanation."""
        return self._hosts.allows(host.lower().rstrip("."))

    def host_allowed(self, host: str) -> Explanation:
        """Network-layer decision by host name alone (SNI, Host header, CONNECT target)."""
        rule = self._hosts.rule_for(host.lower().rstrip("."))
        allowed = rule.allow if rule is not None else True
        return self._explain(host, rule, allowed, _reason(rule, self.session_open))

    def matches_locked(self, url: str) -> bool:
        parsed = parse_url(url)
        return parsed is not None and self._locked.best(parsed) is not None


def _rules(texts: Iterable[str], allow: bool, source: RuleSource) -> list[Rule]:
    rules = []
    for text in texts:
        pattern = chromium_pattern(text)
        if pattern is not None:  # the loader has already rejected invalid patterns
            rules.append(Rule(pattern, allow, source))
    return rules


def compile_rules(
    policy: Policy,
    *,
    room_id: str,
    objective_ids: Sequence[str] = (),
    extra_links: Sequence[ExtraLink] = (),
) -> CompiledRules:
    """The rules for a device in `room_id`; no objectives means the closed state."""
    room = policy.room(room_id)
    if room is None:
        raise PolicyError.single(
            f"unknown room {room_id!r}", key="room", hint="use a room id from rooms.toml"
        )
    band = policy.district.band(room.band)
    mode = band.mode if band else BandMode.SUPERVISED
    offered = {o.id: o for o in policy.objectives_for_room(room_id)}
    allow: list[Rule] = []
    for oid in dict.fromkeys(objective_ids):
        objective = offered.get(oid)
        if objective is None:
            raise PolicyError.single(
                f"objective {oid!r} is not offered in room {room_id!r}",
                key="objectives",
                hint="pick one of the room's objectives (lessongate-policy explain --room)",
            )
        for res in objective.resources:
            src = RuleSource("objective", objective.id, res.title)
            allow += _rules([res.url, *res.assets], True, src)
    for link in extra_links:
        if link.objective_id not in objective_ids:
            raise PolicyError.single(
                f"link {link.url!r} is for objective {link.objective_id!r}, not in this session",
                key="extra_links",
            )
        src = RuleSource("teacher_link", link.objective_id, link.url, link.teacher_id)
        allow += _rules([link.url], True, src)
    allow += _rules(policy.district.always_allow, True, RuleSource("always_allow"))
    block: list[Rule] = []
    if mode is BandMode.SUPERVISED:
        block.append(Rule(_CATCH_ALL, False, RuleSource("lesson")))
    elif mode is BandMode.FILTERED:
        block += _rules(policy.district.blocklist, False, RuleSource("blocklist"))
    locked = _rules(policy.district.never_allow, False, RuleSource("never_allow"))
    return CompiledRules(
        policy_version=policy.version,
        room_id=room_id,
        objective_ids=tuple(dict.fromkeys(objective_ids)),
        allow=allow,
        block=block,
        locked=locked,
    )


def rules_from_patterns(allow: Iterable[str], block: Iterable[str] = ("*",)) -> CompiledRules:
    """Ad-hoc rules for `lessongate-policy explain --allow ... --block ...`."""
    return CompiledRules(
        policy_version="",
        room_id="",
        objective_ids=("(patterns)",),
        allow=_rules(allow, True, RuleSource("pattern")),
        block=_rules(block, False, RuleSource("pattern")),
        locked=(),
    )
