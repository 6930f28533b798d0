"""Rerankers: a reranker sees the first ``depth`` permitted hits, its order decides what
the answer is drawn from (the best ``k``), a note says so; a reranker must have
``rerank(query, hits)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer, ConfigError
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG, Hit, Reranker

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
QUESTION = "What is the daily dose of Cardiozol?"  # the Dosing chunk ranks first


class HeadingFirst:
    """Puts hits under one heading first; remembers what it was given."""

    def __init__(self, heading: str) -> None:
        self.heading = heading
        self.seen: list[tuple[str, list[Hit]]] = []

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        self.seen.append((query, list(hits)))
        return sorted(hits, key=lambda h: h.heading != self.heading)


class DropAll:
    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        return []


def rag_over(index: DocumentIndex, catalog: Catalog, **options: Any) -> RAG:
    return RAG(index, catalog, audit=AuditLog.memory(), **options)


def test_without_a_reranker_the_best_bm25_chunk_answers(
    index: DocumentIndex, catalog: Catalog
) -> None:
    answer = rag_over(index, catalog, k=1).ask(QUESTION, EVA)
    assert [h.chunk_id for h in answer.hits] == ["label-cardiozol-eu#0"]
    assert answer.sources[0].heading == "Dosing"
    assert answer.notes == ()


def test_the_reranker_decides_what_is_answered_from(index: DocumentIndex, catalog: Catalog) -> None:
    reranker = HeadingFirst("Dosing › Renal impairment")
    assert isinstance(reranker, Reranker)
    rag = rag_over(index, catalog, k=1, depth=20, reranker=reranker)
    answer = rag.ask(QUESTION, EVA)
    assert [h.chunk_id for h in answer.hits] == ["label-cardiozol-eu#1"]
    assert {s.chunk_id for s in answer.sources} == {"label-cardiozol-eu#1"}
    assert answer.notes == ("reranked by HeadingFirst",)
    ((query, given),) = reranker.seen
    assert query == QUESTION
    # it saw every permitted hit (fewer than depth), best BM25 first, none forbidden
    assert given == rag.retrieve(QUESTION, EVA, k=20)
    assert given[0].chunk_id == "label-cardiozol-eu#0"
    assert {h.metadata["region"] for h in given} == {"EU"}


def test_the_reranker_gets_depth_hits_and_the_answer_k(
    index: DocumentIndex, catalog: Catalog
) -> None:
    reranker = HeadingFirst("Interactions")
    root = Principal("root", groups=["admins"])
    rag = rag_over(index, catalog, k=2, depth=3, reranker=reranker)
    answer = rag.ask("Cardiozol", root)
    ((_, given),) = reranker.seen
    assert len(given) == 3
    assert len(answer.hits) == 2


def test_a_reranker_that_drops_everything_cannot_be_answered(
    index: DocumentIndex, catalog: Catalog
) -> None:
    with pytest.raises(CannotAnswer):
        rag_over(index, catalog, reranker=DropAll()).ask(QUESTION, EVA)


def test_the_reranker_note_survives_llm_mode(index: DocumentIndex, catalog: Catalog) -> None:
    # Regression: crossroads/tools/rag/_rag.py:372 returns the model's answer as it is, dropping the
    # notes gathered so far ("reranked by …"); the extractive path keeps them. Fix: return
    # dataclasses.replace(written, notes=(*notes, *written.notes)).
    llm = ScriptedLLM(["Halve the dose in severe renal impairment [1]."])
    rag = rag_over(index, catalog, k=1, reranker=HeadingFirst("Dosing › Renal impairment"), llm=llm)
    answer = rag.ask(QUESTION, EVA)
    assert answer.mode == "llm"
    assert answer.sources[0].chunk_id == "label-cardiozol-eu#1"  # reranked: passage [1]
    assert "reranked by HeadingFirst" in answer.notes


@pytest.mark.parametrize("reranker", [object(), "cross-encoder", lambda q, hits: hits])
def test_a_reranker_without_rerank_is_refused(
    index: DocumentIndex, catalog: Catalog, reranker: Any
) -> None:
    with pytest.raises(ConfigError, match=r"rerank\(query, hits\)"):
        RAG(index, catalog, audit=AuditLog.memory(), reranker=reranker)
