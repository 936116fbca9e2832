"""Teacher PIN checks and offline verifiers."""

from __future__ import annotations

from argon2 import PasswordHasher

from tests.server_stub.conftest import World


def _check(
    world: World, device: dict[str, str], teacher: str, pin: str
) -> tuple[int, dict[str, str], str | None]:
    r = world.client.post(
        "/api/v1/pin/check", json={"teacher_id": teacher, "pin": pin}, headers=world.auth(device)
    )
    return r.status_code, r.json(), r.headers.get("retry-after")


def test_right_pin_of_assigned_teacher_passes(world: World) -> None:
    device = world.enroll("lab-3a")
    status, body, _ = _check(world, device, "alice", "1234")
    assert status == 200
    assert body == {"ok": True, "teacher_id": "alice", "teacher_name": "Alice <script>x</script>"}


def test_wrong_pin_unknown_teacher_and_other_rooms_teacher_fail_alike(world: World) -> None:
    device = world.enroll("lab-3a")
    wrong = _check(world, device, "alice", "0000")
    unknown = _check(world, device, "mallory", "1234")
    # Bob's PIN is right, but he does not teach in lab-3a.
    elsewhere = _check(world, device, "bob", "5678")
    for status, body, _ in (wrong, unknown, elsewhere):
        assert status == 401 and body["detail"] == "wrong teacher or PIN"


def test_brute_force_is_throttled_per_device(world: World) -> None:
    device = world.enroll("lab-3a")
    for pin in ("0001", "0002", "0003", "0004", "0005"):
        assert _check(world, device, "alice", pin)[0] == 401
    status, body, retry = _check(world, device, "alice", "1234")
    assert status == 429 and retry is not None and int(retry) > 0
    assert "try again" in body["detail"]
    # Another device is still free, but the teacher is locked too: the attack was on her PIN.
    other = world.enroll("lab-3a", hostname="other")
    assert _check(world, other, "alice", "1234")[0] == 429


def test_throttled_per_teacher_across_devices(world: World) -> None:
    devices = [world.enroll("lab-3a", hostname=f"pc{i}") for i in range(5)]
    for d in devices:
        assert _check(world, d, "alice", "9999")[0] == 401
    fresh = world.enroll("lab-3a", hostname="fresh")
    assert _check(world, fresh, "alice", "1234")[0] == 429


def test_pin_check_validates_input_and_token(world: World) -> None:
    device = world.enroll()
    h = world.auth(device)
    for body in (
        {"teacher_id": "alice", "pin": "12"},
        {"teacher_id": "alice", "pin": "abcd"},
        {"pin": "1234"},
    ):
        assert world.client.post("/api/v1/pin/check", json=body, headers=h).status_code == 422
    r = world.client.post("/api/v1/pin/check", json={"teacher_id": "alice", "pin": "1234"})
    assert r.status_code == 401


def test_verifiers_are_hashes_of_the_rooms_teachers_only(world: World) -> None:
    device = world.enroll("lab-3a")
    r = world.client.get("/api/v1/verifiers", headers=world.auth(device))
    assert r.status_code == 200
    verifiers = r.json()["verifiers"]
    assert [v["teacher_id"] for v in verifiers] == ["alice"]
    pin_hash = verifiers[0]["pin_hash"]
    assert pin_hash.startswith("$argon2id$") and "1234" not in pin_hash
    assert PasswordHasher().verify(pin_hash, "1234")
    assert world.client.get("/api/v1/verifiers").status_code == 401
