"""The lexicon of synonyms and phrases (reader.lexicon)."""

from __future__ import annotations

import pytest

from askidcpc.reader.lexicon import expansions, load_lexicon
from askidcpc.text.tokenize import normalize, stem_word, words


def test_lexicon_links_founding_and_establishing() -> None:
    lexicon = load_lexicon()
    assert "establish" in lexicon.synonyms["found"]
    assert "found" in lexicon.synonyms["establish"]
    # A phrase is expanded as a phrase ("set up" = establish), not as "set" (put, place) on its own.
    found = expansions(words("When was it set up?"), lexicon)
    assert "establish" in found["set"] and "place" not in found["set"]


@pytest.mark.parametrize(
    ("word", "related"),
    [
        ("German", "Germany"),  # an adjective and the noun it pertains to (WordNet's pertainyms), both ways
        ("Germany", "German"),
        ("Austrian", "Austria"),
        ("Cuban", "Cuba"),
        ("economic", "economy"),
        ("presidential", "president"),
        ("founding", "founder"),  # derivationally related forms, as before
    ],
)
def test_derivations_link_related_forms(word: str, related: str) -> None:
    lexicon = load_lexicon()
    assert stem_word(normalize(related)) in lexicon.derivations[stem_word(normalize(word))]
