"""Dense retrieval for the document index: chunk vectors, top-k, rank fusion and MMR.

Chunk vectors are float32, scaled to unit length, one row per chunk in the index's
order, so a cosine similarity is one matrix-vector product. Each row is keyed by
its chunk id and a hash of the text it was embedded from (:func:`vector_text`):
when documents change, only chunks whose id or text changed are embedded again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from crossroads.connectors.base import Chunk, Embedder
from crossroads.errors import ConfigError

__all__ = [
    "Matrix",
    "Vectors",
    "build_vectors",
    "check_embedder",
    "embed_matrix",
    "embedder_name",
    "jaccard_matrix",
    "mmr_order",
    "mmr_rerank",
    "no_embedder",
    "normalise",
    "query_vector",
    "rrf",
    "text_key",
    "top_k",
    "vector_text",
    "where_mask",
]

Matrix = npt.NDArray[np.float32]


def vector_text(chunk: Chunk) -> str:
    """The text a chunk is embedded from: its heading path, a newline, its text."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


def text_key(text: str) -> str:
    """A short, stable hash of ``text``: a stored vector is reused only while it matches."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def embedder_name(embedder: Embedder) -> str:
    """The embedder's ``name`` when it has one, else its class's qualified name."""
    name = getattr(embedder, "name", None)
    if isinstance(name, str) and name:
        return name
    kind = type(embedder)
    return f"{kind.__module__}.{kind.__qualname__}"


def check_embedder(embedder: object) -> Embedder:
    """``embedder`` if it has the Embedder protocol's members, else ConfigError."""
    # Checked on the class: on Python 3.11 isinstance(x, Embedder) reads x.dimension,
    # which may cost a request (OpenAIEmbeddings learns its dimension from one).
    kind = type(embedder)
    if not (callable(getattr(kind, "embed", None)) and hasattr(kind, "dimension")):
        raise ConfigError(
            f"embedder must have a dimension and an embed(texts) method (the Embedder "
            f"protocol), got {kind.__name__}",
            key="embedder",
        )
    return embedder  # type: ignore[return-value]


def no_embedder(what: str) -> ConfigError:
    """The error for a dense operation on an index without an embedder."""
    return ConfigError(
        f"{what} needs an embedder, and this index has none. Make the index with "
        "embedder=SentenceTransformerEmbedder() (pip install 'crossroads[dense]') or "
        "embedder=OpenAIEmbeddings(model, base_url=...), e.g. DocumentIndex(..., "
        "embedder=...), DocumentIndex.from_jsonl(..., embedder=...) or "
        "DocumentIndex.load(path, embedder=...)",
        key="embedder",
    )


@dataclass(frozen=True, slots=True)
class Vectors:
    """Unit-length chunk vectors: row i belongs to the i-th chunk of the index's order.

    ``keys[i]`` is the :func:`text_key` of that chunk's :func:`vector_text`;
    ``rows`` maps chunk ids to rows; ``version`` is the index version they match.
    """

    matrix: Matrix
    ids: tuple[str, ...]
    keys: tuple[str, ...]
    rows: Mapping[str, int]
    version: int

    @classmethod
    def of(cls, matrix: Matrix, order: Sequence[Chunk], version: int) -> Vectors:
        """Vectors for ``order`` whose rows are ``matrix`` (already unit length)."""
        ids = tuple(c.chunk_id for c in order)
        keys = tuple(text_key(vector_text(c)) for c in order)
        return cls(matrix, ids, keys, {cid: i for i, cid in enumerate(ids)}, version)


def embed_matrix(embedder: Embedder, texts: Sequence[str]) -> Matrix:
    """``texts`` embedded as unit-length float32 rows; ConfigError when the embedder
    answers with the wrong number or size of vectors, or with NaN."""
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    raw = embedder.embed(list(texts))
    dimension = embedder.dimension  # after embedding: an endpoint may learn it from the answer
    who = embedder_name(embedder)
    if len(raw) != len(texts):
        raise ConfigError(
            f"the embedder {who!r} returned {len(raw)} vectors for {len(texts)} texts"
        )
    try:
        matrix = np.asarray(raw, dtype=np.float32)
    except ValueError as exc:  # ragged rows
        raise ConfigError(f"the embedder {who!r} returned vectors of different sizes") from exc
    if matrix.shape != (len(texts), dimension):
        raise ConfigError(
            f"the embedder {who!r} says its dimension is {dimension} but returned vectors "
            f"of shape {matrix.shape[1:]}"
        )
    if not np.isfinite(matrix).all():
        raise ConfigError(f"the embedder {who!r} returned NaN or infinite values")
    return normalise(matrix)


def query_vector(embedder: Embedder, query: str | Sequence[float]) -> Matrix:
    """A query as a unit-length vector: a text embedded, or a vector checked and scaled."""
    if isinstance(query, str):
        vector: Matrix = embed_matrix(embedder, [query])[0]
        return vector
    row = np.asarray(query, dtype=np.float32).reshape(1, -1)
    if row.shape[1] != embedder.dimension or not np.isfinite(row).all():
        raise ConfigError(
            f"the query vector must hold {embedder.dimension} finite numbers, the embedder's "
            f"dimension; got {row.shape[1]}",
            key="query",
        )
    unit: Matrix = normalise(row)[0]
    return unit


def normalise(matrix: Matrix) -> Matrix:
    """Rows scaled to unit length (an all-zero row stays zero: similar to nothing)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Matrix = (matrix / norms).astype(np.float32, copy=False)
    return out


def build_vectors(
    embedder: Embedder, order: Sequence[Chunk], previous: Vectors | None, version: int
) -> tuple[Vectors, int]:
    """Vectors for ``order``, reusing ``previous`` rows whose chunk id and text are
    unchanged and embedding the rest in one call; also the number embedded."""
    fresh = Vectors.of(np.empty((0, 0), dtype=np.float32), order, version)
    reuse: list[tuple[int, int]] = []  # (new row, old row)
    missing: list[int] = []
    for i, (cid, key) in enumerate(zip(fresh.ids, fresh.keys, strict=True)):
        old = previous.rows.get(cid) if previous is not None else None
        if previous is not None and old is not None and previous.keys[old] == key:
            reuse.append((i, old))
        else:
            missing.append(i)
    if missing or previous is None:
        embedded = embed_matrix(embedder, [vector_text(order[i]) for i in missing])
    else:  # nothing to embed: the embedder is not even asked its dimension
        embedded = previous.matrix[:0]
    matrix = np.empty((len(order), embedded.shape[1]), dtype=np.float32)
    if reuse and previous is not None:
        new_rows, old_rows = (np.asarray(r, dtype=np.intp) for r in zip(*reuse, strict=True))
        matrix[new_rows] = previous.matrix[old_rows]
    if missing:
        matrix[np.asarray(missing, dtype=np.intp)] = embedded
    return Vectors(matrix, fresh.ids, fresh.keys, fresh.rows, version), len(missing)


def top_k(
    scores: npt.NDArray[Any], candidates: npt.NDArray[np.intp], k: int, order: Sequence[Chunk]
) -> list[tuple[Chunk, float]]:
    """The ``k`` best ``candidates`` (rows of ``order``) by ``scores``, best first, ties
    broken by chunk id."""
    if k <= 0 or len(candidates) == 0:
        return []
    if len(candidates) > k:  # the k best, plus any tied with the k-th so ids break the tie
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]
    ranked = sorted(
        ((float(scores[i]), order[i]) for i in candidates.tolist()),
        key=lambda sc: (-sc[0], sc[1].chunk_id),
    )
    return [(chunk, score) for score, chunk in ranked[:k]]


def rrf(rankings: Sequence[Sequence[Chunk]], k: int, rrf_k: float) -> list[tuple[Chunk, float]]:
    """Reciprocal rank fusion: a chunk scores the sum of ``1 / (rrf_k + rank)`` over the
    rankings it appears in (rank from 1); the ``k`` best, ties broken by chunk id."""
    fused: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking in rankings:
        for rank, chunk in enumerate(ranking, start=1):
            fused[chunk.chunk_id] = fused.get(chunk.chunk_id, 0.0) + 1.0 / (rrf_k + rank)
            chunks[chunk.chunk_id] = chunk
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [(chunks[cid], score) for cid, score in best]


def mmr_order(
    relevance: npt.NDArray[np.float64],
    similarity: npt.NDArray[np.float64],
    k: int,
    lambda_mult: float,
) -> list[int]:
    """Maximal marginal relevance: greedily pick the candidate maximising
    ``λ·relevance − (1−λ)·(its highest similarity to those already picked)``.

    ``similarity`` is the candidates' pairwise similarity matrix. Returns up to ``k``
    candidate positions in pick order; ties go to the earlier candidate.
    """
    n = len(relevance)
    picked: list[int] = []
    if n == 0 or k <= 0:
        return picked
    closest = np.zeros(n)  # each candidate's highest similarity to a picked one
    free = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        gain = lambda_mult * relevance - (1.0 - lambda_mult) * closest
        gain[~free] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        free[best] = False
        closest = np.maximum(closest, similarity[best])
    return picked


def mmr_rerank(
    hits: Sequence[tuple[Chunk, float]],
    k: int,
    lambda_mult: float,
    *,
    vectors: Vectors | None,
    query: Matrix | None,
    terms: Callable[[list[str]], list[list[str]]],
) -> list[tuple[Chunk, float]]:
    """``hits`` in MMR order, at most ``k``. With ``vectors`` and a ``query`` vector:
    relevance is cosine to the query, similarity cosine between chunks. Without:
    relevance is the score over the best score, similarity the Jaccard similarity of
    the chunks' ``terms``."""
    if vectors is not None and query is not None:
        rows = vectors.matrix[[vectors.rows[chunk.chunk_id] for chunk, _ in hits]]
        candidates = rows.astype(np.float64)
        relevance = candidates @ query.astype(np.float64)
        similarity = candidates @ candidates.T
    else:
        scores = np.asarray([score for _, score in hits], dtype=np.float64)
        best = scores.max() if len(scores) else 0.0
        relevance = scores / best if best > 0 else np.ones(len(scores))
        token_sets = terms([vector_text(chunk) for chunk, _ in hits])
        similarity = jaccard_matrix([frozenset(t) for t in token_sets])
    return [hits[i] for i in mmr_order(relevance, similarity, k, lambda_mult)]


def jaccard_matrix(token_sets: Sequence[frozenset[str]]) -> npt.NDArray[np.float64]:
    """Pairwise Jaccard similarity of token sets (two empty sets: 0)."""
    n = len(token_sets)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            union = len(token_sets[i] | token_sets[j])
            value = len(token_sets[i] & token_sets[j]) / union if union else 0.0
            out[i, j] = out[j, i] = value
    return out


def where_mask(order: Sequence[Chunk], where: Callable[[Chunk], bool]) -> npt.NDArray[np.bool_]:
    """``where`` evaluated once on every chunk, as a boolean row mask."""
    return np.fromiter((bool(where(c)) for c in order), dtype=bool, count=len(order))
