"""What goes wrong with a policy, said so that the person who wrote it can fix it.

    PolicyError(Exception)          everything wrong with one policy, raised once, never partially
      .issues: list[PolicyIssue]    one per problem: file, line, key path, message, hint

`loader` collects every problem across all files before raising, so IT fixes a policy in one pass;
`compiler` and `bundle` raise the same error for requests a policy cannot satisfy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyIssue:
    """One problem, located as precisely as the source allows.

    `file` is relative to the policy directory (or empty when the problem is not in one file),
    `line` is 1-based or None when it cannot be determined, `key` is a dotted key path with 0-based
    array indices such as `objective[0].resources[2].url`, and `hint` says what to do about it.
    """

    file: str
    line: int | None
    key: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        place = self.file
        if place and self.line is not None:
            place = f"{place}:{self.line}"
        parts = [p for p in (place, self.key) if p]
        text = ": ".join([*parts, self.message])
        return f"{text} — {self.hint}" if self.hint else text


class PolicyError(Exception):
    """A policy that cannot be used, with every problem found in it."""

    def __init__(self, issues: Iterable[PolicyIssue]) -> None:
        self.issues: list[PolicyIssue] = list(issues)
        super().__init__(str(self))

    @classmethod
    def single(cls, message: str, *, key: str = "", hint: str = "", file: str = "") -> PolicyError:
        """An error with one problem that has no place in a source file (e.g. an unknown room)."""
        return cls([PolicyIssue(file=file, line=None, key=key, message=message, hint=hint)])

    def __str__(self) -> str:
        if not self.issues:
            return "invalid policy"
        return "\n".join(str(issue) for issue in self.issues)
