"""The embedded document index: documents cut into chunks, ranked with BM25 (bm25s),
dense vectors or both fused.

::

    idx = DocumentIndex.from_jsonl("corpus.jsonl", collection="scifact")
    idx.add("sop-7", "# Dosing\\n\\nHalve the dose in renal impairment.", {"region": "EU"})
    idx.search("renal dosing", k=5, where=lambda c: c.metadata.get("region") == "EU")
    idx.save("index/");  DocumentIndex.load("index/")

    dense = DocumentIndex.from_jsonl("corpus.jsonl", embedder=SentenceTransformerEmbedder())
    dense.search("renal dosing", mode="hybrid", mmr=0.7)

Chunking follows headings and sentences (:mod:`._chunking`): a chunk never spans
two sections and every chunk keeps its offsets into the document's text. The
text BM25 sees for a chunk is its heading path, a newline and its text,
lower-cased, without English stopwords, Snowball-stemmed. The BM25 index is built
on the first search and again on the first search after documents changed: bm25s
has no incremental update, so a change costs one rebuild of the whole index, not
one per document.

With an embedder, chunks also get unit-length vectors (:mod:`._vectors`), embedded
in one batch on the first dense search (or :meth:`DocumentIndex.build`, or
:meth:`DocumentIndex.save`) after documents changed, and only for chunks whose id
or text changed.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from crossroads.connectors._chunking import chunk_text
from crossroads.connectors._documents_load import (
    Record,
    json_metadata,
    read_folder,
    read_jsonl,
    read_sql,
)
from crossroads.connectors.base import Chunk, Document, Embedder, SQLBackend
from crossroads.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from crossroads.connectors._vectors import Matrix, Vectors

__all__ = ["Chunk", "Document", "DocumentIndex", "SearchMode"]

SearchMode = Literal["bm25", "dense", "hybrid"]
"""How :meth:`DocumentIndex.search` ranks: BM25, vector similarity, or both fused."""
_MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")

# bm25s' defaults. On BEIR SciFact's train queries (809; document score = its best
# chunk's, 1000-character chunks) they give nDCG@10 0.689 against 0.686 for Anserini's
# BEIR setting (k1=0.9, b=0.4) and 0.686 for (1.2, 0.75).
DEFAULT_K1 = 1.5
DEFAULT_B = 0.75
# Reciprocal rank fusion's constant, as in Cormack et al. (2009) and most RAG stacks. On
# SciFact's train queries with MiniLM, hybrid nDCG@10 is 0.713 at 60, 0.722 at 20, 0.723
# at 10 and 0.725 at 5 (BM25 alone 0.689, dense alone 0.679).
DEFAULT_RRF_K = 60
# Hybrid search fuses the top max(HYBRID_DEPTH, 5·k) of each ranking.
HYBRID_DEPTH = 100
# MMR picks from the top max(MMR_FETCH, 4·k) when fetch_k is not given.
MMR_FETCH = 20


@dataclass(frozen=True, slots=True)
class _Built:
    """A BM25 index over ``order`` (row i of the index is ``order[i]``), as of ``version``.

    ``retriever`` is None when no chunk has a searchable term (none, or only stopwords).
    """

    retriever: Any  # bm25s.BM25 | None
    order: tuple[Chunk, ...]
    version: int


class DocumentIndex:
    """A :class:`~crossroads.connectors.base.DocumentStore` held in memory, saved to disk.

    ``collection`` is the collection documents join unless :meth:`add` names
    another; ``max_chars`` and ``overlap`` size the chunks (see
    :func:`~crossroads.connectors._chunking.chunk_text`); ``k1`` and ``b`` are the
    BM25 parameters (Lucene's formula, as in Anserini). Fill it with :meth:`add`,
    or the loaders :meth:`from_jsonl`, :meth:`from_folder`, :meth:`from_sql` (and
    :meth:`add_jsonl`, :meth:`add_folder`, :meth:`add_sql` for several sources in
    one index).

    ``embedder`` (an :class:`~crossroads.connectors.base.Embedder`, such as
    :class:`~crossroads.connectors.SentenceTransformerEmbedder` or
    :class:`~crossroads.connectors.OpenAIEmbeddings`) enables
    ``search(mode="dense")`` and ``search(mode="hybrid")``; BM25 stays the default.
    """

    def __init__(
        self,
        collection: str = "default",
        *,
        max_chars: int = 1000,
        overlap: int = 150,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        embedder: Embedder | None = None,
    ) -> None:
        self._collection = _collection(collection)
        for key, value in (("max_chars", max_chars), ("overlap", overlap)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{key} must be a whole number, got {value!r}", key=key)
        chunk_text("", max_chars=max_chars, overlap=overlap)  # checks the sizes
        self._max_chars = max_chars
        self._overlap = overlap
        self._k1 = _number("k1", k1, 0.0, math.inf)
        self._b = _number("b", b, 0.0, 1.0)
        self._docs: dict[str, Document] = {}
        self._chunks: dict[str, tuple[Chunk, ...]] = {}
        self._by_id: dict[str, Chunk] = {}
        self._version = 0
        self._built: _Built | None = None
        self._lock = threading.Lock()
        self._embedder = _check_embedder(embedder)
        self._vectors: Vectors | None = None
        self._vectors_lock = threading.Lock()

    # --- documents -----------------------------------------------------------------------

    def add(
        self,
        doc_id: str,
        text: str,
        metadata: Mapping[str, Any] | None = None,
        collection: str | None = None,
    ) -> bool:
        """Add a document, or replace the one with this id; return whether anything changed.

        Replacing drops the old document's chunks: a search never finds its old
        text again. Adding the same text, metadata and collection again changes
        nothing (and returns False). ``metadata`` must hold JSON values (dates are
        turned into ISO strings); its key ``collection``, when present, must name the
        document's collection.
        """
        if not isinstance(doc_id, str) or not doc_id:
            raise ConfigError(f"a document id must be a non-empty string, got {doc_id!r}")
        if not isinstance(text, str):
            raise ConfigError(f"text must be a string, got {type(text).__name__}", key="text")
        coll = self._collection if collection is None else _collection(collection)
        meta = json_metadata(metadata)
        if meta.get("collection", coll) != coll:
            raise ConfigError(
                f"document {doc_id!r}: metadata 'collection' is {meta['collection']!r} but the "
                f"document joins collection {coll!r}; pass collection= to choose the collection "
                "and leave 'collection' out of the metadata",
                key="metadata.collection",
            )
        _utf8(doc_id, text, meta)
        doc = Document(doc_id, coll, text, MappingProxyType(meta))
        chunks = self._cut(doc)
        with self._lock:  # a search never sees half a replacement, nor a stale build
            existing = self._docs.get(doc_id)
            if existing == doc:
                return False
            if existing is not None and existing.collection != coll:
                raise ConfigError(
                    f"document {doc_id!r} is already in collection {existing.collection!r}; "
                    f"adding it to {coll!r} would silently replace it there. Give documents "
                    "of different collections distinct ids (e.g. prefix them with the "
                    "collection), or remove() the old one first",
                    key="doc_id",
                )
            for old in self._chunks.get(doc_id, ()):
                del self._by_id[old.chunk_id]
            self._docs[doc_id] = doc
            self._chunks[doc_id] = chunks
            self._by_id.update((c.chunk_id, c) for c in chunks)
            self._version += 1
        return True

    def _cut(self, doc: Document) -> tuple[Chunk, ...]:
        metadata = MappingProxyType({**doc.metadata, "collection": doc.collection})
        return tuple(
            Chunk(
                chunk_id=f"{doc.id}#{n}",
                doc_id=doc.id,
                collection=doc.collection,
                text=doc.text[span.start : span.end],
                start=span.start,
                end=span.end,
                heading=heading,
                metadata=metadata,
            )
            for n, (heading, span) in enumerate(
                chunk_text(doc.text, max_chars=self._max_chars, overlap=self._overlap)
            )
        )

    def remove(self, doc_id: str) -> bool:
        """Drop a document and its chunks; return whether it was there."""
        with self._lock:
            doc = self._docs.pop(doc_id, None)
            if doc is None:
                return False
            for old in self._chunks.pop(doc_id):
                del self._by_id[old.chunk_id]
            self._version += 1
        return True

    def document(self, doc_id: str) -> Document:
        """The document with this id (KeyError when there is none)."""
        try:
            return self._docs[doc_id]
        except KeyError:
            raise KeyError(f"no document {doc_id!r} in the index") from None

    def documents(self) -> list[Document]:
        """Every document, in the order they were first added."""
        return list(self._docs.values())

    def chunks(self, doc_id: str | None = None) -> list[Chunk]:
        """Every chunk (documents in order, each document's chunks in text order), or
        the chunks of one document (KeyError when there is no such document)."""
        if doc_id is None:
            return [c for chunks in self._chunks.values() for c in chunks]
        if doc_id not in self._chunks:
            raise KeyError(f"no document {doc_id!r} in the index")
        return list(self._chunks[doc_id])

    def chunk(self, chunk_id: str) -> Chunk:
        """The chunk with this id (KeyError when there is none)."""
        try:
            return self._by_id[chunk_id]
        except KeyError:
            raise KeyError(f"no chunk {chunk_id!r} in the index") from None

    def __len__(self) -> int:
        """The number of chunks."""
        return len(self._by_id)

    @property
    def version(self) -> int:
        """A counter that changes whenever documents are added, removed or loaded (for
        caches of anything computed from the index)."""
        return self._version

    @property
    def document_count(self) -> int:
        """The number of documents."""
        return len(self._docs)

    @property
    def collection(self) -> str:
        """The collection documents join when :meth:`add` names none."""
        return self._collection

    @property
    def params(self) -> dict[str, Any]:
        """Chunking and BM25 parameters, as saved in the manifest."""
        return {
            "max_chars": self._max_chars,
            "overlap": self._overlap,
            "k1": self._k1,
            "b": self._b,
        }

    @property
    def embedder(self) -> Embedder | None:
        """The embedder of dense and hybrid search (None: BM25 only)."""
        return self._embedder

    def collections(self) -> frozenset[str]:
        """Every collection holding at least one document."""
        return frozenset(d.collection for d in self._docs.values())

    def __repr__(self) -> str:
        from crossroads.connectors._vectors import embedder_name

        dense = "" if self._embedder is None else f", embedder={embedder_name(self._embedder)!r}"
        return (
            f"DocumentIndex({len(self._docs)} documents, {len(self._by_id)} chunks, "
            f"collections={sorted(self.collections())}{dense})"
        )

    # --- search --------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        where: Callable[[Chunk], bool] | None = None,
        mode: SearchMode = "bm25",
        rrf_k: float = DEFAULT_RRF_K,
        mmr: float | None = None,
        fetch_k: int | None = None,
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` best chunks for ``query`` with their scores, best first (ties by chunk id).

        ``where`` is applied before ranking: only chunks it accepts compete for the
        ``k`` places, so a chunk it rejects is never returned.

        ``mode`` chooses the ranking:

        - ``"bm25"`` (the default): BM25 scores. ``where`` is called only on chunks
          that share a term with the query (the others score 0 and are never
          returned), so fewer than ``k`` chunks come back when fewer match.
        - ``"dense"``: the cosine similarity of the query's and the chunks' vectors.
          Every chunk has a score, so ``where`` is called once on every chunk and ``k``
          chunks come back whenever ``k`` are allowed.
        - ``"hybrid"``: reciprocal rank fusion of the two: the BM25 and the dense
          rankings of the allowed chunks, each to a depth of ``max(100, 5·k)``; a
          chunk scores ``Σ 1 / (rrf_k + rank)`` over the rankings it is in.

        ``"dense"`` and ``"hybrid"`` need an ``embedder`` (ConfigError otherwise).

        ``mmr`` (λ, between 0 and 1) re-ranks the best ``fetch_k`` chunks (default
        ``max(20, 4·k)``) by maximal marginal relevance, to keep near-duplicates out
        of the ``k``: see :meth:`mmr`. The scores returned stay those of ``mode``, in
        MMR's order. ``search(q, k, mmr=0.5)`` is LangChain's
        ``max_marginal_relevance_search(q, k, fetch_k=…, lambda_mult=0.5)``.
        """
        k = _whole("k", k)
        if not isinstance(query, str):
            raise ConfigError(f"query must be a string, got {type(query).__name__}", key="query")
        if mode not in _MODES:
            raise ConfigError(
                f"mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}", key="mode"
            )
        rrf_k = _number("rrf_k", rrf_k, 0.0, math.inf)
        depth = k
        if mmr is not None:
            lambda_mult = _number("mmr", mmr, 0.0, 1.0)
            depth = max(MMR_FETCH, 4 * k) if fetch_k is None else _whole("fetch_k", fetch_k)
            if depth < k:
                raise ConfigError(f"fetch_k ({depth}) must be ≥ k ({k})", key="fetch_k")
        elif fetch_k is not None:
            raise ConfigError("fetch_k is the candidate pool of mmr=; pass mmr= too", key="fetch_k")
        if mode != "bm25":
            self._need_embedder(f"search(mode={mode!r})")
        built = self._index()
        if mode == "bm25":
            hits, qvec = self._bm25_top(built, query, depth, where=where), None
        else:
            hits, qvec = self._dense_search(built, query, depth, where, mode, rrf_k)
        if mmr is None or len(hits) <= 1:
            return hits[:k]
        return self._mmr(built, query if qvec is None else qvec, hits, k, lambda_mult)

    def _bm25_top(
        self,
        built: _Built,
        query: str,
        k: int,
        *,
        where: Callable[[Chunk], bool] | None = None,
        mask: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` best chunks by BM25 among those ``where`` (or ``mask``) allows."""
        if built.retriever is None or k == 0:
            return []
        import numpy as np

        from crossroads.connectors._vectors import top_k

        ids = built.retriever.get_tokens_ids(_tokenize([query], ids=False)[0])
        if not ids:
            return []
        scores = built.retriever.get_scores_from_ids(ids)
        hits = np.flatnonzero(scores > 0)
        if mask is not None:
            hits = hits[mask[hits]]
        elif where is not None:
            keep = [bool(where(built.order[i])) for i in hits.tolist()]
            hits = hits[np.asarray(keep, dtype=bool)]
        return top_k(scores, hits, k, built.order)

    def _dense_search(
        self,
        built: _Built,
        query: str,
        k: int,
        where: Callable[[Chunk], bool] | None,
        mode: str,
        rrf_k: float,
    ) -> tuple[list[tuple[Chunk, float]], Matrix | None]:
        """Dense or hybrid hits, and the query's vector (None when nothing was searched)."""
        if k == 0 or not built.order or not query.strip():
            return [], None
        import numpy as np

        from crossroads.connectors._vectors import query_vector, rrf, top_k, where_mask

        vectors = self._dense(built)
        qvec = query_vector(self._need_embedder("dense search"), query)
        mask = None if where is None else where_mask(built.order, where)
        allowed = np.arange(len(built.order)) if mask is None else np.flatnonzero(mask)
        scores = vectors.matrix @ qvec
        if mode == "dense":
            return top_k(scores, allowed, k, built.order), qvec
        pool = max(HYBRID_DEPTH, 5 * k)
        sparse = self._bm25_top(built, query, pool, mask=mask)
        dense = top_k(scores, allowed, pool, built.order)
        fused = rrf([[c for c, _ in sparse], [c for c, _ in dense]], k, rrf_k)
        return fused, qvec

    def mmr(
        self,
        query: str | Sequence[float],
        hits: Sequence[tuple[Chunk, float]],
        k: int | None = None,
        *,
        lambda_mult: float = 0.7,
    ) -> list[tuple[Chunk, float]]:
        """Up to ``k`` of ``hits`` (all when None) in maximal-marginal-relevance order.

        Each pick maximises ``λ·relevance − (1−λ)·similarity``, the similarity being
        to the closest chunk already picked: ``lambda_mult=1`` keeps the relevance
        order, lower values push near-duplicates down. With an embedder (as in
        LangChain and LlamaIndex), relevance is the cosine similarity of ``query`` (a
        text, or its vector) to each chunk and similarity that between chunk vectors.
        A BM25-only index uses each hit's score divided by the best one, and the
        Jaccard similarity of the chunks' stemmed terms. Hits keep their scores.
        ``hits`` must come from this index (KeyError otherwise).
        """
        lam = _number("lambda_mult", lambda_mult, 0.0, 1.0)
        count = len(hits) if k is None else _whole("k", k)
        built = self._index()
        if isinstance(query, str) or self._embedder is None:
            return self._mmr(built, query if isinstance(query, str) else "", list(hits), count, lam)
        from crossroads.connectors._vectors import query_vector

        return self._mmr(built, query_vector(self._embedder, query), list(hits), count, lam)

    def _mmr(
        self,
        built: _Built,
        query: str | Matrix,
        hits: list[tuple[Chunk, float]],
        k: int,
        lambda_mult: float,
    ) -> list[tuple[Chunk, float]]:
        from crossroads.connectors._vectors import mmr_rerank, query_vector

        for chunk, _ in hits:
            if self._by_id.get(chunk.chunk_id) is None:
                raise KeyError(f"hit {chunk.chunk_id!r} is not a chunk of this index")
        vectors = qvec = None
        if self._embedder is not None:
            vectors = self._dense(built)
            qvec = query_vector(self._embedder, query) if isinstance(query, str) else query
        return mmr_rerank(hits, k, lambda_mult, vectors=vectors, query=qvec, terms=_terms)

    def _need_embedder(self, what: str) -> Embedder:
        if self._embedder is None:
            from crossroads.connectors._vectors import no_embedder

            raise no_embedder(what)
        return self._embedder

    def build(self) -> int:
        """Bring the index up to date now rather than at the next search: the BM25
        index and, with an embedder, the vectors of chunks not embedded yet (in one
        batch). Returns how many chunks were embedded."""
        built = self._index()
        if self._embedder is None:
            return 0
        return self._dense_update(built)[1]

    def _index(self) -> _Built:
        """The BM25 index of the current chunks, (re)built when documents changed."""
        with self._lock:  # writers wait: the build is labelled with the version it read
            built = self._built
            if built is None or built.version != self._version:
                version, order = self._version, tuple(self.chunks())
                built = _Built(self._bm25(order), order, version)
                self._built = built
            return built

    def _dense(self, built: _Built) -> Vectors:
        """The chunk vectors of ``built.order``."""
        return self._dense_update(built)[0]

    def _dense_update(self, built: _Built) -> tuple[Vectors, int]:
        """The chunk vectors of ``built.order``, embedding those missing; and how many
        were embedded."""
        from crossroads.connectors._vectors import build_vectors

        embedder = self._need_embedder("dense search")
        with self._vectors_lock:
            vectors = self._vectors
            if vectors is not None and vectors.version == built.version:
                return vectors, 0
            vectors, embedded = build_vectors(embedder, built.order, vectors, built.version)
            self._vectors = vectors
            return vectors, embedded

    def _bm25(self, order: Sequence[Chunk]) -> Any:
        tokens = _tokenize([f"{c.heading}\n{c.text}" for c in order], ids=True)
        if not any(tokens.ids):  # bm25s cannot index a corpus without a single term
            return None
        import bm25s

        retriever = bm25s.BM25(k1=self._k1, b=self._b, method="lucene")
        retriever.index(tokens, show_progress=False)
        return retriever

    # --- loaders -------------------------------------------------------------------------

    @classmethod
    def from_jsonl(
        cls,
        path: str | os.PathLike[str],
        *,
        id_field: str = "_id",
        text_fields: Sequence[str] = ("title", "text"),
        collection: str = "default",
        metadata_fields: Sequence[str] | None = None,
        max_chars: int = 1000,
        overlap: int = 150,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        embedder: Embedder | None = None,
    ) -> DocumentIndex:
        """An index of the documents of a JSONL file (one JSON object per line, UTF-8).

        A document's text is its non-empty ``text_fields`` joined by blank lines (a
        title becomes the first paragraph); its metadata the other top-level fields,
        or only ``metadata_fields`` when given, with the fields of a nested
        ``"metadata"`` object merged in (top-level fields win). Bad JSON, a missing
        id or text field, a text field that is not a string and a duplicate id raise
        ConfigError with the file and line; nothing is loaded then. ``embedder``
        enables dense and hybrid search (see :class:`DocumentIndex`).
        """
        index = cls(collection, max_chars=max_chars, overlap=overlap, k1=k1, b=b, embedder=embedder)
        index.add_jsonl(
            path, id_field=id_field, text_fields=text_fields, metadata_fields=metadata_fields
        )
        return index

    def add_jsonl(
        self,
        path: str | os.PathLike[str],
        *,
        id_field: str = "_id",
        text_fields: Sequence[str] = ("title", "text"),
        collection: str | None = None,
        metadata_fields: Sequence[str] | None = None,
    ) -> int:
        """Add (or replace) the documents of a JSONL file; see :meth:`from_jsonl`.
        Return how many documents changed."""
        records = read_jsonl(
            path, id_field=id_field, text_fields=text_fields, metadata_fields=metadata_fields
        )
        return self._add_records(records, collection, os.fspath(path))

    @classmethod
    def from_folder(
        cls,
        path: str | os.PathLike[str],
        *,
        collection: str = "default",
        patterns: Sequence[str] = ("*.txt", "*.md", "*.html", "*.htm"),
        max_chars: int = 1000,
        overlap: int = 150,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        embedder: Embedder | None = None,
    ) -> DocumentIndex:
        """An index of the files under a folder (searched recursively) matching ``patterns``.

        A document's id is its path relative to the folder (``sops/dosing.md``);
        its metadata ``path`` (the file's path), ``title`` (the first heading, an
        HTML page's ``<title>``, else the file name without suffix) and ``modified``
        (the file's modification time, UTC, ISO 8601). A Markdown or text file may
        start with a YAML front-matter block (``---`` lines around ``key: value``
        lines): its keys join the metadata (over the derived ones) and it is not
        part of the text. HTML is converted to text, its headings to ``#`` lines.
        Files and folders whose names start with ``.`` are skipped; files must be
        UTF-8.
        """
        index = cls(collection, max_chars=max_chars, overlap=overlap, k1=k1, b=b, embedder=embedder)
        index.add_folder(path, patterns=patterns)
        return index

    def add_folder(
        self,
        path: str | os.PathLike[str],
        *,
        collection: str | None = None,
        patterns: Sequence[str] = ("*.txt", "*.md", "*.html", "*.htm"),
    ) -> int:
        """Add (or replace) the files of a folder; see :meth:`from_folder`.
        Return how many documents changed."""
        return self._add_records(read_folder(path, patterns), collection, os.fspath(path))

    @classmethod
    def from_sql(
        cls,
        db: SQLBackend,
        table: str,
        *,
        id_column: str,
        text_columns: Sequence[str],
        metadata_columns: Sequence[str] | None = None,
        collection: str | None = None,
        max_rows: int = 100_000,
        max_chars: int = 1000,
        overlap: int = 150,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        embedder: Embedder | None = None,
    ) -> DocumentIndex:
        """An index of the rows of a table (or view), one document per row.

        The text is the non-empty ``text_columns`` joined by blank lines; the metadata
        the ``metadata_columns`` only (none when not named: metadata goes back to every
        reader of the document, so a column is never exposed by default). The collection is
        the table's name unless ``collection`` is given. Table and column names are
        checked against ``db.schema()`` (ConfigError listing the known ones) and
        quoted by sqlglot. A NULL or duplicate id, or more than ``max_rows`` rows,
        raises ConfigError.
        """
        found = db.schema().table(table)  # the name as the database spells it
        name = collection or (table if found is None else found.name)
        index = cls(name, max_chars=max_chars, overlap=overlap, k1=k1, b=b, embedder=embedder)
        index.add_sql(
            db,
            table,
            id_column=id_column,
            text_columns=text_columns,
            metadata_columns=metadata_columns,
            collection=collection,
            max_rows=max_rows,
        )
        return index

    def add_sql(
        self,
        db: SQLBackend,
        table: str,
        *,
        id_column: str,
        text_columns: Sequence[str],
        metadata_columns: Sequence[str] | None = None,
        collection: str | None = None,
        max_rows: int = 100_000,
    ) -> int:
        """Add (or replace) the rows of a table as documents; see :meth:`from_sql`.
        Return how many documents changed."""
        name, records = read_sql(
            db,
            table,
            id_column=id_column,
            text_columns=text_columns,
            metadata_columns=metadata_columns,
            max_rows=max_rows,
        )
        return self._add_records(records, collection or name, f"table {name!r}")

    def _add_records(self, records: Iterable[Record], collection: str | None, source: str) -> int:
        coll = self._collection if collection is None else _collection(collection)
        records = list(records)
        for r in records:  # check every record before adding any
            if r.metadata.get("collection", coll) != coll:
                raise ConfigError(
                    f"document {r.id!r} has a 'collection' field ({r.metadata['collection']!r}) "
                    f"that is not the collection it joins ({coll!r}); leave the field out "
                    "(metadata_fields=) or pass collection=",
                    file=source,
                )
        return sum(self.add(r.id, r.text, r.metadata, coll) for r in records)

    # --- persistence ---------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write the index to ``directory`` (created if needed) for :meth:`load`.

        ``manifest.json`` (format version, parameters, checksums), ``documents.jsonl``,
        ``chunks.jsonl``, the bm25s index in ``bm25/`` and, with an embedder, the
        chunk vectors in ``vectors.npy`` (chunks not embedded yet are embedded
        first). The manifest is written last and replaced atomically, so an
        interrupted save leaves no loadable half-index behind.
        """
        from crossroads.connectors._documents_store import save_index

        built = self._index()
        vectors = None if self._embedder is None else self._dense(built)
        save_index(self, Path(directory), built, vectors)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        embedder: Embedder | None = None,
        reembed: bool = False,
    ) -> DocumentIndex:
        """The index :meth:`save` wrote to ``directory``; searches give the same results.

        A missing, corrupt or incompatible directory raises ConfigError naming the
        file: build the index again from its sources and save it.

        Saved vectors are used only with an ``embedder``, which must be the one that
        made them (same name and dimension; ConfigError otherwise). ``reembed=True``
        drops them instead, and every chunk is embedded again with ``embedder`` at
        the first dense search (or :meth:`build`); save the index again to keep them.
        """
        from crossroads.connectors._documents_store import load_index

        return load_index(cls, Path(directory), embedder=embedder, reembed=reembed)

    def _restore(
        self,
        documents: Iterable[Document],
        chunks: Sequence[Chunk],
        retriever: Any,
        vectors: Matrix | None = None,
    ) -> None:
        """Fill an empty index with loaded documents, chunks, BM25 index and chunk vectors
        (rows in chunk order), for ``load`` only."""
        for doc in documents:
            self._docs[doc.id] = doc
            self._chunks[doc.id] = ()
        by_doc: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_doc.setdefault(c.doc_id, []).append(c)
        for doc_id, cs in by_doc.items():
            self._chunks[doc_id] = tuple(cs)
        self._by_id = {c.chunk_id: c for c in chunks}
        self._version += 1
        order = tuple(self.chunks())
        self._built = _Built(retriever, order, self._version)
        if vectors is not None:
            from crossroads.connectors._vectors import Vectors

            self._vectors = Vectors.of(vectors, order, self._version)


def _terms(texts: list[str]) -> list[list[str]]:
    """The BM25 terms of each text (lower-cased, stopwords out, stemmed)."""
    terms: list[list[str]] = _tokenize(texts, ids=False)
    return terms


def _check_embedder(embedder: object) -> Embedder | None:
    if embedder is None:
        return None
    from crossroads.connectors._vectors import check_embedder

    return check_embedder(embedder)


def _tokenize(texts: list[str], *, ids: bool) -> Any:
    import bm25s
    import Stemmer

    return bm25s.tokenize(
        texts,
        stopwords="en",
        stemmer=_stemmer(Stemmer),
        return_ids=ids,
        show_progress=False,
    )


_STEMMERS = threading.local()  # a PyStemmer Stemmer keeps a cache: one per thread


def _stemmer(module: Any) -> Any:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = module.Stemmer("english")
    return stemmer


def _whole(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key} must be a whole number ≥ 0, got {value!r}", key=key)
    return value


def _utf8(doc_id: str, text: str, metadata: Mapping[str, Any]) -> None:
    """Refuse text that cannot be saved (a lone surrogate from an escaped JSON string)."""
    try:
        text.encode("utf-8")
        json.dumps(metadata, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"document {doc_id!r} holds characters that are not valid Unicode text "
            f"({exc.reason} at position {exc.start}): fix the source, e.g. a lone "
            "'\\ud800' escape in JSON",
            key="text",
        ) from None


def _collection(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a collection name must be a non-empty string, got {name!r}")
    return name


def _number(key: str, value: object, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f"≥ {low:g}"
        raise ConfigError(f"{key} must be a number {bounds}, got {value!r}", key=key)
    return float(value)
