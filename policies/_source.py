"""Reading one policy file: size, encoding and TOML syntax, each failure reported with its place.

A file that cannot be read becomes an issue instead of an exception, so one broken file never
hides the problems in the others.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies._keylines import KeyPath, format_path, key_lines, line_for
from policies.errors import PolicyIssue

# Policy files are short, hand-written text; anything bigger is a mistake (or an attack on the
# validator), and a browser could not take that many rules anyway.
MAX_FILE_BYTES = 1 << 20

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)$")


@dataclass
class SourceFile:
    """One parsed file: `name` is relative to the policy directory, as shown in messages."""

    name: str
    raw: bytes
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)


@dataclass
class IssueLog:
    """Every problem found so far, in the order found."""

    issues: list[PolicyIssue] = field(default_factory=list)

    def add(self, source: SourceFile | str, path: KeyPath, message: str, hint: str = "") -> None:
        if isinstance(source, SourceFile):
            name, line = source.name, line_for(source.lines, path)
        else:
            name, line = source, None
        self.issues.append(PolicyIssue(name, line, format_path(path), message, hint))

    def add_at_line(self, name: str, line: int | None, message: str, hint: str = "") -> None:
        self.issues.append(PolicyIssue(name, line, "", message, hint))


def read_source(directory: Path, name: str, log: IssueLog) -> SourceFile | None:
    """Read and parse `directory/name`; on any failure log why and return None."""
    path = directory / name
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        log.add_at_line(name, None, "file is missing", _MISSING_HINTS.get(name, ""))
        return None
    except IsADirectoryError:
        log.add_at_line(name, None, "is a directory, not a file", "replace it with a TOML file")
        return None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        log.add_at_line(name, None, f"cannot be read: {reason}", "check its permissions")
        return None
    if len(raw) > MAX_FILE_BYTES:
        log.add_at_line(
            name,
            None,
            f"is larger than {MAX_FILE_BYTES // 1024} KiB",
            "split it into several smaller files (objectives can be spread over objectives/*.toml)",
        )
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        log.add_at_line(
            name,
            raw.count(b"\n", 0, exc.start) + 1,
            f"is not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte offset {exc.start}",
            "save the file with UTF-8 encoding",
        )
        return None
    text = text.removeprefix("\ufeff")  # some Windows editors start UTF-8 files with a BOM
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = _toml_error(str(exc), text)
        log.add_at_line(
            name,
            line,
            f"is not valid TOML: {message}",
            "check the quotes, brackets, commas and '=' around that place",
        )
        return None
    except (RecursionError, MemoryError):
        log.add_at_line(name, None, "nests arrays or tables too deeply", "flatten the structure")
        return None
    return SourceFile(name=name, raw=raw, data=data, lines=key_lines(text))


def _toml_error(message: str, text: str) -> tuple[str, int | None]:
    match = _TOML_POSITION.search(message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        return f"{message[: match.start()]} (column {column})", line
    match = _TOML_AT_END.search(message)
    if match:
        return f"{message[: match.start()]} (at the end of the file)", text.count("\n") + 1
    return message, None


_MISSING_HINTS = {
    "district.toml": "create it with the district's name, [[band]] tables and URL lists",
    "rooms.toml": "create it with one [[room]] table per room",
}
