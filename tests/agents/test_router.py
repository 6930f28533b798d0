"""The classifier, the router graph and the facade, on a small real app."""

from __future__ import annotations

import json

import pytest

import crossroads as xr
from crossroads.agents import FEATURES, LabelledRow, RouteModel, split_compound
from crossroads.agents._types import decision_dict
from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase
from crossroads.errors import ConfigError

Parts = tuple[xr.Catalog, SQLDatabase, NetworkXGraph, DocumentIndex]


# --- compound questions ------------------------------------------------------------------

SPLITS = [
    ("How many adverse events were reported?", 1),
    ("How many adverse events were reported, and what does the label say about pregnancy?", 2),
    ("How many adverse events were reported and which drugs inhibit CYP3A4?", 2),
    ("What are the indications and contraindications of Cardiozen?", 1),
    ("Which drugs interact with warfarin and are metabolised by CYP2C9?", 1),
    ("Total revenue in France; what does SOP 002 say about deadlines?", 2),
    ("Compare sales and returns", 1),
]


@pytest.mark.parametrize(("question", "parts"), SPLITS)
def test_split_compound(question: str, parts: int) -> None:
    found = split_compound(question)
    assert len(found) == parts, found
    assert all(p.endswith("?") or parts == 1 for p in found)


# --- routing -----------------------------------------------------------------------------

CASES = [
    ("How many adverse events were reported?", "sql"),
    ("How many adverse events are severe?", "sql"),
    ("Which drugs inhibit the enzyme that metabolises Cardiozen?", "graph"),
    ("Who manufactures Neurovia?", "graph"),
    ("What does the label say about dosing in renal impairment?", "rag"),
    ("Summarise all SOPs", "long_context"),
]


@pytest.mark.parametrize(("question", "route"), CASES)
def test_route(mini_app: xr.Crossroads, question: str, route: str) -> None:
    decision = mini_app.route(question, principal=mini_app.principal("carol"))
    assert decision.route == route, decision.explain()
    assert decision.failure_mode == xr.agents.FAILURE_MODES[route]  # type: ignore[attr-defined]
    assert 0 < decision.confidence <= 1
    assert decision.runner_up in {"sql", "graph", "rag", "long_context"} - {route}
    assert abs(sum(decision.scores.values()) - 1) < 1e-9
    assert decision.reasons, "a decision says why"
    json.dumps(decision_dict(decision))  # JSON-ready


def test_signals_measure_what_the_principal_sees(mini_app: xr.Crossroads) -> None:
    q = "How many adverse events were reported?"
    alice = mini_app.route(q, principal=mini_app.principal("alice")).signals
    bob = mini_app.route(q, principal=mini_app.principal("bob")).signals
    assert alice["sql.tables"] == ["adverse_events"]
    # bob holds no grant on adverse_events: the table is not a hit for him, nor named
    assert "adverse_events" not in json.dumps(bob)
    # bob may read no documents: rag and long-context are unavailable, and say why
    assert set(bob["unavailable"]) == {"rag", "long_context"}


def test_route_is_audited(mini_app: xr.Crossroads) -> None:
    carol = mini_app.principal("carol")
    mini_app.route("How many adverse events were reported?", principal=carol)
    (start, end) = [e for e in mini_app.audit.events() if e.name == "router.route"]
    assert (start.stage, end.stage) == ("start", "end")
    assert start.kind == "route"
    assert end.result is not None
    assert end.result["route"] == "sql"
    assert end.principal["id"] == "carol"
    # the lexicon's governed value queries of a first call nest in the same trace
    trace = mini_app.audit.events(trace_id=start.trace_id)
    assert {e.name for e in trace} >= {"router.route", "sql.query"}


def test_holistic_over_budget_is_not_long_context(
    mini_parts: Parts, mini_model: RouteModel
) -> None:
    catalog, _, _, index = mini_parts
    app = xr.Crossroads(
        catalog=catalog, documents=index, audit=xr.AuditLog.memory(), model=mini_model,
        budget_tokens=10,
    )  # fmt: skip
    decision = app.route("Summarise all SOPs", principal=app.principal("carol"))
    assert decision.route == "rag"
    assert "over the budget" in decision.signals["unavailable"]["long_context"]


# --- answering ---------------------------------------------------------------------------


def test_ask_each_route(mini_app: xr.Crossroads) -> None:
    carol = mini_app.principal("carol")
    sql = mini_app.ask("How many adverse events were reported?", principal=carol)
    assert sql.route == "sql"
    assert sql.answered
    assert sql.sources[0].kind == "sql"
    assert "adverse_events" in sql.sources[0].ref
    assert "800" in sql.text  # the demo database holds 800 reports
    graph = mini_app.ask(
        "Which drugs inhibit the enzyme that metabolises Cardiozen?", principal=carol
    )
    assert graph.route == "graph"
    assert set(graph.result.answers) == {"ketoconazole", "clarithromycin"}
    assert all(s.kind == "graph" and "CYP3A4" in s.ref for s in graph.sources)
    rag = mini_app.ask("What does the label say about renal impairment?", principal=carol)
    assert rag.route == "rag"
    assert rag.sources[0].kind == "document"
    assert rag.sources[0].n == 1
    lc = mini_app.ask("Summarise all SOPs", principal=carol)
    assert lc.route == "long_context"
    assert {s.ref.split("#")[0] for s in lc.sources} == {"sop-001", "sop-002"}


def test_governance_shows_in_the_answer(mini_app: xr.Crossroads) -> None:
    alice = mini_app.ask(
        "How many adverse events were reported?", principal=mini_app.principal("alice")
    )
    carol = mini_app.ask(
        "How many adverse events were reported?", principal=mini_app.principal("carol")
    )
    assert any("row filter" in g and "region" in g for g in alice.governance)
    assert not any("row filter" in g for g in carol.governance)
    assert alice.result.result.rows != carol.result.result.rows


def test_document_rules_apply_on_the_rag_route(mini_app: xr.Crossroads) -> None:
    answer = mini_app.ask(
        "What does the label say about renal impairment?", principal=mini_app.principal("alice")
    )
    assert answer.route == "rag"
    assert {s.ref.split("#")[0] for s in answer.sources} == {"cardiozen-eu"}  # EU only


def test_denied_route_falls_back_and_says_so(mini_app: xr.Crossroads) -> None:
    bob = mini_app.principal("bob")  # may traverse manufactured_by only
    answer = mini_app.ask(
        "Which drugs inhibit the enzyme that metabolises Cardiozen?", principal=bob
    )
    assert answer.decision is not None
    tried = [f.route for f in answer.fallbacks]
    assert tried
    assert tried[0] == answer.decision.route
    assert len(answer.fallbacks) <= 3
    events = mini_app.audit.events(trace_id=answer.trace_id)
    names = [e.name for e in events]
    assert names.count("router.classify") == 1
    assert names.count("router.check") == len(answer.fallbacks) + (1 if answer.answered else 0)
    assert names.count("router.fallback") == len(answer.fallbacks) - (0 if answer.answered else 1)
    if not answer.answered:
        assert "could not answer" in answer.text


def test_one_trace_holds_every_step(mini_app: xr.Crossroads) -> None:
    answer = mini_app.ask(
        "How many adverse events were reported?", principal=mini_app.principal("carol")
    )
    events = mini_app.audit.events(trace_id=answer.trace_id)
    names = [e.name for e in events]
    assert names[0] == "router.ask"
    assert names[-1] == "router.ask"
    for name in ("router.classify", "sql.ask", "sql.query", "router.check", "router.respond"):
        assert name in names
    root = events[0].span_id
    tool = next(e for e in events if e.name == "sql.ask")
    assert tool.parent_id is not None
    assert root in {tool.parent_id}


def test_compound_question_answers_both_parts(mini_app: xr.Crossroads) -> None:
    answer = mini_app.ask(
        "How many adverse events are severe, and what does the label say about renal impairment?",
        principal=mini_app.principal("carol"),
    )
    assert [p.route for p in answer.parts] == ["sql", "rag"]
    assert {s.kind for s in answer.sources} == {"sql", "document"}
    assert "(1)" in answer.text
    assert "(2)" in answer.text
    assert answer.decision is not None
    assert len(answer.decision.parts) == 2


def test_empty_sql_result_falls_back(mini_app: xr.Crossroads) -> None:
    carol = mini_app.principal("carol")
    answer = mini_app.ask("List the adverse events reported in 1990", principal=carol)
    if answer.fallbacks:
        assert answer.fallbacks[0].outcome in {"empty", "ungrounded", "denied", "error"}


# --- bad input ---------------------------------------------------------------------------


def test_bad_input_is_a_clear_error(mini_app: xr.Crossroads) -> None:
    carol = mini_app.principal("carol")
    with pytest.raises(ConfigError, match="non-empty"):
        mini_app.ask("   ", principal=carol)
    with pytest.raises(ConfigError, match="Principal"):
        mini_app.route("How many?", principal="carol")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="limit is 4,000"):
        mini_app.ask("x" * 5000, principal=carol)
    with pytest.raises(ConfigError, match="at least one of"):
        xr.Crossroads(catalog=mini_app.catalog)


# --- fitting -----------------------------------------------------------------------------


def test_fit_moves_the_model(mini_app: xr.Crossroads) -> None:
    carol = mini_app.principal("carol")
    q = "Storage temperature of Cardiozen"
    report = mini_app.fit([(q, "rag")] * 20, principal=carol)
    assert report.added == 20
    assert mini_app.route(q, principal=carol).route == "rag"
    with pytest.raises(ConfigError, match="route"):
        mini_app.fit([(q, "web")], principal=carol)
    with pytest.raises(ConfigError, match="principal"):
        mini_app.fit([(q, "rag")])


def test_model_is_deterministic_and_readable() -> None:
    rows = [
        LabelledRow({"bias": 1, "cue.aggregate": 1}, "sql"),
        LabelledRow({"bias": 1, "graph.chain": 1}, "graph"),
    ]
    a, b = RouteModel(), RouteModel()
    a.fit(rows)
    b.fit(rows)
    assert a.to_dict() == b.to_dict()
    assert set(a.to_dict()) == set(FEATURES)
    scores = a.scores({"bias": 1, "cue.aggregate": 1}, available=("sql", "graph"))
    assert max(scores, key=scores.__getitem__) == "sql"
    assert a.scores({}, available=()) == {}


# --- LLM mode ----------------------------------------------------------------------------


def _llm_app(parts: Parts, model: RouteModel, replies: list[object]) -> xr.Crossroads:
    from crossroads.connectors.llm import ScriptedLLM

    catalog, db, graph, index = parts
    return xr.Crossroads(
        catalog=catalog, sql=db, graph=graph, documents=index, audit=xr.AuditLog.memory(),
        model=model, llm=ScriptedLLM(replies),  # type: ignore[arg-type]
    )  # fmt: skip


def test_llm_decision_is_validated_and_used(mini_parts: Parts, mini_model: RouteModel) -> None:
    app = _llm_app(mini_parts, mini_model, [{"route": "rag", "confidence": 0.8, "reason": "r"}])
    decision = app.route("How many adverse events were reported?", principal=app.principal("carol"))
    assert decision.mode == "llm"
    assert decision.route == "rag"
    assert decision.failure_mode == "knowledge_gap"
    assert decision.confidence == 0.8
    assert decision.runner_up == "sql"  # the deterministic favourite comes next
    assert decision.reasons[0] == "r"


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ({"route": "long_context", "confidence": 0.9, "reason": "x"}, "not available"),
        ({"route": "web", "confidence": 0.9, "reason": "x"}, "invalid"),
        ({"route": "sql", "confidence": 7, "reason": "x"}, "invalid"),
        ("no JSON at all", "the model failed"),
    ],
)
def test_a_failed_llm_decision_leaves_the_deterministic_one(
    mini_parts: Parts, mini_model: RouteModel, reply: object, problem: str
) -> None:
    app = _llm_app(mini_parts, mini_model, [reply])
    bob = app.principal("bob")  # may read no documents: long_context is unavailable to him
    decision = app.route("Who manufactures Neurovia?", principal=bob)
    assert decision.mode == "deterministic"
    assert decision.route == "graph"
    (event,) = [e for e in app.audit.events() if e.name == "router.llm_decision"]
    assert event.result is not None
    assert event.result["used"] is False
    assert event.result["kept"] == "graph"
    assert problem in event.result["problem"]


def test_a_later_part_inherits_the_entity_the_first_part_named(mini_app: xr.Crossroads) -> None:
    decision = mini_app.route(
        "How many adverse events were reported for Cardiozen, and what does the label say "
        "about renal impairment?",
        principal=mini_app.principal("carol"),
    )
    assert [p.question for p in decision.parts] == [
        "How many adverse events were reported for Cardiozen?",
        "What does the label say about renal impairment for Cardiozen?",
    ]
