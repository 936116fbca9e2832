from __future__ import annotations

import json

import pytest

from policies.bundle import canonical_json, policy_from_bundle, room_bundle
from policies.errors import PolicyError
from tests.policies.sample_policy import sample_policy


def test_bundle_round_trips_to_the_rooms_part_of_the_policy() -> None:
    bundle = room_bundle(sample_policy(), "lab-3a")
    restored = policy_from_bundle(json.loads(canonical_json(bundle)))
    assert [r.id for r in restored.rooms] == ["lab-3a"]
    assert {o.id for o in restored.objectives} == {"NGSS.3-ESS2-1", "CSTA.1B-AP-10"}
    assert restored.district == sample_policy().district
    assert restored.version == bundle["version"] == "v1"


def test_canonical_json_is_stable_whatever_the_key_order() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == canonical_json({"a": [1, "é"], "b": 1})
    assert canonical_json({"a": 1}) == b'{"a":1}'


def test_unknown_room_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown room"):
        room_bundle(sample_policy(), "nope")


def test_a_tampered_or_invalid_bundle_is_refused_with_every_problem() -> None:
    bundle = room_bundle(sample_policy(), "lab-3a")
    bundle["policy"]["district"]["never_allow"] = ["*.evil.test"]
    bundle["policy"]["objectives"][0]["resources"][0]["surprise"] = 1
    with pytest.raises(PolicyError) as err:
        policy_from_bundle(bundle)
    assert "surprise" in str(err.value)
    bundle["policy"]["objectives"][0]["resources"][0].pop("surprise")
    bundle["version"] = "other"
    with pytest.raises(PolicyError) as err:
        policy_from_bundle(bundle)
    keys = {i.key for i in err.value.issues}
    assert keys == {"district.never_allow[0]", "version"}


@pytest.mark.parametrize("data", [{}, {"format": 2}, {"format": 1, "policy": "x"}, []])
def test_garbage_is_refused(data: object) -> None:
    with pytest.raises(PolicyError):
        policy_from_bundle(data)  # type: ignore[arg-type]
