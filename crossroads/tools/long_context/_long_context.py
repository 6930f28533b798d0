"""The long-context route: read the whole permitted corpus at once, when it fits.

The corpus is assembled from the documents the principal may read — never anything
else — each marked with its number, id and title, and its size counted with a
pluggable token counter. Over the budget, the route refuses with the count and the
budget (``CannotAnswer``: a router falls back to RAG). The count is the cost estimate
reported in the audit event of every call.

Deterministic mode answers holistic questions (*summarise …*, *compare …*, *list every
…*) by extracting from every permitted document — the sentences that best match the
question, else the document's opening sentence — with a citation per document. Other
questions quote only the documents that hold a matching sentence (a needle in a
haystack). LLM mode sends the assembled corpus and requires ``[n]`` citations of the
document numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from crossroads.connectors._chunking import statements
from crossroads.connectors.base import LLM, Document, Message
from crossroads.errors import CannotAnswer, ConfigError, ToolError
from crossroads.policy._documents import DocumentFilter
from crossroads.policy._principal import Principal
from crossroads.tools._runner import (
    Permit,
    QuestionArgs,
    Tool,
    ToolRunner,
    model_gateway,
    runner_for,
)
from crossroads.tools.rag._extract import (
    FAR,
    coverage,
    heading_line,
    question_terms,
    term_weights,
    terms,
)
from crossroads.tools.rag._llm import NO_ANSWER, written_answer
from crossroads.tools.rag._rag import (
    DocumentAnswer,
    Source,
    deny_unreadable,
    read_permit,
    readable,
)

if TYPE_CHECKING:
    from crossroads.audit import AuditLog
    from crossroads.connectors import DocumentIndex
    from crossroads.connectors.llm import LLMGateway
    from crossroads.policy import Catalog

__all__ = [
    "ApproxTokenCounter",
    "Corpus",
    "LongContext",
    "LongContextTool",
    "TokenCounter",
    "assemble",
    "is_holistic",
]

_HOLISTIC = re.compile(
    r"\b(summari[sz]e|summary|overview|compare|comparison|contrast|differences?|"
    r"every|each|all|across|list)\b",
    re.I,
)
_PIECE = re.compile(r"\w+|[^\w\s]")


def is_holistic(question: str) -> bool:
    """Whether the question asks about the corpus as a whole (summarise, compare, every …)."""
    return _HOLISTIC.search(question) is not None


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens a model would read for a text."""

    def count(self, text: str) -> int:
        """The number of tokens in ``text``."""
        ...


class ApproxTokenCounter:
    """A tokenizer-free estimate: words and punctuation marks, times ``ratio`` (1.3 is
    close to BPE tokenizers on English prose; pass a real tokenizer's counter for exact
    budgets)."""

    def __init__(self, ratio: float = 1.3) -> None:
        if ratio <= 0:
            raise ConfigError(f"ratio must be positive, got {ratio}")
        self.ratio = ratio

    def count(self, text: str) -> int:
        """About ``ratio`` tokens per word or punctuation mark."""
        return math.ceil(len(_PIECE.findall(text)) * self.ratio)


@dataclass(frozen=True, slots=True, kw_only=True)
class Corpus:
    """The principal's permitted documents, assembled with markers, and their size."""

    documents: tuple[Document, ...]
    text: str
    tokens: int


def assemble(documents: Sequence[Document]) -> str:
    """Every document under a marker line: ``=== [n] id — title (collection) ===``."""
    parts = []
    for n, doc in enumerate(documents, 1):
        title = doc.metadata.get("title")
        named = f" — {title}" if isinstance(title, str) and title and title != doc.id else ""
        parts.append(f"=== [{n}] {doc.id}{named} ({doc.collection}) ===\n{doc.text.strip()}")
    return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class _Read:
    question: str
    principal: Principal
    filters: dict[str, DocumentFilter]


class _AskArgs(QuestionArgs):
    collections: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Read only these collections (of those the tool reads); all when omitted.",
    )


class LongContextTool(Tool[_AskArgs, DocumentAnswer]):
    """Answers from the principal's whole permitted corpus when it fits the budget."""

    name: ClassVar[str] = "long_context.ask"
    description: ClassVar[str] = (
        "Answer a question that needs every document you may read at once (summaries, "
        "comparisons, lists across documents), when they fit the context budget."
    )
    Args: ClassVar[type[BaseModel]] = _AskArgs

    def __init__(self, lc: LongContext) -> None:
        self._lc = lc

    def authorize(self, args: _AskArgs, principal: Principal, catalog: Catalog) -> Permit:
        """The principal's document filters; denied when it may read no collection (of
        ``collections``, when the call narrows the read to some)."""
        scope = self._lc._collections()
        if args.collections is not None:
            if not args.collections:
                raise ToolError(
                    "collections=[] names no collection to read; omit it to read every "
                    "collection you may read",
                    tool=self.name,
                )
            unknown = sorted(set(args.collections) - set(scope))
            if unknown:  # as for an unreadable one: never confirm what exists
                raise deny_unreadable(principal, unknown, disclose=True)
            scope = [c for c in scope if c in set(args.collections)]
        filters = readable(
            catalog,
            principal,
            scope,
            disclose=self._lc.collections is not None or args.collections is not None,
        )
        return read_permit(_Read(args.question, principal, filters), filters)

    def _execute(self, read: _Read) -> DocumentAnswer:
        return self._lc._answer(read.question, read.principal, read.filters)

    def summarize(self, result: DocumentAnswer) -> dict[str, Any]:
        """Mode, estimated tokens read (the cost), the documents read and cited."""
        return {
            "mode": result.mode,
            "tokens": result.tokens,
            "budget_tokens": self._lc.budget_tokens,
            "read": list(result.read),
            "sources": [s.doc_id for s in result.sources],
        }


class LongContext:
    """The whole permitted corpus in one read, within a token budget.

    >>> lc = LongContext(idx, catalog, budget_tokens=100_000)    # doctest: +SKIP
    >>> print(lc.ask("Summarise every SOP", alice).text)         # doctest: +SKIP
    """

    def __init__(
        self,
        index: DocumentIndex,
        catalog: Catalog,
        *,
        budget_tokens: int = 100_000,
        audit: AuditLog | None = None,
        runner: ToolRunner | None = None,
        collections: Sequence[str] | None = None,
        counter: TokenCounter | None = None,
        llm: LLMGateway | LLM | None = None,
        min_overlap: float = 0.5,
        sentences_per_document: int = 2,
    ) -> None:
        if budget_tokens < 1:
            raise ConfigError(f"budget_tokens must be at least 1, got {budget_tokens}")
        if counter is not None:
            _check_counter(counter)
        if not 0 < min_overlap <= 1:
            raise ConfigError(f"min_overlap must be in (0, 1], got {min_overlap}")
        if sentences_per_document < 1:
            raise ConfigError(
                f"sentences_per_document must be at least 1, got {sentences_per_document}"
            )
        self.index = index
        self.catalog = catalog
        self.budget_tokens = budget_tokens
        self.collections = tuple(collections) if collections is not None else None
        self.counter: TokenCounter = counter or ApproxTokenCounter()
        self.min_overlap = min_overlap
        self.sentences_per_document = sentences_per_document
        self.runner = runner_for("LongContext", catalog, runner, audit)
        self.llm = model_gateway(llm, self.runner.audit)
        self.runner.register(LongContextTool(self))

    def _collections(self) -> list[str]:
        if self.collections is not None:
            return list(self.collections)
        return sorted(self.index.collections())

    def _corpus(self, filters: dict[str, DocumentFilter]) -> Corpus:
        """The documents the filters admit, assembled and counted (only ever called with
        the filters a permit carries: reading is what the tool audits)."""
        docs = tuple(
            d
            for d in self.index.documents()
            if d.collection in filters
            and filters[d.collection].matches({**d.metadata, "collection": d.collection})
        )
        text = assemble(docs)
        tokens = self.counter.count(text)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ConfigError(
                f"the token counter {self.counter!r} returned {tokens!r} for the corpus; "
                "count(text) must return a whole number of tokens",
                key="counter",
            )
        return Corpus(documents=docs, text=text, tokens=tokens)

    def ask(
        self,
        question: str,
        principal: Principal,
        *,
        collections: Sequence[str] | None = None,
    ) -> DocumentAnswer:
        """Answer from every document ``principal`` may read (audited as
        ``long_context.ask``, with the estimated tokens); only from ``collections`` when
        given. Raises ``CannotAnswer`` when the permitted corpus is over the budget or
        holds nothing relevant."""
        args: dict[str, Any] = {"question": question}
        if collections is not None:
            args["collections"] = list(collections)
        answer: DocumentAnswer = self.runner.call(
            "long_context.ask", args, principal=principal
        ).value
        return answer

    def _answer(
        self, question: str, principal: Principal, filters: dict[str, DocumentFilter]
    ) -> DocumentAnswer:
        corpus = self._corpus(filters)
        if not corpus.documents:
            raise CannotAnswer(
                "no document you may read is in the index",
                tool="long_context.ask",
                reason="empty corpus",
            )
        if corpus.tokens > self.budget_tokens:
            raise CannotAnswer(
                f"the {_count(len(corpus.documents), 'document')} you may read "
                f"{'comes' if len(corpus.documents) == 1 else 'come'} to about "
                f"{corpus.tokens:,} tokens, over the budget of {self.budget_tokens:,}: "
                "use retrieval (RAG) instead, or raise budget_tokens",
                tool="long_context.ask",
                reason="over the context budget",
            )
        notes: list[str] = []
        if self.llm is not None:
            written = self._llm_answer(question, principal, corpus)
            if written is not None:
                return written
            notes.append("the model gave no usable answer; answered extractively")
        return self._extract(question, corpus, notes)

    def _extract(self, question: str, corpus: Corpus, notes: list[str]) -> DocumentAnswer:
        wanted = question_terms(_HOLISTIC.sub(" ", question))
        holistic = is_holistic(question)
        read = [(n, doc, _statements(doc)) for n, doc in enumerate(corpus.documents, 1)]
        held = [s.terms | s.near | s.far for _, _, found in read for s in found]
        if holistic:
            # every document is quoted: a word no document holds ("the whole set",
            # "sections") only phrases the question, and would lower every score alike
            wanted = {t for t in wanted if any(t in h for h in held)}
        # comparing documents, a term every statement shares (in its words or its
        # headings: "SOP") counts less; a needle's terms all count the same
        weights = term_weights(wanted, held) if holistic else dict.fromkeys(wanted, 1.0)
        # (best score, document number, document, heading, [(start, end, text)])
        picked: list[tuple[float, int, Document, str, list[tuple[int, int, str]]]] = []
        for n, doc, found in read:
            if not found:
                continue
            # (score, heading match, statement index, statement)
            scored = [
                (*_score(wanted, weights, s, holistic=holistic), i, s) for i, s in enumerate(found)
            ]
            best = max(s[0] for s in scored)
            if holistic and any(s[1] for s in scored):
                # a section whose heading names what is asked (the records "we must keep"
                # under "Records and archiving") answers before a stray mention elsewhere
                chosen = sorted((s for s in scored if s[1]), key=lambda s: (-s[1], -s[0], s[2]))
            elif best >= self.min_overlap:
                top = sorted(scored, key=lambda s: (-s[0], -s[1], s[2]))
                chosen = [s for s in top if s[0] >= self.min_overlap]
            elif holistic:
                # the opening sentence stands for the document (a sentence, not a title,
                # a version line or a list of references)
                chosen = [next((s for s in scored if _prose(s[3])), scored[0])]
            else:
                continue
            chosen = chosen[: self.sentences_per_document]
            run = sorted(chosen, key=lambda s: s[2])
            if run[-1][2] - run[0][2] != len(run) - 1 or len({r[3].heading for r in run}) > 1:
                # not adjacent in one section: a quote is one stretch of text, the best one
                run = chosen[:1]
            quotes = [(r[3].start, r[3].end, r[3].text) for r in run]
            picked.append((best, n, doc, run[0][3].heading, quotes))
        if not picked:
            raise CannotAnswer(
                f"none of the {_count(len(corpus.documents), 'document')} you may read "
                f"(about {corpus.tokens:,} tokens read) has a sentence about the question",
                tool="long_context.ask",
                reason="no relevant passage",
            )
        if not holistic:
            picked.sort(key=lambda p: (-p[0], p[1]))
        sources: list[Source] = []
        lines: list[str] = []
        for i, (_, _, doc, heading, quotes) in enumerate(picked, 1):
            start, end = quotes[0][0], quotes[-1][1]
            sources.append(
                Source(
                    n=i,
                    doc_id=doc.id,
                    chunk_id=_chunk_at(self.index, doc.id, start),
                    collection=doc.collection,
                    start=start,
                    end=end,
                    quote=doc.text[start:end],
                    heading=heading,
                )
            )
            title = doc.metadata.get("title")
            name = title if isinstance(title, str) and title else doc.id
            lines.append(f"- {name}: {' '.join(q[2] for q in quotes)} [{i}]")
        listing = "\n".join(str(s) for s in sources)
        total = _count(len(corpus.documents), "document")
        head = (
            f"From the {total} you may read:"
            if holistic
            else f"Found in {len(picked)} of the {total} you may read:"
        )
        return DocumentAnswer(
            question=question,
            text=f"{head}\n" + "\n".join(lines) + f"\n\nSources:\n{listing}",
            sources=sources,
            mode="extractive",
            tokens=corpus.tokens,
            read=tuple(d.id for d in corpus.documents),
            notes=tuple(notes),
        )

    def _llm_answer(
        self, question: str, principal: Principal, corpus: Corpus
    ) -> DocumentAnswer | None:
        assert self.llm is not None
        system = (
            "Answer the question from the numbered documents below only. After every "
            "sentence, cite the documents that support it, like [1] or [2, 3]. If they do "
            f"not answer it, reply exactly {NO_ANSWER}."
        )
        messages = [
            Message("system", system),
            Message("user", f"{corpus.text}\n\nQuestion: {question}"),
        ]
        numbered = [
            Source(
                n=i,
                doc_id=doc.id,
                chunk_id=_chunk_at(self.index, doc.id, 0),
                collection=doc.collection,
                start=0,
                end=len(doc.text),
                quote=doc.text,
            )
            for i, doc in enumerate(corpus.documents, 1)
        ]
        written = written_answer(
            self.llm, principal, messages, numbered, tool="long_context.ask", noun="document"
        )
        if written is None:
            return None
        return DocumentAnswer(
            question=question,
            text=written.text,
            sources=written.sources,
            mode="llm",
            tokens=corpus.tokens,
            read=tuple(d.id for d in corpus.documents),
            unsupported=written.unsupported,
        )


@dataclass(frozen=True, slots=True)
class _Statement:
    heading: str  # the heading path
    start: int
    end: int
    text: str
    terms: frozenset[str]
    near: frozenset[str]  # the heading right above it
    far: frozenset[str]  # the headings further up, the document's title


def _statements(doc: Document) -> list[_Statement]:
    """The document's sentences (a list item is one) with the words of their headings;
    a title line (a document loaded with a title starts with it) is no statement, its
    words count for the statements beneath."""
    found = statements(doc.text)
    paths = [[p for p in h.split(" › ") if p.strip()] for h, _ in found]
    # the heading every section nests under is the document's title, not a section's
    roots = {p[0] for p in paths if p}
    title_heading = (
        next(iter(roots)) if len(roots) == 1 and any(len(p) > 1 for p in paths) else None
    )
    title = doc.metadata.get("title")
    named = frozenset(terms(title)) if isinstance(title, str) else frozenset()
    out: list[_Statement] = []
    line: tuple[str, frozenset[str]] | None = None  # a heading line and its section
    for i, ((heading, span), path) in enumerate(zip(found, paths, strict=True)):
        text = doc.text[span.start : span.end]
        if i + 1 < len(found) and heading_line(doc.text, span.start, span.end):
            line = (heading, frozenset(terms(text)))
            continue
        own_section = path[-1:] if path and path != [title_heading] else []
        near = frozenset(terms(" ".join(own_section)))
        far = named | frozenset(terms(" ".join(path[: len(path) - len(own_section)])))
        if line is not None and line[0] == heading:
            near, far = line[1], far | near
        out.append(
            _Statement(heading, span.start, span.end, text, frozenset(terms(text)), near, far)
        )
    return out


def _score(
    wanted: set[str], weights: dict[str, float], s: _Statement, *, holistic: bool
) -> tuple[float, float]:
    """How well a statement answers (``coverage``: its own words, then its headings'),
    and how much of the question its section's heading names. A holistic question asks
    about an aspect of every document, which a section heading names; a heading alone
    never makes a statement answer another question (its own words must hold a term)."""
    if not wanted or (not holistic and not wanted & s.terms):
        return 0.0, 0.0
    total = sum(weights[t] for t in wanted)
    named = sum(weights[t] for t in wanted & s.near) / total
    if holistic:
        got = sum(
            weights[t] * (1.0 if t in s.terms or t in s.near else FAR if t in s.far else 0.0)
            for t in wanted
        )
        return got / total, named
    return coverage(wanted, weights, s.terms, s.near, s.far), named


_FIELD = re.compile(r"\W*\w+(?:[ /-]\w+){0,2}:\s")  # "Owner: …", "Last reviewed: …"


def _prose(s: _Statement) -> bool:
    """A sentence that reads as one: it ends like a sentence, is not a field ("Owner:
    …") and has five words or more that are not numbers (not "Version 3.0, effective
    2023-10-02.", not a reference)."""
    return (
        s.text[-1] in ".!?" and not _FIELD.match(s.text) and sum(t.isalpha() for t in s.terms) >= 5
    )


def _check_counter(counter: object) -> None:
    """A counter is an object with ``count(text)``; a tokenizer *name* is refused (a
    string has a ``count`` method too, which counts substrings, not tokens)."""
    if isinstance(counter, str | bytes):
        raise ConfigError(
            f"counter must have a count(text) method returning tokens; {counter!r} is a "
            "string — wrap your tokenizer: an object whose count(text) returns "
            "len(tokenizer.encode(text))",
            key="counter",
        )
    if not isinstance(counter, TokenCounter):
        raise ConfigError(
            f"counter must have a count(text) method, such as ApproxTokenCounter(); "
            f"got {counter!r}",
            key="counter",
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _chunk_at(index: DocumentIndex, doc_id: str, offset: int) -> str:
    """The id of the chunk of ``doc_id`` that holds character ``offset``."""
    chunks = index.chunks(doc_id)
    for chunk in chunks:
        if chunk.start <= offset < chunk.end:
            return chunk.chunk_id
    return chunks[0].chunk_id if chunks else f"{doc_id}#0"
