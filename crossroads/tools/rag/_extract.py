"""Deterministic answers from retrieved chunks: the sentences that best cover the
question, each cited with its document, chunk and character offsets.

A sentence's score is the share of the question's terms it contains (the same stemming
and stopwords as the BM25 index, less the words that only phrase a question: *what*,
*should*, *say*, *describe* …), plus a small prior for the chunk's retrieval rank. Sentences below
``min_overlap`` are never quoted; when none reaches it the route says it found nothing
relevant (``CannotAnswer``) instead of quoting something loosely related.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossroads.connectors._chunking import sentences
from crossroads.connectors._documents import _tokenize
from crossroads.errors import CannotAnswer
from crossroads.tools.rag._rag import Hit, Source

__all__ = ["Extract", "extractive_answer", "phrasing_removed", "terms"]


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
        "is",
        "are",
        "was",
        "were",
    ]
)


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
class _Sentence:
    hit: Hit
    rank: int
    start: int  # offsets in the document
    end: int
    text: str
    terms: frozenset[str]


def extractive_answer(
    question: str, hits: Sequence[Hit], *, max_sentences: int = 3, min_overlap: float = 0.5
) -> Extract:
    """Quote the best ``max_sentences`` sentences of ``hits`` for ``question``."""
    wanted = phrasing_removed(terms(question))
    if not wanted:
        raise CannotAnswer(
            "the question has no searchable words (only stopwords or punctuation)",
            tool="rag.ask",
            reason="empty question",
        )
    pool: list[_Sentence] = []
    for rank, hit in enumerate(hits):
        for span in sentences(hit.text):
            text = hit.text[span.start : span.end]
            pool.append(
                _Sentence(
                    hit,
                    rank,
                    hit.start + span.start,
                    hit.start + span.end,
                    text,
                    frozenset(terms(text)),
                )
            )

    def coverage(s: _Sentence) -> float:
        return len(wanted & s.terms) / len(wanted)

    scored = sorted(
        ((coverage(s) + 0.05 / (1 + s.rank), s) for s in pool if coverage(s) >= min_overlap),
        key=lambda x: (-x[0], x[1].rank, x[1].start),
    )
    if not scored:
        best = max((coverage(s) for s in pool), default=0.0)
        raise CannotAnswer(
            f"the passages found do not answer the question: the best sentence holds "
            f"{best:.0%} of its terms (at least {min_overlap:.0%} needed)",
            tool="rag.ask",
            reason="no relevant passage",
        )
    chosen: list[_Sentence] = []
    top = scored[0][0]
    for score, s in scored:
        if len(chosen) >= max_sentences or score < 0.6 * top:
            break
        if any(_similar(s, c) for c in chosen):
            continue
        chosen.append(s)
    chosen.sort(key=lambda s: (s.rank, s.start))
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
