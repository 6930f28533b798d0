"""Text normalisation shared by entity linking and path planning.

Names and questions go through the same tokeniser, so ``Chloë Sevigny``,
``chloe sevigny`` and ``CHLOE SEVIGNY!`` give the same key, ``Some Mother's Son``
matches ``Some Mothers Son`` and ``Paris, Texas`` matches ``Paris Texas``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Token", "fold", "key", "loose_key", "singular", "stem", "tokenize"]

# A word, with inner apostrophes kept inside it (Mother's, O'Brien).
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_APOSTROPHES = str.maketrans("", "", "'’")


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: its folded form and where it sits in the original."""

    text: str
    """Folded: no accents, case-folded, apostrophes dropped."""
    start: int
    end: int


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """``Chloë`` -> ``chloe``, ``Mother's`` -> ``mothers``: accents stripped, case
    folded, apostrophes dropped."""
    decomposed = unicodedata.normalize("NFKD", word)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().translate(_APOSTROPHES)


def tokenize(text: str) -> list[Token]:
    """The words of ``text`` (punctuation separates words and is dropped), folded."""
    return [Token(fold(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


def key(text: str) -> str:
    """The normalised form of a name: folded words joined by single spaces."""
    return " ".join(t.text for t in tokenize(text))


@lru_cache(maxsize=65536)
def singular(word: str) -> str:
    """A plural's singular by English suffix rules (``statins`` -> ``statin``,
    ``studies`` -> ``study``, ``boxes`` -> ``box``); other words unchanged."""
    if len(word) <= 3 or not word.isalpha() or word in _INVARIANT:
        return word
    if word.endswith("ies") and word[:-1] in _IE_NOUNS:
        return word[:-1]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ss", "us", "is", "ous")):
        return word
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def loose_key(text: str) -> str:
    """:func:`key` with every word made singular: plurals match their singular."""
    return " ".join(singular(t.text) for t in tokenize(text))


# plurals whose singular is the same word, or that are not plurals at all
_INVARIANT = frozenset(
    {"series", "species", "news", "means", "lens", "diabetes", "herpes", "measles", "mumps"}
    | {"physics", "economics", "mathematics", "ethics", "statistics", "analysis", "always"}
)
_IE_NOUNS = frozenset({"movie", "cookie", "zombie", "rookie", "calorie", "pie", "tie", "lie"})
_SUFFIXES = ("ation", "ing", "ers", "ors", "ed", "er", "or", "es", "s", "ion", "ly")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem for matching cue words to relation names: ``directed``,
    ``director`` and ``directs`` all give ``direct``; ``starring`` gives ``starr``,
    like ``starred``. Stems keep at least three letters."""
    word = word[:-3] + "y" if word.endswith("ies") and len(word) > 4 else singular(word)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]  # release / released / releasing -> releas
    return word
