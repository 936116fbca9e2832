"""`lessongate-policy explain` and `export`: what a policy decides, and what browsers get.

explain DIR URL... [--room R] [--objective ID]...   decisions for a room's session
explain --allow PATTERN... [--block PATTERN...] URL...   decisions for ad-hoc patterns
export DIR --objective ID... --format chrome|edge|firefox [--room R]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from policies.compiler import CompiledRules, compile_rules, rules_from_patterns
from policies.errors import PolicyError, PolicyIssue
from policies.export import BROWSERS, ExportError, browser_policy
from policies.loader import load_policy
from policies.model import Policy
from policies.urlrules import PatternError, parse_pattern

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_explain(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show whether URLs are allowed, and which rule decides",
        description="Show the decision for each URL and the objective, resource and pattern "
        "behind it. With --allow, judge ad-hoc patterns instead of a policy directory "
        "(the blocklist is then '*' unless --block is given), as Chrome would with "
        "URLBlocklist and URLAllowlist.",
    )
    parser.add_argument("items", nargs="+", metavar="DIR URL", help="policy directory, then URLs")
    parser.add_argument(
        "--room",
        help="room whose session to explain (default: the first room offering the objectives)",
    )
    parser.add_argument(
        "--objective",
        action="append",
        default=[],
        metavar="ID",
        help="an objective of the session; none means the closed state",
    )
    parser.add_argument(
        "--allow", action="append", metavar="PATTERN", help="an ad-hoc allow pattern (repeat)"
    )
    parser.add_argument(
        "--block", action="append", metavar="PATTERN", help="an ad-hoc block pattern (repeat)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per URL per line")
    parser.set_defaults(run=_run_explain, more_positionals="items")


def add_export(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="print the managed browser policy for a session",
        description="Print the managed-policy JSON a browser reads for a session of the given "
        "objectives. Refuses, rather than truncates, lists past Chrome's 1,000-entry limit.",
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="the policy directory")
    parser.add_argument("--objective", action="append", default=[], metavar="ID", required=True)
    parser.add_argument("--format", choices=BROWSERS, required=True)
    parser.add_argument("--room", help="the room (default: the first room offering them)")
    parser.set_defaults(run=_run_export)


def _room_for(policy: Policy, room: str | None, objectives: list[str]) -> str:
    if room is not None:
        return room
    for candidate in policy.rooms:
        offered = {o.id for o in policy.objectives_for_room(candidate.id)}
        if offered.issuperset(objectives):
            return candidate.id
    raise PolicyError.single(
        f"no room offers all of {', '.join(objectives)}",
        key="objective",
        hint="check the objectives' grade bands, or name a room with --room",
    )


def _policy_rules(directory: Path, room: str | None, objectives: list[str]) -> CompiledRules:
    policy = load_policy(directory)
    return compile_rules(
        policy, room_id=_room_for(policy, room, objectives), objective_ids=objectives
    )


def _checked_patterns(patterns: list[str], flag: str) -> list[str]:
    issues = []
    for i, text in enumerate(patterns):
        try:
            parse_pattern(text)
        except PatternError as e:
            issues.append(PolicyIssue("", None, f"{flag}[{i}]", e.message, e.hint))
    if issues:
        raise PolicyError(issues)
    return patterns


def _run_explain(args: argparse.Namespace) -> int:
    items: list[str] = args.items
    if args.allow is not None or args.block is not None:
        rules = rules_from_patterns(
            _checked_patterns(args.allow or [], "--allow"),
            _checked_patterns(args.block or ["*"], "--block"),
        )
        urls = items
    else:
        if len(items) < 2:
            raise PolicyError.single("give a policy directory and at least one URL", key="URL")
        args.directory = Path(items[0])
        rules = _policy_rules(args.directory, args.room, args.objective)
        urls = items[1:]
    for url in urls:
        e = rules.decide(url)
        if args.json:
            print(json.dumps(e.to_json(), ensure_ascii=False))
        else:
            verdict = "ALLOW" if e.allowed else "BLOCK"
            via = f"  [{e.pattern}]" if e.pattern else ""
            print(f"{verdict}  {url}  — {e.reason}{via}")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    rules = _policy_rules(args.directory, args.room, args.objective)
    try:
        policy = browser_policy(rules, args.format)
    except ExportError as e:
        raise PolicyError.single(str(e), key="--objective") from None
    print(json.dumps(policy, indent=2, ensure_ascii=False))
    return 0
