"""The audit trail of the RAG route: rag.ask with rag.retrieve nested in one trace, each
with start, decision and end; decisions list the document filters applied; summaries
hold ids and offsets, never document text."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from crossroads.audit import AuditEvent, AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG, DocumentAnswer

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
QUESTION = "Which inhibitors raise Cardiozol exposure?"
EVA_FILTERS = [
    "collection:labels where (region in {'EU'})",
    "collection:mi-letters where (region in {'EU'})",
]


def steps(events: Sequence[AuditEvent]) -> list[tuple[str, str]]:
    return [(e.name, e.stage) for e in events]


def dumped(events: Sequence[AuditEvent]) -> str:
    return json.dumps([e.to_dict() for e in events], ensure_ascii=False)


def assert_no_document_text(events: Sequence[AuditEvent], answer: DocumentAnswer) -> None:
    trail = dumped(events)
    for hit in answer.hits:
        assert hit.text not in trail
    for source in answer.sources:
        assert source.quote not in trail
    for word in ("threefold", "CYP3A4", "teratogenic", "swallowed whole"):
        assert word not in trail


def test_ask_nests_retrieve_in_one_trace(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    answer = RAG(index, catalog, audit=audit).ask(QUESTION, EVA)
    events = audit.events()
    assert steps(events) == [
        ("rag.ask", "start"),
        ("rag.ask", "decision"),
        ("rag.retrieve", "start"),
        ("rag.retrieve", "decision"),
        ("rag.retrieve", "end"),
        ("rag.ask", "end"),
    ]
    assert len({e.trace_id for e in events}) == 1
    ask = {e.span_id for e in events if e.name == "rag.ask"}
    retrieve = {e.span_id for e in events if e.name == "rag.retrieve"}
    assert len(ask) == len(retrieve) == 1
    assert ask != retrieve
    assert {e.parent_id for e in events if e.name == "rag.ask"} == {None}
    assert {e.parent_id for e in events if e.name == "rag.retrieve"} == ask
    assert {e.principal["id"] for e in events} == {"eva"}
    assert events[0].input == {"question": QUESTION}
    assert events[2].input == {"query": QUESTION, "k": 5}
    assert answer.sources
    assert audit.verify().ok


def test_decisions_list_the_filters_applied(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    RAG(index, catalog, audit=audit).ask(QUESTION, EVA)
    decisions = [e for e in audit.events() if e.stage == "decision"]
    assert [e.name for e in decisions] == ["rag.ask", "rag.retrieve"]
    for event in decisions:
        assert event.decision is not None
        assert event.decision.allowed
        assert event.decision.rule == "rag.document_rules"
        assert event.decision.reason == "READ granted on collection:labels, collection:mi-letters"
        assert event.policy is not None
        assert sorted(event.policy["filters"]) == EVA_FILTERS


def test_a_union_is_described_in_the_decision(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    catalog.add_document_rule("collection:labels", "*", where={"classification": "public"})
    RAG(index, catalog, audit=audit, collections=["labels"]).retrieve("Cardiozol", EVA)
    (decision,) = [e for e in audit.events() if e.stage == "decision"]
    assert decision.policy is not None
    assert decision.policy["filters"] == [
        "collection:labels where (region in {'EU'}) or (classification in {'public'})"
    ]


def test_summaries_hold_ids_and_offsets_not_text(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    answer = RAG(index, catalog, audit=audit).ask(QUESTION, EVA)
    ends = {e.name: e.result for e in audit.events() if e.stage == "end"}
    assert ends["rag.ask"] == {
        "mode": "extractive",
        "sources": [f"{s.chunk_id}:{s.start}-{s.end}" for s in answer.sources],
        "unsupported": 0,
    }
    assert ends["rag.retrieve"] == {
        "hits": len(answer.hits),
        "documents": list(dict.fromkeys(h.doc_id for h in answer.hits)),
    }
    assert_no_document_text(audit.events(), answer)


def test_retrieve_alone_is_one_span(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    hits = RAG(index, catalog, audit=audit).retrieve("ketoconazole", EVA, k=3)
    events = audit.events()
    assert steps(events) == [
        ("rag.retrieve", "start"),
        ("rag.retrieve", "decision"),
        ("rag.retrieve", "end"),
    ]
    assert {e.parent_id for e in events} == {None}
    assert events[-1].result == {"hits": 1, "documents": ["label-cardiozol-eu"]}
    assert hits[0].text not in dumped(events)


def test_every_ask_is_audited_on_its_own(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    rag = RAG(index, catalog, audit=audit)
    rag.ask(QUESTION, EVA)
    rag.ask("Can Cardiozol be used during pregnancy?", EVA)
    events = audit.events()
    traces = list(dict.fromkeys(e.trace_id for e in events))
    assert len(traces) == 2
    for trace in traces:
        assert [name for name, _ in steps(audit.events(trace))].count("rag.retrieve") == 3


def test_cannot_answer_is_audited_as_an_error_of_ask(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    rag = RAG(index, catalog, audit=audit)
    with pytest.raises(CannotAnswer):
        rag.ask("What does Cardiozol cost in Japan?", EVA)
    assert steps(audit.events())[-1] == ("rag.ask", "error")
    error = audit.events()[-1].error
    assert error is not None
    assert error["type"] == "CannotAnswer"
    assert ("rag.retrieve", "end") in steps(audit.events())


def test_llm_mode_nests_the_model_call_and_keeps_the_prompt_out(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    llm = ScriptedLLM(["Ketoconazole raises Cardiozol exposure threefold [1]."])
    answer = RAG(index, catalog, audit=audit, llm=llm).ask(QUESTION, EVA)
    assert answer.mode == "llm"
    events = audit.events()
    assert len({e.trace_id for e in events}) == 1
    (ask,) = {e.span_id for e in events if e.name == "rag.ask"}
    model = [e for e in events if e.kind == "llm"]
    assert [e.stage for e in model] == ["start", "end"]
    assert {e.parent_id for e in model} == {ask}
    assert steps(events)[-1] == ("rag.ask", "end")
    assert events[-1].result == {
        "mode": "llm",
        "sources": [f"{s.chunk_id}:{s.start}-{s.end}" for s in answer.sources],
        "unsupported": 0,
    }
    trail = dumped(events)
    assert llm.calls[0][-1].content not in trail
    assert "Ketoconazole raises Cardiozol exposure threefold" not in trail
    for hit in answer.hits:
        assert hit.text not in trail
