"""The lexicon of synonyms and phrases (reader.lexicon)."""

from __future__ import annotations

from askidcpc.reader.lexicon import expansions, load_lexicon
from askidcpc.text.tokenize import words


def test_lexicon_links_founding_and_establishing() -> None:
    lexicon = load_lexicon()
    assert "establish" in lexicon.synonyms["found"]
    assert "found" in lexicon.synonyms["establish"]
    # A phrase is expanded as a phrase ("set up" = establish), not as "set" (put, place) on its own.
    found = expansions(words("When was it set up?"), lexicon)
    assert "establish" in found["set"] and "place" not in found["set"]
