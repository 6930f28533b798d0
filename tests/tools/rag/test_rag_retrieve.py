"""Governed retrieval: the fields of a hit and their offsets into the document, ranking
and ``k``, argument checks, and freshness when a document is re-ingested or removed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.errors import ToolError
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG, Hit

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
SAM = Principal("sam", groups=["medical_info"], attributes={"region": "US"})
ROOT = Principal("root", groups=["admins"])

QUERIES = [
    "Cardiozol",
    "severe renal impairment",
    "ketoconazole clarithromycin interactions",
    "quarantine temperature excursion",
    "pregnancy breastfeeding",
]

RENAL_EU_NEW = """# Dosing

The recommended dose of Cardiozol is 10 mg once daily, taken with or without food.

## Renal impairment

Since 2025, Cardiozol is reduced to 2.5 mg every other day when creatinine clearance is \
below 30 mL/min.
"""


def rag_over(index: DocumentIndex, catalog: Catalog, **options: Any) -> RAG:
    return RAG(index, catalog, audit=AuditLog.memory(), **options)


def texts(hits: Sequence[Hit]) -> str:
    return "\n".join(h.text for h in hits)


def test_a_hit_carries_the_chunk_and_where_it_is(index: DocumentIndex, catalog: Catalog) -> None:
    (hit,) = rag_over(index, catalog).retrieve("ketoconazole", EVA)
    assert hit.doc_id == "label-cardiozol-eu"
    assert hit.chunk_id == "label-cardiozol-eu#2"
    assert hit.collection == "labels"
    assert hit.heading == "Interactions"
    assert hit.score > 0
    assert hit.text.startswith("Strong CYP3A4 inhibitors such as ketoconazole")
    assert dict(hit.metadata) == {
        "region": "EU",
        "classification": "public",
        "owner": "regulatory-eu",
        "title": "Cardiozol label (EU)",
        "collection": "labels",
    }
    assert index.document(hit.doc_id).text[hit.start : hit.end] == hit.text


def test_nested_headings_are_a_path(index: DocumentIndex, catalog: Catalog) -> None:
    hit = rag_over(index, catalog).retrieve("creatinine clearance", EVA)[0]
    assert hit.chunk_id == "label-cardiozol-eu#1"
    assert hit.heading == "Dosing › Renal impairment"
    letter = rag_over(index, catalog).retrieve("pregnancy", EVA)[0]
    assert (letter.doc_id, letter.heading) == ("mil-2024-031", "")  # no heading: empty


@pytest.mark.parametrize("query", QUERIES)
def test_every_hit_indexes_its_document_exactly(
    index: DocumentIndex, catalog: Catalog, query: str
) -> None:
    hits = rag_over(index, catalog).retrieve(query, ROOT, k=100)
    assert hits
    for hit in hits:
        doc = index.document(hit.doc_id)
        assert doc.text[hit.start : hit.end] == hit.text
        assert hit.collection == doc.collection == hit.metadata["collection"]
        assert index.chunk(hit.chunk_id).text == hit.text
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.chunk_id for h in hits}) == len(hits)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_k_is_respected(index: DocumentIndex, catalog: Catalog, k: int) -> None:
    rag = rag_over(index, catalog)
    hits = rag.retrieve("Cardiozol", ROOT, k=k)
    assert len(hits) == k
    assert hits == rag.retrieve("Cardiozol", ROOT, k=100)[:k]


def test_fewer_hits_than_k_when_fewer_match(index: DocumentIndex, catalog: Catalog) -> None:
    rag = rag_over(index, catalog)
    assert len(rag.retrieve("Cardiozol", EVA, k=200)) == 4  # eva's 4 chunks naming it
    assert rag.retrieve("lisinopril", EVA) == []
    assert rag.retrieve("the of and", EVA) == []  # stopwords only


@pytest.mark.parametrize("args", [{"k": 0}, {"k": 1001}, {"query": ""}, {"query": "x" * 4001}])
def test_bad_arguments_are_a_tool_error(
    index: DocumentIndex, catalog: Catalog, args: dict[str, Any]
) -> None:
    rag = rag_over(index, catalog)
    call = {"query": "Cardiozol", "k": 5, **args}
    with pytest.raises(ToolError, match=r"bad arguments for tool 'rag\.retrieve'"):
        rag.retrieve(call["query"], EVA, k=call["k"])


def test_reingesting_a_changed_document_replaces_its_text(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_over(index, catalog)
    question = "What is the dose of Cardiozol in severe renal impairment?"
    assert "halved to 5 mg" in rag.ask(question, EVA).text
    doc = index.document("label-cardiozol-eu")
    assert index.add(doc.id, RENAL_EU_NEW, doc.metadata, collection="labels")
    old = rag.retrieve("halved", EVA, k=100)
    assert old == []
    assert "halved" not in texts(rag.retrieve("renal impairment creatinine", EVA, k=100))
    (new,) = rag.retrieve("every other day", EVA)
    assert new.chunk_id == "label-cardiozol-eu#1"
    assert new.text.startswith("Since 2025, Cardiozol is reduced to 2.5 mg")
    assert RENAL_EU_NEW[new.start : new.end] == new.text
    assert not [c for c in index.chunks("label-cardiozol-eu") if "ketoconazole" in c.text]
    answer = rag.ask("What is the Cardiozol dose when creatinine clearance is low?", EVA)
    assert "reduced to 2.5 mg every other day" in answer.text
    assert "halved" not in answer.text


def test_a_removed_document_is_no_longer_retrieved(index: DocumentIndex, catalog: Catalog) -> None:
    rag = rag_over(index, catalog)
    assert rag.retrieve("ketoconazole", EVA)
    assert index.remove("label-cardiozol-eu")
    assert rag.retrieve("ketoconazole", EVA) == []
    assert {h.doc_id for h in rag.retrieve("Cardiozol", EVA, k=100)} == {"mil-2024-031"}
