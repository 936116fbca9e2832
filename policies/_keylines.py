"""Which line of a TOML text each key path starts on, so errors can point at the line to edit.

tomllib returns plain data without positions, so this scans the text once more. It only runs on
text that tomllib has already accepted, which keeps it small: it follows table headers (counting
array-of-tables entries), `key = value` lines, array elements and inline tables, and skips strings
and comments. On anything it does not follow it stops and returns what it has: a missing line only
makes an error message less precise, never wrong.
"""

from __future__ import annotations

import contextlib

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END = frozenset(",]}\n#")


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path (e.g. `("objective", 0, "resources", 2, "url")`) to its 1-based line."""
    scanner = _Scanner(text)
    # Partial positions are still useful; the data itself came from tomllib.
    with contextlib.suppress(IndexError, ValueError, RecursionError):
        scanner.run()
    return scanner.lines


def line_for(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, or of its nearest enclosing key or table when `path` is not written."""
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


def format_path(path: KeyPath) -> str:
    """`("objective", 0, "resources", 2, "url")` -> `objective[0].resources[2].url`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self._last_index: dict[KeyPath, int] = {}  # array-of-tables path -> index of its last entry

    def run(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self.i >= len(self.s):
                return
            start = self.i
            if self.s[self.i] == "[":
                table = self._header()
            else:
                self._key_value(table)
            if self.i == start:
                raise ValueError("scanner made no progress")

    def _header(self) -> KeyPath:
        is_array = self.s.startswith("[[", self.i)
        self.i += 2 if is_array else 1
        parts = self._key()
        self.i += 2 if is_array else 1
        path: KeyPath = ()
        for n, part in enumerate(parts):
            path = (*path, part)
            if is_array and n == len(parts) - 1:
                index = self._last_index.get(path, -1) + 1
                self._last_index[path] = index
                self.lines.setdefault(path, self.line)
                path = (*path, index)
            elif path in self._last_index:
                path = (*path, self._last_index[path])
            self.lines.setdefault(path, self.line)
        return path

    def _key_value(self, table: KeyPath) -> None:
        path = table
        for part in self._key():
            path = (*path, part)
            self.lines.setdefault(path, self.line)
        self._skip_blank()
        self.i += 1  # "="
        self._skip_blank()
        self._value(path)

    def _key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blank()
            quote = self.s[self.i]
            if quote in "\"'":
                start = self.i
                self._string()
                parts.append(_unquote(self.s[start : self.i]))
            else:
                start = self.i
                while self.s[self.i] in _BARE_KEY_CHARS:
                    self.i += 1
                parts.append(self.s[start : self.i])
            self._skip_blank()
            if self.i < len(self.s) and self.s[self.i] == ".":
                self.i += 1
                continue
            return parts

    def _value(self, path: KeyPath) -> None:
        char = self.s[self.i]
        if char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        elif char in "\"'":
            self._string()
        else:
            while self.i < len(self.s) and self.s[self.i] not in _SCALAR_END:
                self.i += 1

    def _array(self, path: KeyPath) -> None:
        self.i += 1
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self.s[self.i] == "]":
                self.i += 1
                return
            self.lines.setdefault((*path, index), self.line)
            self._value((*path, index))
            self._skip_blank(newlines=True)
            if self.s[self.i] == ",":
                self.i += 1
                index += 1

    def _inline_table(self, path: KeyPath) -> None:
        self.i += 1
        while True:
            self._skip_blank()
            if self.s[self.i] == "}":
                self.i += 1
                return
            self._key_value(path)
            self._skip_blank()
            if self.s[self.i] == ",":
                self.i += 1

    def _string(self) -> None:
        quote = self.s[self.i]
        start = self.i
        if self.s.startswith(quote * 3, self.i):
            self.i += 3
            while not self.s.startswith(quote * 3, self.i):
                self.i += 2 if quote == '"' and self.s[self.i] == "\\" else 1
            # Up to two quotes may end the content right before the closing delimiter.
            run = 3
            while run < 5 and self.s.startswith(quote, self.i + run):
                run += 1
            self.i += run
        else:
            self.i += 1
            while self.s[self.i] != quote:
                self.i += 2 if quote == '"' and self.s[self.i] == "\\" else 1
            self.i += 1
        self.line += self.s.count("\n", start, self.i)

    def _skip_blank(self, *, newlines: bool = False) -> None:
        while self.i < len(self.s):
            char = self.s[self.i]
            if char in " \t\r":
                self.i += 1
            elif char == "#":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            elif char == "\n" and newlines:
                self.i += 1
                self.line += 1
            else:
                return


def _unquote(quoted: str) -> str:
    body = quoted[1:-1]
    if quoted[0] == "'":
        return body
    # Escapes in quoted keys are rare; decoding the common ones keeps lookups exact for them.
    return body.replace('\\"', '"').replace("\\\\", "\\")
