"""PolicyIssue and PolicyError read as file:line: key: message — hint, one problem per line."""

from __future__ import annotations

from policies.errors import PolicyError, PolicyIssue

ISSUE = PolicyIssue(
    file="objectives/science.toml",
    line=14,
    key="objective[0].resources[2].url",
    message="'x' is not a valid pattern",
    hint="write example.com",
)


def test_issue_reads_like_a_compiler_message() -> None:
    assert str(ISSUE) == (
        "objectives/science.toml:14: objective[0].resources[2].url: "
        "'x' is not a valid pattern — write example.com"
    )


def test_issue_without_line_key_or_hint_leaves_them_out() -> None:
    issue = PolicyIssue(file="rooms.toml", line=None, key="", message="file is missing")
    assert str(issue) == "rooms.toml: file is missing"


def test_issue_outside_any_file() -> None:
    issue = PolicyIssue(file="", line=None, key="room", message="unknown room 'x'", hint="h")
    assert str(issue) == "room: unknown room 'x' — h"


def test_error_lists_every_issue_one_per_line() -> None:
    other = PolicyIssue("district.toml", 3, "name", "must not be empty", "fill it in")
    error = PolicyError([ISSUE, other])

    assert error.issues == [ISSUE, other]
    assert str(error).splitlines() == [str(ISSUE), str(other)]


def test_single_builds_an_error_with_one_issue() -> None:
    error = PolicyError.single("room 'lab-9' does not exist", key="room_id", hint="see rooms.toml")

    assert error.issues == [
        PolicyIssue("", None, "room_id", "room 'lab-9' does not exist", "see rooms.toml")
    ]
    assert str(error) == "room_id: room 'lab-9' does not exist — see rooms.toml"


def test_error_is_an_exception_with_its_text_as_message() -> None:
    error = PolicyError([ISSUE])
    assert isinstance(error, Exception)
    assert error.args == (str(ISSUE),)
