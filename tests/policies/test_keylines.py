"""key_lines: the line each key path of a TOML text starts on."""

from __future__ import annotations

import tomllib

from policies._keylines import format_path, key_lines, line_for

TEXT = '''\
name = "x"  # a comment with = and [brackets]
always_allow = [
  "a.example",  # one
  'b.example',
  """c
d""",
  "e.example",
]
[[band]]
id = "K-2"
[[band]]
id = "3-5"
extra = { a = 1, b = [1, 2] }
[[objective]]
id = 'o'
  [[objective.resources]]
  url = "https://u.example/"
  [[objective.resources]]
  url = "https://v.example/"
  assets = ["p", "q"]
[[objective]]
"quoted key".z = 1979-05-27 07:32:00
s = \'\'\'\'\'x\'\'\'\'\'
[[objective.resources]]
url = "https://w.example/"
'''


def test_every_key_and_element_gets_its_line() -> None:
    tomllib.loads(TEXT)  # the scanner only ever sees valid TOML
    lines = key_lines(TEXT)

    assert lines[("name",)] == 1
    assert [lines[("always_allow", n)] for n in range(4)] == [3, 4, 5, 7]
    assert lines[("band", 1, "extra", "b", 1)] == 13
    assert lines[("objective", 0, "resources", 1, "assets", 1)] == 20
    assert lines[("objective", 1)] == 21
    assert lines[("objective", 1, "quoted key", "z")] == 22
    assert lines[("objective", 1, "s")] == 23
    # array-of-tables indices restart under each parent entry
    assert lines[("objective", 1, "resources", 0, "url")] == 25


def test_missing_key_falls_back_to_its_table() -> None:
    lines = key_lines(TEXT)
    assert line_for(lines, ("objective", 0, "resources", 1, "title")) == 18
    assert line_for(lines, ("nowhere",)) is None


def test_scanner_gives_up_quietly_on_text_it_cannot_follow() -> None:
    assert key_lines('a = "unterminated') == {("a",): 1}


def test_format_path() -> None:
    assert format_path(("objective", 0, "resources", 2, "url")) == "objective[0].resources[2].url"
    assert format_path(()) == ""
