from __future__ import annotations

import pytest

from agent.views import card_url, site_of


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("https://pbskids.org/cyberchase/", "https://pbskids.org/cyberchase/"),
        ("spaceplace.nasa.gov/moon", "https://spaceplace.nasa.gov/moon"),
        (".nasa.gov", "https://nasa.gov/"),
        ("http://example.org:8080/a?b=1", "http://example.org:8080/a?b=1"),
    ],
)
def test_resource_patterns_become_clickable_urls(pattern: str, url: str) -> None:
    assert card_url(pattern) == url


def test_site_is_the_host_name() -> None:
    assert site_of("https://www.khanacademy.org/math") == "www.khanacademy.org"
