"""Deterministic answers from retrieved chunks: the sentences that best cover the
question, each cited with its document, chunk and character offsets.

The units are sentences, each Markdown list item one; a title or heading line (a
document loaded with a title starts with ``title\\n\\n``) is never quoted, its words
count for the sentences beneath it. A sentence's score is the weighted share of the
question's terms it holds (the same stemming and stopwords as the BM25 index, less the
words that only phrase a question: *what*, *should*, *say*, *how long* …): a term in its
own words counts whole, one only in a heading above it partly; a term every retrieved
passage shares (the product they are all about) counts less than one that tells them
apart. A small prior favours the chunk's retrieval rank. Sentences below ``min_overlap``
are never quoted; when none reaches it the route says it found nothing relevant
(``CannotAnswer``) instead of quoting something loosely related — a greeting that only
names the product, or a title line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crossroads.connectors._chunking import sentences
from crossroads.connectors._documents import _tokenize
from crossroads.errors import CannotAnswer
from crossroads.tools.rag._rag import Hit, Source

__all__ = [
    "Extract",
    "Unit",
    "coverage",
    "extractive_answer",
    "heading_line",
    "phrasing_removed",
    "question_terms",
    "term_weights",
    "terms",
    "units",
]


_PHRASING = frozenset(
    [
        "say",
        "says",
        "tell",
        "describe",
        "explain",
        "mention",
        "state",
        "use",
        "used",
        "know",
        "give",
        "show",
        "find",
        "list",
        "according",
        "document",
        "documents",
        "please",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "should",
        "would",
        "could",
        "can",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "done",
        "doing",
        "is",
        "are",
        "was",
        "were",
        # function words the index keeps (its stopword list is short) that no answer is
        # about: pronouns, determiners, auxiliaries
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "its",
        "them",
        "those",
        "about",
        "am",
        "been",
        "being",
        "has",
        "have",
        "having",
        "had",
        "any",
        "some",
        "each",
        "every",
        "also",
        "so",
        "too",
        "very",
        "than",
        "while",
        "per",
        "from",
        "here",
    ]
)


# "how much", "how long", "how often" …: the question asks for a quantity, a duration or
# a frequency; the answer states it ("20 mg", "10 years", "every year") without the word
_HOW = re.compile(r"\bhow\s+(?:much|many|long|often|quickly|soon|frequently|far|old)\b", re.I)


def question_terms(question: str) -> set[str]:
    """The terms of ``question`` an answer would hold: without the words that only
    phrase a question (*what*, *should*, *describe* …, *how long*, *how often* …)."""
    return phrasing_removed(terms(_HOW.sub(" ", question)))


def phrasing_removed(found: list[str]) -> set[str]:
    """Question terms without the words that only phrase a question."""
    return set(found) - _phrasing()


def _phrasing() -> frozenset[str]:
    global _PHRASING_TERMS
    if _PHRASING_TERMS is None:
        _PHRASING_TERMS = frozenset(t for word in _PHRASING for t in terms(word))
    return _PHRASING_TERMS


_PHRASING_TERMS: frozenset[str] | None = None


def terms(text: str) -> list[str]:
    """The index's analysis of ``text``: lower-cased, stopwords dropped, stemmed."""
    found: list[list[str]] = _tokenize([text], ids=False)
    return found[0] if found else []


@dataclass(frozen=True, slots=True)
class Extract:
    """The sentences chosen, as text with citation marks and the sources they cite."""

    text: str
    sources: list[Source]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence (a list item is one) or a heading line, as a span of its text."""

    start: int
    end: int
    heading: bool
    """A title or heading line: never quoted, its words count for the text beneath."""


def units(text: str, start: int = 0, end: int | None = None) -> list[Unit]:
    """The sentences of ``text[start:end]``, a title or heading line marked as one.

    A heading line is a line of its own (a paragraph, or the line above a list) with no
    sentence punctuation at its end, not a list item, at most 25 words, and with text
    after it — such as the title a document loaded with one starts with
    (``"title\\n\\ntext"``). The last line of a text is never a heading.
    """
    end = len(text) if end is None else end
    spans = sentences(text, start, end)
    return [
        Unit(s.start, s.end, i + 1 < len(spans) and heading_line(text, s.start, s.end, start))
        for i, s in enumerate(spans)
    ]


_ITEM = re.compile(r"(?:[-*+•]|\d{1,3}[.)])[ \t]")


def heading_line(text: str, start: int, end: int, first: int = 0) -> bool:
    """Whether ``text[start:end]`` reads as a title or heading line: a whole line (only
    whole lines before it since ``first``, a line break after it), not a list item, at
    most 25 words, without sentence punctuation at its end. (Whether more text follows
    it, as under a heading, is for the caller to check.)"""
    piece = text[start:end]
    if not piece or "\n" in piece or _ITEM.match(piece) or piece[-1] in ".!?:;,…":
        return False
    if len(piece.split()) > 25:
        return False
    before = text[first:start]
    line_start = not before.strip() or before.rstrip(" \t").endswith("\n")
    return line_start and text[end : end + 80].lstrip(" \t").startswith(("\n", "\r"))


def term_weights(wanted: set[str], groups: Sequence[frozenset[str]]) -> dict[str, float]:
    """How much each question term counts: less the more of ``groups`` (the passages
    found) hold it. A term every passage shares (the product all of them are about)
    counts a quarter of one that none holds; with few passages the counts move toward
    each other (a smoothed share)."""
    n = len(groups)
    return {
        t: FLOOR + (1 - FLOOR) * (1 - (sum(t in g for g in groups) + 0.5) / (n + 1)) for t in wanted
    }


FLOOR = 0.25


# how much a question term counts when only a heading holds it: the heading right above
# the sentence (a section title) or one further up (the document's title, its path)
NEAR, FAR = 0.75, 0.5


def coverage(
    wanted: set[str],
    weights: dict[str, float],
    own: frozenset[str],
    near: frozenset[str] = frozenset(),
    far: frozenset[str] = frozenset(),
) -> float:
    """The weighted share of ``wanted`` a sentence holds: a term in its own words counts
    whole, one only in the heading right above it ``NEAR``, only further up ``FAR``.
    Zero when its own words hold none: a heading alone never makes a sentence relevant."""
    total = sum(weights[t] for t in wanted)
    if not total or not wanted & own:
        return 0.0
    held = sum(weights[t] for t in wanted & own)
    above = sum(
        weights[t] * (NEAR if t in near else FAR if t in far else 0.0) for t in wanted - own
    )
    return (held + above) / total


@dataclass(frozen=True, slots=True)
class _Sentence:
    hit: Hit
    rank: int
    start: int  # offsets in the document
    end: int
    text: str
    terms: frozenset[str]
    near: frozenset[str]
    far: frozenset[str]


def _pool(hits: Sequence[Hit]) -> list[_Sentence]:
    pool: list[_Sentence] = []
    for rank, hit in enumerate(hits):
        path = [p for p in hit.heading.split(" › ") if p.strip()]
        title = hit.metadata.get("title")
        far = set(terms(" ".join(path[:-1])))
        if isinstance(title, str):
            far |= set(terms(title))
        near = frozenset(terms(path[-1])) if path else frozenset()
        for unit in units(hit.text):
            text = hit.text[unit.start : unit.end]
            if unit.heading:  # the section beneath is about it; the line is no answer
                near = frozenset(terms(text))
                continue
            pool.append(
                _Sentence(
                    hit,
                    rank,
                    hit.start + unit.start,
                    hit.start + unit.end,
                    text,
                    frozenset(terms(text)),
                    near,
                    frozenset(far),
                )
            )
    return pool


def extractive_answer(
    question: str, hits: Sequence[Hit], *, max_sentences: int = 3, min_overlap: float = 0.5
) -> Extract:
    """Quote the best ``max_sentences`` sentences of ``hits`` for ``question``."""
    wanted = question_terms(question)
    if not wanted:
        raise CannotAnswer(
            "the question has no searchable words (only stopwords or punctuation)",
            tool="rag.ask",
            reason="empty question",
        )
    pool = _pool(hits)
    groups = [
        frozenset().union(*(s.terms | s.near | s.far for s in pool if s.hit is hit)) for hit in hits
    ]
    # a term every passage found holds (the product they are all about) counts less than
    # one that tells them apart; when none tells them apart, every term counts the same
    # (the weights would only say which words no passage holds)
    telling = any(0 < sum(t in g for g in groups) < len(groups) for t in wanted)
    weights = term_weights(wanted, groups) if telling else dict.fromkeys(wanted, 1.0)
    covered = {id(s): coverage(wanted, weights, s.terms, s.near, s.far) for s in pool}
    scored = sorted(
        ((covered[id(s)] + 0.05 / (1 + s.rank), s) for s in pool if covered[id(s)] >= min_overlap),
        key=lambda x: (-x[0], x[1].rank, x[1].start),
    )
    if not scored:
        best = max(covered.values(), default=0.0)
        raise CannotAnswer(
            f"the passages found do not answer the question: the best sentence holds "
            f"{best:.0%} of its terms (at least {min_overlap:.0%} needed; a term all the "
            "passages share counts less)",
            tool="rag.ask",
            reason="no relevant passage",
        )
    chosen: list[_Sentence] = []
    top = scored[0][0]
    # a sentence quoted beside the best must come near it in its own words too, not
    # only by its heading (a greeting under the title of the letter that answers)
    own_top = max(coverage(wanted, weights, s.terms) for _, s in scored)
    for score, s in scored:
        if len(chosen) >= max_sentences or score < 0.6 * top:
            break
        if any(_similar(s, c) for c in chosen):
            continue
        if chosen and coverage(wanted, weights, s.terms) < 0.6 * own_top:
            continue
        chosen.append(s)
    # the passage of the best sentence first; a passage's sentences in their order
    first = {id(s.hit): i for i, s in reversed(list(enumerate(chosen)))}
    chosen.sort(key=lambda s: (first[id(s.hit)], s.start))
    sources = [
        Source(
            n=i,
            doc_id=s.hit.doc_id,
            chunk_id=s.hit.chunk_id,
            collection=s.hit.collection,
            start=s.start,
            end=s.end,
            quote=s.text,
            heading=s.hit.heading,
        )
        for i, s in enumerate(chosen, 1)
    ]
    body = " ".join(f"{s.text} [{i}]" for i, s in enumerate(chosen, 1))
    listing = "\n".join(str(src) for src in sources)
    return Extract(text=f"{body}\n\nSources:\n{listing}", sources=sources)


def _similar(a: _Sentence, b: _Sentence) -> bool:
    """Near-duplicates (the same sentence in overlapping chunks, or copies)."""
    if a.hit.doc_id == b.hit.doc_id and a.start < b.end and b.start < a.end:
        return True
    union = a.terms | b.terms
    return bool(union) and len(a.terms & b.terms) / len(union) > 0.8
