"""Dense and hybrid search in the document index, MMR, re-embedding and persisted vectors.

The embedder is a deterministic test double defined here: a hashed bag of words
that folds a few synonyms together, so that dense search finds what BM25 cannot.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from crossroads.connectors import Chunk, DocumentIndex, DocumentStore, Embedder
from crossroads.errors import ConfigError

_WORD = re.compile(r"[a-z]+")
_STOP = frozenset({"a", "an", "and", "the", "to", "of", "is", "it", "at", "in", "on", "for"})
_SYNONYMS = {"car": "automobile", "cars": "automobile", "loaf": "bread"}


class HashingEmbedder:
    """A bag of words hashed into ``dimension`` buckets (md5, so stable across runs).

    Records every call, so tests can tell which texts were embedded.
    """

    def __init__(self, dimension: int = 256, name: str = "test:hashing-bow") -> None:
        self._dimension = dimension
        self.name = name
        self.calls: list[list[str]] = []

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            vector = [0.0] * self._dimension
            for word in _WORD.findall(text.lower()):
                if word not in _STOP:
                    word = _SYNONYMS.get(word, word)
                    vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self._dimension] += 1
            out.append(vector)
        return out

    @property
    def embedded(self) -> list[str]:
        """Every text embedded so far, in order."""
        return [t for call in self.calls for t in call]


DOCS = {
    "cars": ("The automobile needs new tyres and an oil change.", {"region": "EU"}),
    "engine": ("A car engine burns fuel to turn the wheels.", {"region": "US"}),
    "bread": ("Bake the bread at high heat until the crust is brown.", {"region": "EU"}),
    "cake": ("Bake the cake slowly in a cool oven for an hour.", {"region": "US"}),
}


def _index(embedder: Embedder | None = None, **kwargs: object) -> DocumentIndex:
    index = DocumentIndex("garage", embedder=embedder, **kwargs)  # type: ignore[arg-type]
    for doc_id, (text, meta) in DOCS.items():
        index.add(doc_id, text, meta)
    return index


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def index(embedder: HashingEmbedder) -> DocumentIndex:
    return _index(embedder)


def _ids(hits: Sequence[tuple[Chunk, float]]) -> list[str]:
    return [c.doc_id for c, _ in hits]


# --- modes ------------------------------------------------------------------------------------


def test_the_test_embedder_is_an_embedder_and_the_index_a_store(index: DocumentIndex) -> None:
    assert isinstance(HashingEmbedder(), Embedder)
    assert isinstance(index, DocumentStore)
    assert "embedder='test:hashing-bow'" in repr(index)


def test_bm25_stays_the_default_and_never_embeds(
    index: DocumentIndex, embedder: HashingEmbedder
) -> None:
    plain = _index()
    for query in ("car engine", "bake bread", "automobile"):
        assert index.search(query) == index.search(query, mode="bm25") == plain.search(query)
    assert embedder.calls == []


def test_dense_finds_a_synonym_that_bm25_misses(index: DocumentIndex) -> None:
    assert _ids(index.search("automobile")) == ["cars"]
    hits = index.search("automobile", mode="dense")
    assert sorted(_ids(hits[:2])) == ["cars", "engine"]
    assert len(hits) == len(index)  # every chunk has a score
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 + 1e-6 for s in scores)
    assert hits[0][1] == pytest.approx(1 / np.sqrt(6))  # "automobile" vs 6 distinct words


def test_dense_scores_are_cosine_similarities(
    index: DocumentIndex, embedder: HashingEmbedder
) -> None:
    [(chunk, score)] = index.search("oil change tyres", 1, mode="dense")
    a, b = (np.asarray(v) for v in embedder.embed(["oil change tyres", chunk.text]))
    assert score == pytest.approx(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))


def test_dense_ties_break_by_chunk_id_and_blank_queries_find_nothing(
    index: DocumentIndex,
) -> None:
    hits = index.search("zebra", 3, mode="dense")  # no shared word: every score is 0
    assert [c.chunk_id for c, _ in hits] == ["bread#0", "cake#0", "cars#0"]
    assert index.search("   ", mode="dense") == index.search("", mode="hybrid") == []
    assert index.search("bread", 0, mode="dense") == []
    assert DocumentIndex(embedder=HashingEmbedder()).search("bread", mode="hybrid") == []


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_where_is_applied_to_every_chunk_before_the_top_k(index: DocumentIndex, mode: str) -> None:
    seen: list[str] = []

    def us_only(chunk: Chunk) -> bool:
        seen.append(chunk.chunk_id)
        return chunk.metadata["region"] == "US"

    best = index.search("automobile tyres", 1, mode=mode)  # type: ignore[arg-type]
    assert _ids(best) == ["cars"]
    hits = index.search("automobile tyres", 1, where=us_only, mode=mode)  # type: ignore[arg-type]
    assert _ids(hits) == ["engine"]  # the best allowed chunk, not nothing
    assert sorted(seen) == sorted(c.chunk_id for c in index.chunks())  # once per chunk
    everything = index.search("automobile", 10, where=us_only, mode=mode)  # type: ignore[arg-type]
    assert {c.metadata["region"] for c, _ in everything} == {"US"}
    diverse = index.search("automobile", 10, where=us_only, mode=mode, mmr=0.5)  # type: ignore[arg-type]
    assert {c.metadata["region"] for c, _ in diverse} == {"US"}


def test_hybrid_is_reciprocal_rank_fusion_of_the_two_rankings(index: DocumentIndex) -> None:
    query = "bake the bread in the automobile"
    sparse = [c.chunk_id for c, _ in index.search(query, 100)]
    dense = [c.chunk_id for c, _ in index.search(query, 100, mode="dense")]
    for rrf_k in (60, 1):
        expected: dict[str, float] = {}
        for ranking in (sparse, dense):
            for rank, cid in enumerate(ranking, start=1):
                expected[cid] = expected.get(cid, 0.0) + 1 / (rrf_k + rank)
        hits = index.search(query, 10, mode="hybrid", rrf_k=rrf_k)
        assert {c.chunk_id: s for c, s in hits} == pytest.approx(expected)
        assert [s for _, s in hits] == sorted(expected.values(), reverse=True)
    assert _ids(index.search(query, 1, mode="hybrid")) == ["bread"]  # first in both


def test_hybrid_fuses_the_filtered_rankings(index: DocumentIndex) -> None:
    def eu(chunk: Chunk) -> bool:
        return chunk.metadata["region"] == "EU"

    query = "car bake"
    sparse = [c.chunk_id for c, _ in index.search(query, 100, where=eu)]
    dense = [c.chunk_id for c, _ in index.search(query, 100, where=eu, mode="dense")]
    expected = dict.fromkeys(sparse + dense, 0.0)
    for ranking in (sparse, dense):
        for rank, cid in enumerate(ranking, start=1):
            expected[cid] += 1 / (60 + rank)
    hits = index.search(query, 10, where=eu, mode="hybrid")
    assert {c.chunk_id: s for c, s in hits} == pytest.approx(expected)
    assert set(_ids(hits)) <= {"cars", "bread"}


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_dense_modes_without_an_embedder_say_how_to_configure_one(mode: str) -> None:
    with pytest.raises(ConfigError, match=r"needs an embedder") as info:
        _index().search("bread", mode=mode)  # type: ignore[arg-type]
    assert "embedder=SentenceTransformerEmbedder()" in str(info.value)
    assert "pip install 'crossroads[dense]'" in str(info.value)
    assert "OpenAIEmbeddings" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sparse"}, "mode must be one of 'bm25', 'dense', 'hybrid'"),
        ({"rrf_k": -1}, "rrf_k must be a number"),
        ({"mmr": 1.5}, "mmr must be a number between 0 and 1"),
        ({"mmr": 0.5, "fetch_k": 1}, r"fetch_k \(1\) must be ≥ k \(10\)"),
        ({"fetch_k": 20}, "pass mmr= too"),
        ({"k": -1}, "k must be a whole number"),
    ],
)
def test_bad_search_arguments_are_config_errors(
    index: DocumentIndex, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        index.search("bread", **kwargs)  # type: ignore[arg-type]


class _Nameless:
    dimension = 4

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


def test_an_embedder_without_a_name_is_known_by_its_class(tmp_path: Path) -> None:
    index = DocumentIndex(embedder=_Nameless())
    index.add("d", "some text")
    assert f"embedder='{__name__}._Nameless'" in repr(index)
    index.save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["vectors"]["embedder"] == f"{__name__}._Nameless"


def test_an_object_that_is_not_an_embedder_is_refused() -> None:
    with pytest.raises(ConfigError, match="Embedder protocol"):
        DocumentIndex(embedder="minilm")  # type: ignore[arg-type]


class _Broken(HashingEmbedder):
    def __init__(self, fault: str) -> None:
        super().__init__(dimension=8, name="test:broken")
        self.fault = fault

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = super().embed(texts)
        if self.fault == "count":
            return vectors[:-1]
        if self.fault == "size":
            return [[*v, 0.0] for v in vectors]
        return [[float("nan")] * 8 for _ in vectors]


@pytest.mark.parametrize(
    ("fault", "message"),
    [("count", "returned 3 vectors for 4 texts"), ("size", "dimension is 8"), ("nan", "NaN")],
)
def test_an_embedder_answering_wrongly_is_a_config_error(fault: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _index(_Broken(fault)).build()


# --- re-embedding -----------------------------------------------------------------------------

LONG = (
    "# Dosing\n\nTake one tablet of examplol a day with food and water.\n\n"
    "# Storage\n\nKeep the tablets below 25 degrees, away from light.\n"
)


def test_only_new_or_changed_chunks_are_embedded(
    index: DocumentIndex, embedder: HashingEmbedder
) -> None:
    assert index.build() == 4
    assert index.build() == 0
    index.search("bread", mode="dense")
    assert embedder.embedded[-1] == "bread"  # only the query
    assert not index.add("bread", *DOCS["bread"])  # unchanged: nothing to do
    assert index.add("bread", DOCS["bread"][0], {"region": "US"})  # metadata only
    assert index.build() == 0

    index.add("label", LONG)
    assert [c.heading for c in index.chunks("label")] == ["Dosing", "Storage"]
    assert index.build() == 2
    index.add("label", LONG.replace("25 degrees", "30 degrees"))
    embedder.calls.clear()
    assert index.build() == 1
    assert embedder.embedded == ["Storage\nKeep the tablets below 30 degrees, away from light."]
    [(top, _)] = index.search("30 degrees", 1, mode="dense")
    assert top.chunk_id == "label#1"
    assert "30 degrees" in top.text

    index.remove("cake")
    assert index.build() == 0
    assert all(c.doc_id != "cake" for c, _ in index.search("cake oven", 10, mode="dense"))


def test_a_search_embeds_pending_chunks_in_one_batch(
    index: DocumentIndex, embedder: HashingEmbedder
) -> None:
    index.search("bread", mode="hybrid")
    assert [len(call) for call in embedder.calls] == [4, 1]  # the chunks, then the query


# --- MMR --------------------------------------------------------------------------------------

TWINS = {
    "a": "Examplol lowers blood pressure in adults with hypertension quickly.",
    "a2": "Examplol lowers blood pressure in adults with hypertension rapidly.",
    "b": "Examplol may cause a dry cough; blood pressure checks are advised.",
}


def _twins(embedder: Embedder | None) -> DocumentIndex:
    index = DocumentIndex(embedder=embedder)
    for doc_id, text in TWINS.items():
        index.add(doc_id, text)
    return index


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_mmr_keeps_a_near_duplicate_out(mode: str) -> None:
    index = _twins(HashingEmbedder() if mode != "bm25" else None)
    query = "examplol lowers blood pressure hypertension"
    plain = index.search(query, 2, mode=mode)  # type: ignore[arg-type]
    assert sorted(_ids(plain)) == ["a", "a2"]
    diverse = index.search(query, 2, mode=mode, mmr=0.3)  # type: ignore[arg-type]
    assert _ids(diverse)[1] == "b"
    assert _ids(diverse)[0] == _ids(plain)[0]
    assert dict(diverse)[diverse[0][0]] == plain[0][1]  # hits keep the mode's scores
    assert index.search(query, 3, mode=mode, mmr=1.0) == index.search(query, 3, mode=mode)  # type: ignore[arg-type]


def test_mmr_as_a_method_reranks_given_hits() -> None:
    index = _twins(HashingEmbedder())
    query = "examplol lowers blood pressure hypertension"
    hits = index.search(query, 3, mode="dense")
    reranked = index.mmr(query, hits, 2, lambda_mult=0.5)
    assert reranked == index.search(query, 2, mode="dense", mmr=0.5, fetch_k=3)
    assert len(index.mmr(query, hits)) == 3  # k=None: all, in MMR order
    vector = HashingEmbedder().embed([query])[0]
    assert index.mmr(vector, hits, 2, lambda_mult=0.5) == reranked
    with pytest.raises(ConfigError, match="256 finite numbers"):
        index.mmr([1.0, 2.0], hits, 2)
    stranger = Chunk("zz#0", "zz", "default", "text", 0, 4, "")
    with pytest.raises(KeyError, match="not a chunk of this index"):
        index.mmr(query, [*hits, (stranger, 0.1)], 2)


# --- persistence ------------------------------------------------------------------------------


def test_vectors_are_saved_and_loaded_without_re_embedding(
    index: DocumentIndex, tmp_path: Path
) -> None:
    queries = ["automobile", "bake bread", "car bake oven"]
    before = {(q, m): index.search(q, 3, mode=m) for q in queries for m in ("dense", "hybrid")}
    index.save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["vectors"]["embedder"] == "test:hashing-bow"
    assert manifest["vectors"]["dimension"] == 256
    assert manifest["vectors"]["rows"] == 4
    assert "vectors.npy" in manifest["sha256"]
    matrix = np.load(tmp_path / "idx" / "vectors.npy")
    assert matrix.dtype == np.float32
    assert np.linalg.norm(matrix, axis=1) == pytest.approx(1.0)

    fresh = HashingEmbedder()
    loaded = DocumentIndex.load(tmp_path / "idx", embedder=fresh)
    after = {(q, m): loaded.search(q, 3, mode=m) for q in queries for m in ("dense", "hybrid")}
    assert after == before
    assert loaded.build() == 0
    assert set(fresh.embedded) == set(queries)  # queries only: no chunk re-embedded


def test_saving_embeds_pending_chunks_first(index: DocumentIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "idx")
    assert np.load(tmp_path / "idx" / "vectors.npy").shape == (4, 256)


@pytest.mark.parametrize(
    "other", [HashingEmbedder(name="test:other"), HashingEmbedder(dimension=128)]
)
def test_loading_with_another_embedder_says_to_re_embed(
    index: DocumentIndex, tmp_path: Path, other: HashingEmbedder
) -> None:
    index.save(tmp_path / "idx")
    with pytest.raises(ConfigError, match="reembed=True") as info:
        DocumentIndex.load(tmp_path / "idx", embedder=other)
    assert "'test:hashing-bow' (dimension 256)" in str(info.value)
    assert info.value.file == str(tmp_path / "idx" / "manifest.json")

    loaded = DocumentIndex.load(tmp_path / "idx", embedder=other, reembed=True)
    assert loaded.build() == 4
    assert len(other.embedded) == 4
    loaded.save(tmp_path / "idx")
    DocumentIndex.load(tmp_path / "idx", embedder=other)  # now it matches


def test_a_changed_vectors_file_is_refused(index: DocumentIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "idx")
    path = tmp_path / "idx" / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="checksum") as info:
        DocumentIndex.load(tmp_path / "idx", embedder=HashingEmbedder())
    assert info.value.file == str(path)
    path.unlink()
    with pytest.raises(ConfigError, match="missing"):
        DocumentIndex.load(tmp_path / "idx", embedder=HashingEmbedder())


def test_loading_without_an_embedder_keeps_bm25(index: DocumentIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "idx")
    loaded = DocumentIndex.load(tmp_path / "idx")
    assert loaded.embedder is None
    assert loaded.search("bake bread") == index.search("bake bread")
    with pytest.raises(ConfigError, match="needs an embedder"):
        loaded.search("bread", mode="dense")
    loaded.save(tmp_path / "idx")  # saved without an embedder: the vectors go
    assert not (tmp_path / "idx" / "vectors.npy").exists()
    assert "vectors" not in json.loads((tmp_path / "idx" / "manifest.json").read_text())


def test_an_index_saved_without_vectors_embeds_when_loaded_with_an_embedder(
    tmp_path: Path,
) -> None:
    _index().save(tmp_path / "idx")
    embedder = HashingEmbedder()
    loaded = DocumentIndex.load(tmp_path / "idx", embedder=embedder)
    assert _ids(loaded.search("automobile", 2, mode="dense")) == ["cars", "engine"]
    assert len(embedder.calls[0]) == 4
