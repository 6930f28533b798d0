"""The RAG route: governed retrieval over a :class:`~crossroads.connectors.DocumentIndex`
and answers with chunk-level citations.

Access control comes first: the catalog's document rules for the principal (a union of
``where`` clauses bound to its attributes, per collection) become a filter the index
applies *before* ranking, so a chunk the principal may not read never competes, is
never returned and never reaches a model. ``rag.retrieve`` is the governed primitive;
``rag.ask`` retrieves through it (nested in the audit trail), optionally reranks, and
answers — extractively (the best supporting sentences, each cited with document, chunk
and character offsets) or, with a model, by a written answer that must cite the
supplied chunks.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from crossroads.connectors.base import LLM, Chunk
from crossroads.errors import CannotAnswer, ConfigError, PolicyViolation
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

if TYPE_CHECKING:
    from crossroads.audit import AuditLog
    from crossroads.connectors import DocumentIndex
    from crossroads.connectors.llm import LLMGateway
    from crossroads.policy import Catalog

__all__ = [
    "RAG",
    "DocumentAnswer",
    "Hit",
    "RAGAskTool",
    "RAGRetrieveTool",
    "Reranker",
    "Source",
    "deny_unreadable",
    "read_permit",
    "readable",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """A retrieved chunk."""

    doc_id: str
    chunk_id: str
    score: float
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    collection: str = ""
    heading: str = ""
    start: int = 0
    """Where the chunk starts in its document's text (``end`` where it stops)."""
    end: int = 0

    @classmethod
    def of(cls, chunk: Chunk, score: float) -> Hit:
        """The hit for ``chunk`` scored ``score``."""
        return cls(
            doc_id=chunk.doc_id,
            chunk_id=chunk.chunk_id,
            score=score,
            text=chunk.text,
            metadata=chunk.metadata,
            collection=chunk.collection,
            heading=chunk.heading,
            start=chunk.start,
            end=chunk.end,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A citation: the quoted text and exactly where it is."""

    n: int
    """The citation's number, as written in the answer (``[1]``)."""
    doc_id: str
    chunk_id: str
    collection: str
    start: int
    """Character offsets of ``quote`` in the document's text."""
    end: int
    quote: str
    heading: str = ""

    def __str__(self) -> str:
        where = f" › {self.heading}" if self.heading else ""
        span = f"chars {self.start}–{self.end}"
        return f"[{self.n}] {self.doc_id}{where} (chunk {self.chunk_id}, {span})"


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentAnswer:
    """An answer from documents, with the sources it cites."""

    question: str
    text: str
    """The answer, citation marks (``[1]``) in it, the sources listed after it."""
    sources: list[Source]
    mode: Literal["extractive", "llm"]
    hits: list[Hit] = field(default_factory=list)
    """What retrieval returned (and the answer was drawn from)."""
    unsupported: tuple[str, ...] = ()
    """Sentences of a model's answer that cite nothing it was given (flagged, not hidden)."""
    tokens: int = 0
    """Estimated tokens of text read to answer (long-context: the whole permitted corpus)."""
    read: tuple[str, ...] = ()
    """Ids of the documents read whole to answer (long-context: every permitted one)."""
    notes: tuple[str, ...] = ()


@runtime_checkable
class Reranker(Protocol):
    """Reorders retrieved hits for a query (a cross-encoder, a model, a rule). A
    ``rerank`` that also takes ``principal=`` is passed the caller (a model-based
    reranker charges and audits its calls as the caller)."""

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits, best first (a reranker may also drop some)."""
        ...


def readable(
    catalog: Catalog, principal: Principal, collections: Sequence[str], *, disclose: bool = True
) -> dict[str, DocumentFilter]:
    """The collections among ``collections`` the principal may read, with their filters.

    Raises ``PolicyViolation`` when it may read none: the catalog's own denial when a
    rule applies but needs an attribute the principal lacks (it names the attribute),
    else a default-deny — naming the collections only when ``disclose`` (the caller
    chose them; an index's other collection names are not told to a denied principal).
    """
    out: dict[str, DocumentFilter] = {}
    specific: PolicyViolation | None = None
    for name in collections:
        try:
            out[name] = catalog.document_filter(principal, name)
        except PolicyViolation as exc:
            if specific is None and exc.rule != "default deny":
                specific = exc
    if not out:
        if specific is not None:
            raise specific
        raise deny_unreadable(principal, collections, disclose=disclose)
    return out


def deny_unreadable(
    principal: Principal, collections: Sequence[str], *, disclose: bool = True
) -> PolicyViolation:
    """The denial for a principal no document rule of ``collections`` applies to."""
    if not collections:
        which = "no collection: the index is empty"
    elif disclose:
        which = f"none of the collections {', '.join(collections)}"
    else:
        which = f"none of the {len(collections)} collections of this index"
    return PolicyViolation(
        f"principal {principal.id!r} may read {which}: no document rule applies to it. "
        "Ask an administrator for a READ rule on collection:NAME",
        principal=principal.id,
        securable="collection:" + (collections[0] if disclose and len(collections) == 1 else "*"),
        rule="default deny",
        privilege="READ",
    )


def read_permit(args: Any, filters: Mapping[str, DocumentFilter]) -> Permit:
    """The permit of a document tool: the collections granted and each filter applied."""
    return Permit(
        args=args,
        reason="READ granted on " + ", ".join(f"collection:{c}" for c in sorted(filters)),
        rule="rag.document_rules",
        policy={"filters": [f.describe() for f in filters.values()]},
    )


def _where(filters: Mapping[str, DocumentFilter]) -> Callable[[Chunk], bool]:
    def allowed(chunk: Chunk) -> bool:
        rule = filters.get(chunk.collection)
        return rule is not None and rule.matches(chunk.metadata)

    return allowed


# --- tools ----------------------------------------------------------------------------------


_MAX_K = 1000
"""The most chunks one retrieval returns."""


class _RetrieveArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=4000, description="What to search for.")
    k: int = Field(default=10, ge=1, le=_MAX_K, description="How many chunks to return.")


@dataclass(frozen=True, slots=True)
class _Search:
    query: str
    k: int
    filters: Mapping[str, DocumentFilter]


class RAGRetrieveTool(Tool[_RetrieveArgs, list[Hit]]):
    """Searches the documents the principal may read (filtered before ranking)."""

    name: ClassVar[str] = "rag.retrieve"
    description: ClassVar[str] = (
        "Search the documents you may read; returns the best matching passages with "
        "their document ids."
    )
    Args: ClassVar[type[BaseModel]] = _RetrieveArgs

    def __init__(self, rag: RAG) -> None:
        self._rag = rag

    def authorize(self, args: _RetrieveArgs, principal: Principal, catalog: Catalog) -> Permit:
        """The principal's document filters; denied when it may read no collection."""
        filters = self._rag._filters(principal, catalog)
        return read_permit(_Search(args.query, args.k, filters), filters)

    def _execute(self, search: _Search) -> list[Hit]:
        return self._rag._search(search.query, search.k, search.filters)

    def summarize(self, result: list[Hit]) -> dict[str, Any]:
        """How many chunks, and which documents (ids, not text)."""
        return {
            "hits": len(result),
            "documents": list(dict.fromkeys(h.doc_id for h in result)),
        }


class RAGAskTool(Tool[QuestionArgs, DocumentAnswer]):
    """Answers a question from the documents the principal may read, with citations."""

    name: ClassVar[str] = "rag.ask"
    description: ClassVar[str] = (
        "Answer a question from the documents you may read; every statement cites the "
        "passage it comes from."
    )
    Args: ClassVar[type[BaseModel]] = QuestionArgs

    def __init__(self, rag: RAG) -> None:
        self._rag = rag

    def authorize(self, args: QuestionArgs, principal: Principal, catalog: Catalog) -> Permit:
        """Allowed when the principal may read some collection; the retrieval it then
        runs is governed and audited on its own (``rag.retrieve``)."""
        filters = self._rag._filters(principal, catalog)
        return read_permit((args.question, principal), filters)

    def _execute(self, permitted: tuple[str, Principal]) -> DocumentAnswer:
        question, principal = permitted
        return self._rag._answer(question, principal)

    def summarize(self, result: DocumentAnswer) -> dict[str, Any]:
        """Mode and what was cited (ids and offsets, not text)."""
        return {
            "mode": result.mode,
            "sources": [f"{s.chunk_id}:{s.start}-{s.end}" for s in result.sources],
            "unsupported": len(result.unsupported),
        }


# --- the front door -------------------------------------------------------------------------


class RAG:
    """Retrieval-augmented answers over a document index, governed and audited.

    >>> idx = DocumentIndex.from_jsonl("corpus.jsonl", collection="scifact")  # doctest: +SKIP
    >>> rag = RAG(idx, catalog)                                               # doctest: +SKIP
    >>> rag.retrieve("statins and muscle pain", alice, k=5)                   # doctest: +SKIP
    >>> print(rag.ask("Do statins cause muscle pain?", alice).text)           # doctest: +SKIP

    ``search`` picks the ranking: ``"bm25"`` (default), or ``"dense"``/``"hybrid"``
    when the index has an embedder (``rrf_k`` is the hybrid fusion constant).
    ``reranker`` reorders the first ``depth`` hits before the answer is drawn from the
    best ``k``.
    """

    def __init__(
        self,
        index: DocumentIndex,
        catalog: Catalog,
        *,
        audit: AuditLog | None = None,
        runner: ToolRunner | None = None,
        collections: Sequence[str] | None = None,
        k: int = 5,
        depth: int = 20,
        search: Literal["bm25", "dense", "hybrid"] = "bm25",
        rrf_k: float = 60.0,
        reranker: Reranker | None = None,
        llm: LLMGateway | LLM | None = None,
        max_sentences: int = 3,
        min_overlap: float = 0.5,
    ) -> None:
        if not 1 <= k <= depth <= _MAX_K:
            raise ConfigError(
                f"need 1 <= k <= depth <= {_MAX_K}, got k={k}, depth={depth}", key="k"
            )
        if max_sentences < 1:
            raise ConfigError(f"max_sentences must be at least 1, got {max_sentences}")
        if search not in ("bm25", "dense", "hybrid"):
            raise ConfigError(
                f"search must be 'bm25', 'dense' or 'hybrid', got {search!r}", key="search"
            )
        if search != "bm25" and index.embedder is None:
            raise ConfigError(
                f"search={search!r} needs an index with an embedder: build it with "
                "DocumentIndex(..., embedder=SentenceTransformerEmbedder()) "
                "(pip install 'crossroads[dense]') or OpenAIEmbeddings(...)",
                key="search",
            )
        if isinstance(rrf_k, bool) or not isinstance(rrf_k, int | float) or rrf_k < 0:
            raise ConfigError(f"rrf_k must be a number >= 0, got {rrf_k!r}", key="rrf_k")
        if not 0 < min_overlap <= 1:
            raise ConfigError(f"min_overlap must be in (0, 1], got {min_overlap}")
        if reranker is not None and not isinstance(reranker, Reranker):
            raise ConfigError(f"reranker must have a rerank(query, hits) method, got {reranker!r}")
        self.index = index
        self.catalog = catalog
        self.collections = tuple(collections) if collections is not None else None
        self.k = k
        self.depth = depth
        self.search = search
        self.rrf_k = rrf_k
        self.reranker = reranker
        self._rerank_takes_principal = reranker is not None and (
            "principal" in inspect.signature(reranker.rerank).parameters
        )
        self.max_sentences = max_sentences
        self.min_overlap = min_overlap
        self.runner = runner_for("RAG", catalog, runner, audit)
        self.llm = model_gateway(llm, self.runner.audit)
        gateway = getattr(reranker, "gateway", None)
        if gateway is not None and getattr(gateway, "audit", None) is not self.runner.audit:
            raise ConfigError(
                "the reranker's model calls would be audited in another log than this RAG's: "
                "build it with the same audit log (LLMReranker(model, audit=rag_audit)) or the "
                "same gateway"
            )
        self.runner.register(RAGRetrieveTool(self))
        self.runner.register(RAGAskTool(self))

    # --- governance ----------------------------------------------------------------------

    def _filters(self, principal: Principal, catalog: Catalog) -> dict[str, DocumentFilter]:
        names = sorted(self.index.collections()) if self.collections is None else self.collections
        return readable(catalog, principal, names, disclose=self.collections is not None)

    def _search(self, query: str, k: int, filters: Mapping[str, DocumentFilter]) -> list[Hit]:
        where = _where(filters)
        found = self.index.search(query, k, where=where, mode=self.search, rrf_k=self.rrf_k)
        return [Hit.of(chunk, score) for chunk, score in found]

    # --- the API -------------------------------------------------------------------------

    def retrieve(self, query: str, principal: Principal, k: int = 10) -> list[Hit]:
        """The ``k`` best chunks ``principal`` may read (audited as ``rag.retrieve``)."""
        hits: list[Hit] = self.runner.call(
            "rag.retrieve", {"query": query, "k": k}, principal=principal
        ).value
        return hits

    def ask(self, question: str, principal: Principal) -> DocumentAnswer:
        """Answer from the documents ``principal`` may read, citing them (audited as
        ``rag.ask`` with the retrieval nested). Raises ``CannotAnswer`` when nothing
        relevant is found, so a router can fall back."""
        answer: DocumentAnswer = self.runner.call(
            "rag.ask", {"question": question}, principal=principal
        ).value
        return answer

    def _answer(self, question: str, principal: Principal) -> DocumentAnswer:
        from crossroads.tools.rag._extract import extractive_answer

        hits = self.retrieve(question, principal, k=self.depth if self.reranker else self.k)
        notes: list[str] = []
        if self.reranker is not None and hits:
            if self._rerank_takes_principal:  # e.g. LLMReranker: charged and audited as the caller
                reordered = self.reranker.rerank(question, hits, principal=principal)  # type: ignore[call-arg]
            else:
                reordered = self.reranker.rerank(question, hits)
            # a reranker only reorders: what it returns is mapped back to the hits it was
            # given (the caller's own, filtered); anything else is dropped, never answered
            given = {h.chunk_id: h for h in hits}
            kept = list(dict.fromkeys(h.chunk_id for h in reordered if h.chunk_id in given))
            foreign = sum(1 for h in reordered if h.chunk_id not in given)
            hits = [given[c] for c in kept][: self.k]
            notes.append(f"reranked by {type(self.reranker).__name__}")
            if foreign:
                notes.append(
                    f"the reranker returned {foreign} passage(s) it was not given; dropped"
                )
        if not hits:
            raise CannotAnswer(
                "no document you may read matches the question",
                tool="rag.ask",
                reason="no relevant document",
            )
        if self.llm is not None:
            from crossroads.tools.rag._llm import llm_answer

            written = llm_answer(self.llm, question, principal, hits)
            if written is not None:
                return dataclasses.replace(written, notes=(*notes, *written.notes))
            notes.append("the model gave no usable answer; answered extractively")
        answer = extractive_answer(
            question, hits, max_sentences=self.max_sentences, min_overlap=self.min_overlap
        )
        return DocumentAnswer(
            question=question,
            text=answer.text,
            sources=answer.sources,
            mode="extractive",
            hits=hits,
            notes=(*notes, *answer.notes),
        )
