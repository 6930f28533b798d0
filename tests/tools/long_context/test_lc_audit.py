"""The audit trail of the long-context route: long_context.ask as one span with start,
decision and end (or error); the decision lists the document filters applied; the end
summary holds the mode, the estimated tokens, the budget and the documents cited, never
document text; a model call nests inside the span."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from crossroads.audit import AuditEvent, AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer, PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.long_context import LongContext

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
QUINN = Principal("quinn", groups=["qa"])
ROOT = Principal("root", groups=["admins"])
OTTO = Principal("otto", groups=["sales"])
QUESTION = "Compare the labels"
EVA_FILTERS = [
    "collection:labels where (region in {'EU'})",
    "collection:mi-letters where (region in {'EU'})",
]
TEXT = ("threefold", "CYP3A4", "teratogenic", "swallowed whole", "Dear Doctor")


def steps(events: Sequence[AuditEvent]) -> list[tuple[str, str]]:
    return [(e.name, e.stage) for e in events]


def dumped(events: Sequence[AuditEvent]) -> str:
    return json.dumps([e.to_dict() for e in events], ensure_ascii=False)


def test_ask_is_one_span_start_decision_end(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    LongContext(index, catalog, audit=audit).ask(QUESTION, EVA)
    events = audit.events()
    assert steps(events) == [
        ("long_context.ask", "start"),
        ("long_context.ask", "decision"),
        ("long_context.ask", "end"),
    ]
    assert [e.kind for e in events] == ["tool", "policy", "tool"]
    assert len({e.trace_id for e in events}) == len({e.span_id for e in events}) == 1
    assert {e.parent_id for e in events} == {None}
    assert {e.principal["id"] for e in events} == {"eva"}
    assert events[0].input == {"question": QUESTION}
    assert audit.verify().ok


def test_the_decision_lists_the_filters_applied(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    LongContext(index, catalog, audit=audit).ask(QUESTION, EVA)
    (decision,) = [e for e in audit.events() if e.stage == "decision"]
    assert decision.decision is not None
    assert decision.decision.allowed
    assert decision.decision.rule == "rag.document_rules"
    assert decision.decision.reason == "READ granted on collection:labels, collection:mi-letters"
    assert decision.policy is not None
    assert decision.policy["filters"] == EVA_FILTERS


@pytest.mark.parametrize(
    ("principal", "filters"),
    [
        (QUINN, ["collection:sops: all documents"]),
        (
            ROOT,
            [
                "collection:labels: all documents",
                "collection:mi-letters: all documents",
                "collection:sops: all documents",
            ],
        ),
    ],
    ids=["quinn", "root"],
)
def test_whole_collections_are_described(
    index: DocumentIndex, catalog: Catalog, principal: Principal, filters: list[str]
) -> None:
    audit = AuditLog.memory()
    LongContext(index, catalog, audit=audit).ask("List every document", principal)
    (decision,) = [e for e in audit.events() if e.stage == "decision"]
    assert decision.policy is not None
    assert decision.policy["filters"] == filters


def test_a_union_is_described_in_the_decision(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    catalog.grant("READ", on="collection:labels", to="*", where={"classification": "public"})
    LongContext(index, catalog, audit=audit, collections=["labels"]).ask(QUESTION, EVA)
    (decision,) = [e for e in audit.events() if e.stage == "decision"]
    assert decision.policy is not None
    assert decision.policy["filters"] == [
        "collection:labels where (region in {'EU'}) or (classification in {'public'})"
    ]


def test_the_end_summary_holds_the_cost_and_ids_not_text(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    answer = LongContext(index, catalog, audit=audit, budget_tokens=2_000).ask(QUESTION, EVA)
    end = audit.events()[-1]
    assert end.result == {
        "mode": "extractive",
        "tokens": answer.tokens,
        "budget_tokens": 2_000,
        "read": ["label-cardiozol-eu", "mil-2024-031"],
        "sources": ["label-cardiozol-eu", "mil-2024-031"],
    }
    assert 0 < answer.tokens <= 2_000
    trail = dumped(audit.events())
    for source in answer.sources:
        assert source.quote not in trail
    for word in TEXT:
        assert word not in trail


def test_a_denial_is_audited_without_an_end(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    with pytest.raises(PolicyViolation):
        LongContext(index, catalog, audit=audit).ask(QUESTION, OTTO)
    events = audit.events()
    assert steps(events) == [
        ("long_context.ask", "start"),
        ("long_context.ask", "decision"),
        ("long_context.ask", "error"),
    ]
    decision = events[1].decision
    assert decision is not None
    assert not decision.allowed
    assert decision.rule == "default deny"
    assert events[2].error is not None
    assert events[2].error["type"] == "PolicyViolation"


@pytest.mark.parametrize(
    ("question", "options", "reason"),
    [
        ("What is the capital of France?", {}, "none of the 2 documents"),
        (QUESTION, {"budget_tokens": 10}, "over the budget of 10"),
    ],
    ids=["nothing-relevant", "over-budget"],
)
def test_cannot_answer_is_audited_as_an_error(
    index: DocumentIndex,
    catalog: Catalog,
    audit: AuditLog,
    question: str,
    options: dict[str, int],
    reason: str,
) -> None:
    lc = LongContext(index, catalog, audit=audit, **options)
    with pytest.raises(CannotAnswer):
        lc.ask(question, EVA)
    events = audit.events()
    assert steps(events)[-1] == ("long_context.ask", "error")
    assert events[1].decision is not None
    assert events[1].decision.allowed  # allowed, then unable to answer
    error = events[-1].error
    assert error is not None
    assert error["type"] == "CannotAnswer"
    assert reason in error["message"]
    assert not [e for e in events if e.stage == "end"]


def test_every_ask_is_its_own_trace(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    lc = LongContext(index, catalog, audit=audit)
    lc.ask(QUESTION, EVA)
    lc.ask("Summarise every SOP", QUINN)
    traces = list(dict.fromkeys(e.trace_id for e in audit.events()))
    assert len(traces) == 2
    assert [e.principal["id"] for e in audit.events(traces[1])] == ["quinn"] * 3


def test_a_model_call_nests_in_the_span_and_the_prompt_stays_out(
    index: DocumentIndex, catalog: Catalog, audit: AuditLog
) -> None:
    llm = ScriptedLLM(["Ketoconazole raises Cardiozol exposure threefold [1]."])
    answer = LongContext(index, catalog, audit=audit, llm=llm).ask(QUESTION, EVA)
    events = audit.events()
    assert len({e.trace_id for e in events}) == 1
    (span,) = {e.span_id for e in events if e.name == "long_context.ask"}
    model = [e for e in events if e.kind == "llm"]
    assert [e.stage for e in model] == ["start", "end"]
    assert {e.parent_id for e in model} == {span}
    assert steps(events)[-1] == ("long_context.ask", "end")
    assert events[-1].result == {
        "mode": "llm",
        "tokens": answer.tokens,
        "budget_tokens": 100_000,
        "read": ["label-cardiozol-eu", "mil-2024-031"],
        "sources": ["label-cardiozol-eu"],
    }
    trail = dumped(events)
    assert llm.calls[0][-1].content not in trail
    for word in TEXT:
        assert word not in trail
