"""The policy bundle: the part of a policy one room's devices need, as signed JSON.

The server signs `canonical_json(room_bundle(...))`; the agent verifies the signature, then
`policy_from_bundle` validates the content as strictly as the loader validates the TOML files,
so a bundle that is signed but wrong is still refused and the last good one kept.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from policies import urlrules
from policies.errors import PolicyError, PolicyIssue
from policies.model import Policy

BUNDLE_FORMAT = 1


def canonical_json(obj: Any) -> bytes:
    """One byte string per value: what is signed and what is verified."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def room_bundle(policy: Policy, room_id: str, serial: int = 0) -> dict[str, Any]:
    """The signed content for one room. `serial` grows with every policy the server imports, so a
    device can refuse an older bundle replayed to it (see `bundle_serial`)."""
    room = policy.room(room_id)
    if room is None:
        raise PolicyError.single(f"unknown room {room_id!r}", key="room")
    subset = Policy(
        district=policy.district,
        rooms=(room,),
        objectives=policy.objectives_for_room(room_id),
        version=policy.version,
    )
    return {
        "format": BUNDLE_FORMAT,
        "version": policy.version,
        "serial": serial,
        "room": room_id,
        "policy": subset.model_dump(mode="json"),
    }


def bundle_serial(data: dict[str, Any]) -> int:
    """The bundle's serial: 0 for bundles made before serials existed, -1 for one that is not a
    whole number (`policy_from_bundle` reports that)."""
    serial = data.get("serial", 0)
    return serial if isinstance(serial, int) and not isinstance(serial, bool) else -1


def _patterns(policy: Policy) -> list[tuple[str, str]]:
    d = policy.district
    found = [(f"district.always_allow[{i}]", p) for i, p in enumerate(d.always_allow)]
    found += [(f"district.never_allow[{i}]", p) for i, p in enumerate(d.never_allow)]
    found += [(f"district.blocklist[{i}]", p) for i, p in enumerate(d.blocklist)]
    for o in policy.objectives:
        for r, res in enumerate(o.resources):
            found.append((f"objective[{o.id}].resources[{r}].url", res.url))
            found += [
                (f"objective[{o.id}].resources[{r}].assets[{a}]", p)
                for a, p in enumerate(res.assets)
            ]
    return found


def policy_from_bundle(data: dict[str, Any]) -> Policy:
    """Validate a bundle's content; PolicyError names every problem."""
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise PolicyError.single(
            f"not a policy bundle of format {BUNDLE_FORMAT}", key="format", file="bundle"
        )
    try:
        policy = Policy.model_validate_json(json.dumps(data.get("policy")))
    except ValidationError as e:
        raise PolicyError(
            PolicyIssue("bundle", None, "policy." + ".".join(map(str, err["loc"])), err["msg"])
            for err in e.errors()
        ) from None
    issues = []
    for key, text in _patterns(policy):
        try:
            urlrules.parse_pattern(text)
        except urlrules.PatternError as e:
            issues.append(PolicyIssue("bundle", None, key, e.message, e.hint))
    if policy.version != data.get("version"):
        issues.append(PolicyIssue("bundle", None, "version", "does not match the policy inside"))
    if bundle_serial(data) < 0:
        issues.append(PolicyIssue("bundle", None, "serial", "must be a whole number, 0 or more"))
    room = data.get("room")
    if not isinstance(room, str) or policy.room(room) is None:
        issues.append(PolicyIssue("bundle", None, "room", f"room {room!r} is not in the bundle"))
    if issues:
        raise PolicyError(issues)
    return policy
