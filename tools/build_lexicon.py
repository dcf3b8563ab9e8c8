"""Build src/askidcpc/data/wordnet_lexicon.tsv.gz from a local WordNet 3.0 database (offline, once).

The table ships with askidcpc, so nothing is downloaded at run time. Source: Princeton WordNet 3.0 as packaged by
Debian (``apt-get install wordnet-base`` puts it in /usr/share/wordnet); licence in src/askidcpc/data/WORDNET-LICENSE.

Each line: ``key<TAB>synonyms<TAB>derivations``. ``key`` is a lemma (one word or a phrase such as "set up"), every
word stemmed the way :func:`askidcpc.text.tokenize.tokenize` stems (stop words kept, so phrases stay recognisable).
Several lemmas share a stem ("found", "founded", "founding"), so a key's senses are those of every such lemma in
every part of speech; only its dominant senses are kept: those tagged in the SemCor counts (``cntlist.rev``) at
least ``--share`` times as often as its most frequent sense (a key with no counts keeps the first sense of each
lemma and part of speech). ``synonyms`` are the one-word lemmas of the kept senses, ``derivations`` the one-word
lemmas WordNet links to them as derivationally related; both as stems, stop words and the key itself left out,
space-separated.

Usage: ``python tools/build_lexicon.py [--wordnet /usr/share/wordnet] [--share 0.5]``
"""

from __future__ import annotations

import argparse
import gzip
from collections import defaultdict
from pathlib import Path

from askidcpc.text.tokenize import STOP_WORDS, normalize, stem_word

POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# WordNet pointers kept as derivations: "+" derivationally related form (both ways), "\\" pertainym (an adjective's
# noun, "German" -> "Germany", "economic" -> "economy"; an adverb's adjective), which WordNet gives one way only and
# this table links both ways.
_RELATED = ("+", "\\")
OUT = Path(__file__).resolve().parents[1] / "src" / "askidcpc" / "data" / "wordnet_lexicon.tsv.gz"


def read_synsets(root: Path, pos: str) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """offset -> (lemmas, derivation pointers as (pos, offset))."""
    synsets: dict[str, tuple[list[str], list[tuple[str, str]]]] = {}
    for line in (root / f"data.{POS[pos]}").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split(" | ")[0].split()
        offset, count = fields[0], int(fields[3], 16)
        lemmas = [fields[4 + 2 * i].split("(")[0] for i in range(count)]
        at = 4 + 2 * count
        pointers = int(fields[at])
        derivations = []
        for i in range(pointers):
            symbol, target, target_pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
            if symbol in _RELATED:
                derivations.append(("a" if target_pos == "s" else target_pos, target))
        synsets[offset] = (lemmas, derivations)
    return synsets


def stems(lemma: str) -> list[str]:
    return [stem_word(word) for word in normalize(lemma.replace("_", " ")).split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = {pos: read_synsets(args.wordnet, pos) for pos in POS}
    synonyms: dict[str, set[str]] = defaultdict(set)
    derived: dict[str, set[str]] = defaultdict(set)

    def one_word(lemma: str) -> str | None:
        if "_" in lemma or "-" in lemma or not lemma.isalpha() or normalize(lemma) in STOP_WORDS:
            return None
        return stem_word(normalize(lemma))

    # (lemma, pos, sense number) -> SemCor tag count
    counts: dict[tuple[str, str, int], int] = {}
    for line in (args.wordnet / "cntlist.rev").read_text(encoding="latin-1").splitlines():
        sense_key, number, count = line.split()
        lemma, rest = sense_key.split("%")
        pos = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}[rest[0]]
        counts[(lemma, pos, int(number))] = counts.get((lemma, pos, int(number)), 0) + int(count)
    # key -> [(count, pos, offset)] over every lemma stemming to it
    senses: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for pos in POS:
        for line in (args.wordnet / f"index.{POS[pos]}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma, n_synsets = fields[0], int(fields[2])
            key = " ".join(stems(lemma))
            for number, offset in enumerate(fields[-n_synsets:], start=1):
                count = counts.get((lemma, pos, number), 0)
                if count or number == 1:
                    senses[key].append((count, pos, offset))
    # every pointer the other way too (a pertainym's noun points back to its adjective)
    pointed_from: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for pos, synsets in data.items():
        for offset, (_, pointers) in synsets.items():
            for target in pointers:
                pointed_from[target].append((pos, offset))
    for key, found in senses.items():
        top = max(count for count, _, _ in found)
        for count, pos, offset in found:
            if (top == 0 and count == 0) or (top > 0 and count >= args.share * top):
                lemmas, pointers = data[pos][offset]
                synonyms[key].update(s for s in map(one_word, lemmas) if s)
                for target_pos, target in [*pointers, *pointed_from[(pos, offset)]]:
                    derived[key].update(s for s in map(one_word, data[target_pos][target][0]) if s)
    lines = []
    for key in sorted(set(synonyms) | set(derived)):
        own = set(key.split())
        same = sorted(synonyms[key] - own)
        related = sorted(derived[key] - own - set(same))
        if same or related:
            lines.append(f"{key}\t{' '.join(same)}\t{' '.join(related)}")
    header = "# WordNet 3.0 (c) 2006 Princeton University; see WORDNET-LICENSE. Built by tools/build_lexicon.py"
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write(header + f" --share {args.share}\n" + "\n".join(lines) + "\n")
    print(f"{len(lines):,} keys -> {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
