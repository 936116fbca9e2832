"""Hashes: PINs with OWASP's argon2id minimum, passwords with the library's stronger defaults."""

from __future__ import annotations

from argon2 import extract_parameters

from server_stub.security import PIN_MEMORY_KIB, PIN_TIME_COST, Hasher, new_token


def test_pins_and_passwords_get_their_own_costs_and_both_verify() -> None:
    hasher = Hasher()
    pin, password = hasher.hash_pin("4821"), hasher.hash("correct horse battery")
    p = extract_parameters(pin)
    assert (p.time_cost, p.memory_cost, p.parallelism) == (PIN_TIME_COST, PIN_MEMORY_KIB, 1)
    assert extract_parameters(password).memory_cost > PIN_MEMORY_KIB
    assert hasher.verify_pin(pin, "4821") and not hasher.verify_pin(pin, "4822")
    assert not hasher.verify_pin(None, "4821")  # unknown teacher: the dummy, never a match
    assert hasher.verify_pin(hasher.hash("4821"), "4821")  # an older, costlier PIN hash
    assert hasher.verify(password, "correct horse battery")


def test_every_new_token_can_be_given_on_an_agent_command_line() -> None:
    """IT pastes enrollment tokens after `lessongate-agent enroll --token`; one that starts with
    "-" is taken for an option (base64 tokens did so 1 time in 64: 2,000 tries all but surely
    hit one)."""
    from agent.cli import _parser

    parser = _parser()
    for _ in range(2000):
        token = new_token()
        args = parser.parse_args(["enroll", "--server", "https://lg.example", "--token", token])
        assert args.token == token
        assert len(token) == 64  # still 32 random bytes
