"""Building a RAG: bounds on k, depth, min_overlap and max_sentences, the runner and its
catalog, the model; the tools it registers and the principal every call needs."""

from __future__ import annotations

from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.errors import ConfigError
from crossroads.policy import Catalog, Principal
from crossroads.tools import ToolRunner
from crossroads.tools.rag import RAG, RAGAskTool, RAGRetrieveTool

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
ROOT = Principal("root", groups=["admins"])


def rag_over(index: DocumentIndex, catalog: Catalog, **options: Any) -> RAG:
    return RAG(index, catalog, audit=AuditLog.memory(), **options)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"k": 0}, "need 1 <= k <= depth"),
        ({"k": -3}, "need 1 <= k <= depth"),
        ({"k": 10, "depth": 5}, "k=10, depth=5"),
        ({"min_overlap": 0}, "min_overlap must be in (0, 1]"),
        ({"min_overlap": -0.5}, "min_overlap must be in (0, 1]"),
        ({"min_overlap": 1.01}, "min_overlap must be in (0, 1]"),
    ],
)
def test_bounds_are_checked(
    index: DocumentIndex, catalog: Catalog, options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        rag_over(index, catalog, **options)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "options", [{"k": 1, "depth": 1}, {"k": 7, "depth": 7}, {"min_overlap": 1.0}, {}]
)
def test_values_at_the_bounds_are_accepted(
    index: DocumentIndex, catalog: Catalog, options: dict[str, Any]
) -> None:
    rag = rag_over(index, catalog, **options)
    assert rag.ask("Which inhibitors raise Cardiozol exposure?", EVA).sources


def test_defaults(index: DocumentIndex, catalog: Catalog) -> None:
    rag = rag_over(index, catalog)
    assert (rag.k, rag.depth, rag.search, rag.max_sentences, rag.min_overlap) == (
        5,
        20,
        "bm25",
        3,
        0.5,
    )
    assert (rag.reranker, rag.llm, rag.collections) == (None, None, None)
    assert len(rag.ask("Cardiozol", ROOT).hits) == 5


@pytest.mark.parametrize("options", [{"k": 1001, "depth": 1001}, {"k": 5, "depth": 5000}])
def test_k_and_depth_beyond_what_retrieve_accepts_are_refused(
    index: DocumentIndex, catalog: Catalog, options: dict[str, Any]
) -> None:
    # Regression: crossroads/tools/rag/_rag.py:284 accepts any k <= depth, but rag.retrieve takes
    # k <= 1000, and ask retrieves k (or depth with a reranker): every ask of such
    # a RAG fails with "bad arguments for tool 'rag.retrieve'". Fix: check depth <= 1000 (the
    # retrieve tool's limit) in __init__, or raise the tool's limit.
    reranker = type("Keep", (), {"rerank": lambda self, query, hits: list(hits)})()
    with pytest.raises(ConfigError):
        rag_over(index, catalog, reranker=reranker, **options)


@pytest.mark.parametrize("max_sentences", [0, -1])
def test_max_sentences_must_be_positive(
    index: DocumentIndex, catalog: Catalog, max_sentences: int
) -> None:
    # Regression: crossroads/tools/rag/_rag.py:281 never checks max_sentences; with 0 every
    # extractive answer is an empty text with no sources ("\n\nSources:\n") instead of an
    # answer or CannotAnswer. Fix: raise ConfigError unless max_sentences >= 1.
    with pytest.raises(ConfigError):
        rag_over(index, catalog, max_sentences=max_sentences)


def test_a_runner_with_another_catalog_is_refused(index: DocumentIndex, catalog: Catalog) -> None:
    runner = ToolRunner(Catalog(), audit=AuditLog.memory())
    with pytest.raises(ConfigError, match="share one catalog"):
        RAG(index, catalog, runner=runner)
    assert runner.tools == {}  # nothing registered on the way out


def test_a_shared_runner_gets_both_tools(index: DocumentIndex, catalog: Catalog) -> None:
    audit = AuditLog.memory()
    runner = ToolRunner(catalog, audit=audit)
    rag = RAG(index, catalog, runner=runner)
    assert rag.runner is runner
    assert isinstance(runner.tools["rag.retrieve"], RAGRetrieveTool)
    assert isinstance(runner.tools["rag.ask"], RAGAskTool)
    result = runner.call("rag.retrieve", {"query": "ketoconazole", "k": 2}, principal=EVA)
    assert [h.chunk_id for h in result.value] == ["label-cardiozol-eu#2"]
    assert result.permit.rule == "rag.document_rules"
    answer = runner.call("rag.ask", {"question": "Which inhibitors raise exposure?"}, principal=EVA)
    assert answer.value.sources[0].chunk_id == "label-cardiozol-eu#2"
    assert {e.name for e in audit.events()} == {"rag.retrieve", "rag.ask"}


def test_a_model_without_complete_is_refused(index: DocumentIndex, catalog: Catalog) -> None:
    with pytest.raises(ConfigError):
        rag_over(index, catalog, llm="gpt-4o-mini")


def test_every_call_needs_a_principal(index: DocumentIndex, catalog: Catalog) -> None:
    rag = rag_over(index, catalog)
    with pytest.raises(ConfigError, match="needs a Principal"):
        rag.retrieve("Cardiozol", "eva")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a Principal"):
        rag.ask("Cardiozol", None)  # type: ignore[arg-type]
