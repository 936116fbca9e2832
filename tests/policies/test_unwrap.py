from __future__ import annotations

import pytest

from policies.unwrap import embedded_url


@pytest.mark.parametrize(
    ("url", "inner"),
    [
        (
            "https://example-com.cdn.ampproject.org/c/s/example.com/a?x=1",
            "https://example.com/a?x=1",
        ),
        ("https://example-com.cdn.ampproject.org/v/example.com/a", "http://example.com/a"),
        ("https://www.google.com/amp/s/example.com/a%3Fb", "https://example.com/a?b"),
        ("https://www.google.co.uk/amp/example.com/a", "http://example.com/a"),
        (
            "https://webcache.googleusercontent.com/search?q=cache:abcdefghijkl:https://example.com/p",
            "https://example.com/p",
        ),
        (
            "https://translate.google.com/translate?sl=auto&u=https://example.com/x",
            "https://example.com/x",
        ),
        ("https://translate.google.de/?u=example.com/x", "http://example.com/x"),
        (
            "https://translate.googleusercontent.com/translate_c?u=https://example.com/",
            "https://example.com/",
        ),
    ],
)
def test_wrappers_reveal_the_page_they_carry(url: str, inner: str) -> None:
    assert embedded_url(url) == inner


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/amp/s/evil.test/",  # /amp/ only on Google hosts
        "https://translate.www.google.com/?u=https://x.test/",
        "https://translate.example.com/?u=https://x.test/",
        "https://www.google.com/search?q=cats",
        "not a url",
    ],
)
def test_other_urls_are_not_wrappers(url: str) -> None:
    assert embedded_url(url) is None
