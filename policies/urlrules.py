"""URL rule grammar: Chrome's URLBlocklist/URLAllowlist filter format. (Being written.)"""

from __future__ import annotations


class PatternError(ValueError):
    """A pattern Chromium would reject or silently ignore; `hint` says how to write it instead."""

    def __init__(self, pattern: str, message: str, hint: str = "") -> None:
        super().__init__(f"{pattern!r}: {message}" + (f" ({hint})" if hint else ""))
        self.pattern = pattern
        self.message = message
        self.hint = hint
