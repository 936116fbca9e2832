"""Both languages say everything, and the reader's language is picked the way browsers ask."""

from __future__ import annotations

import re

import pytest

from agent.ui import i18n


def test_english_and_spanish_have_the_same_keys_and_placeholders() -> None:
    english, spanish = i18n.CATALOGUES["en"], i18n.CATALOGUES["es"]
    assert set(english) == set(spanish)
    for key in english:
        placeholders = set(re.findall(r"\{(\w+)\}", english[key]))
        assert placeholders == set(re.findall(r"\{(\w+)\}", spanish[key])), key
        assert spanish[key].strip(), key


@pytest.mark.parametrize(
    ("requested", "accept", "expected"),
    [
        ("es", "en-US,en;q=0.9", "es"),
        ("ES-mx", None, "es"),
        ("fr", "es-MX,es;q=0.9,en;q=0.5", "es"),
        (None, "fr-FR,fr;q=0.9,en;q=0.8,es;q=0.7", "en"),
        (None, "en;q=0.2,es;q=0.8", "es"),
        (None, "es;q=0", "en"),
        (None, "garbage;q=x,,", "en"),
        (None, None, "en"),
    ],
)
def test_language_choice(requested: str | None, accept: str | None, expected: str) -> None:
    assert i18n.pick_language(requested, accept) == expected


def test_error_codes_become_sentences_and_unknown_codes_stay_safe() -> None:
    assert i18n.error_text("es", "locked", seconds=30) == "Demasiados intentos. Espera 30 segundos."
    assert (
        i18n.error_text("en", "no_such_code") == "Something went wrong. The Internet stays closed."
    )
    # A lock without a known wait still gets an answer rather than a raw "{seconds}".
    assert "{" not in i18n.error_text("en", "locked")
