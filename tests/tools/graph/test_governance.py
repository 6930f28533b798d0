"""Governance of the graph route: TRAVERSE grants on relations, graphs and labels, denials
audited inside the graph.ask trace, withheld paths, and catalog changes taking effect."""

from __future__ import annotations

import pytest

from crossroads.audit import AuditEvent, AuditLog
from crossroads.connectors import NetworkXGraph
from crossroads.errors import AmbiguousEntity, CannotAnswer, PolicyViolation, ToolError
from crossroads.policy import Catalog, Principal
from crossroads.tools.graph import GraphQA, RelationPath, TraverseResult

MOVIES = [
    ("Kismet", "directed_by", "William Dieterle"),
    ("Kismet", "starred_actors", "Ronald Colman"),
    ("Kismet", "produced_by", "Secret Producer"),
    ("Hidden Film", "produced_by", "Secret Producer"),
    ("Dark Waters", "directed_by", "William Dieterle"),
    ("Dark Waters", "starred_actors", "Merle Oberon"),
    ("Juarez", "directed_by", "William Dieterle"),
    ("Juarez", "starred_actors", "Bette Davis"),
    ("Project X", "directed_by", "William Dieterle"),
    ("Casablanca", "directed_by", "Michael Curtiz"),
    ("Casablanca", "starred_actors", "Humphrey Bogart"),
]
EXAMPLES = [
    ("who directed [Kismet]", ["William Dieterle"]),
    ("who directed [Casablanca]", ["Michael Curtiz"]),
    ("which actors starred in [Kismet]", ["Ronald Colman"]),
    ("which actors starred in [Casablanca]", ["Humphrey Bogart"]),
    ("which films share a director with [Dark Waters]", ["Kismet", "Juarez", "Project X"]),
    ("which films share a producer with [Kismet]", ["Hidden Film"]),
]

DORA = Principal("dora")  # relation:directed_by only
ADMIN = Principal("admin")  # graph:movies
PETE = Principal("pete", groups=["producers"])  # directed_by and produced_by, no labels
CLEARED = Principal("cleared", groups=["producers"])  # ... and label:Confidential
NOBODY = Principal("nobody")


def movies() -> NetworkXGraph:
    g = NetworkXGraph()
    for s, r, o in MOVIES:
        g.add_edge(s, r, o)
    g.add_node("Secret Producer", labels=["Confidential"])
    g.add_node("Project X", labels=["Confidential"])
    g.add_node("Kismet", labels=["Film"])  # a label nobody is granted: labels alone do not hide
    return g


def catalog() -> Catalog:
    cat = Catalog()
    cat.add_graph_rule("relation:directed_by", to="user:dora")
    cat.add_graph_rule("graph:movies", to="user:admin")
    cat.add_graph_rule("relation:directed_by", to="group:producers")
    cat.add_graph_rule("relation:produced_by", to="group:producers")
    cat.add_graph_rule("label:Confidential", to="user:cleared")
    cat.add_graph_rule("label:Film", to="*")
    return cat


@pytest.fixture
def qa() -> GraphQA:
    qa = GraphQA(movies(), catalog(), audit=AuditLog.memory(), graph_name="movies")
    qa.fit(EXAMPLES)
    return qa


def trace_of_last_ask(qa: GraphQA) -> list[AuditEvent]:
    events = qa.runner.audit.events()
    last_ask = [e for e in events if e.name == "graph.ask"][-1]
    return qa.runner.audit.events(last_ask.trace_id)


# --- relation grants ----------------------------------------------------------------------


def test_allowed_relations_follow_the_grants(qa: GraphQA) -> None:
    assert qa.allowed_relations(DORA) == frozenset({"directed_by"})
    assert qa.allowed_relations(PETE) == frozenset({"directed_by", "produced_by"})
    assert qa.allowed_relations(ADMIN) == frozenset(
        {"directed_by", "starred_actors", "produced_by"}
    )
    assert qa.allowed_relations(NOBODY) == frozenset()


def test_granted_relation_answers(qa: GraphQA) -> None:
    assert qa.ask("who directed [Juarez]", DORA).answers == ["William Dieterle"]


def test_question_needing_a_forbidden_relation_is_denied_and_audited(qa: GraphQA) -> None:
    with pytest.raises(PolicyViolation) as info:
        qa.ask("which actors starred in [Juarez]", DORA)
    assert info.value.securable == "relation:starred_actors"
    assert "TRAVERSE on relation:starred_actors" in str(info.value)

    events = trace_of_last_ask(qa)
    (ask_start,) = [e for e in events if e.name == "graph.ask" and e.stage == "start"]
    (denial,) = [e for e in events if e.name == "graph.traverse" and e.stage == "decision"]
    assert denial.kind == "policy"
    assert denial.decision is not None
    assert denial.decision.allowed is False
    assert denial.parent_id == ask_start.span_id  # nested in the graph.ask span
    assert {e.trace_id for e in events} == {ask_start.trace_id}
    assert [e.stage for e in events if e.name == "graph.ask"] == ["start", "decision", "error"]
    assert [e.stage for e in events if e.name == "graph.traverse"] == [
        "start",
        "decision",
        "error",
    ]
    # nothing of the answer leaked, into the error or the log
    assert "Bette Davis" not in str(info.value)
    assert "Bette Davis" not in repr([e.to_dict() for e in qa.runner.audit.events()])


def test_graph_grant_allows_every_relation(qa: GraphQA) -> None:
    answer = qa.ask("which actors starred in [Juarez]", ADMIN)
    assert answer.answers == ["Bette Davis"]


def test_graph_grant_is_for_the_named_graph_only() -> None:
    cat = Catalog()
    cat.add_graph_rule("graph:default", to="user:admin")
    qa = GraphQA(movies(), cat, audit=AuditLog.memory(), graph_name="movies")
    assert qa.allowed_relations(ADMIN) == frozenset()
    with pytest.raises(PolicyViolation, match="graph:movies"):
        qa.ask("who directed [Juarez]", ADMIN)


def test_principal_with_no_relation_is_denied_at_ask_and_audited(qa: GraphQA) -> None:
    with pytest.raises(PolicyViolation, match="may traverse no relation of graph 'movies'") as info:
        qa.ask("who directed [Juarez]", NOBODY)
    assert info.value.securable == "graph:movies"
    events = trace_of_last_ask(qa)
    assert [(e.name, e.stage) for e in events] == [
        ("graph.ask", "start"),
        ("graph.ask", "decision"),
        ("graph.ask", "error"),
    ]
    assert events[1].decision is not None
    assert events[1].decision.allowed is False


def test_every_ask_nests_traverse_spans_with_all_stages(qa: GraphQA) -> None:
    answer = qa.ask("which films share a director with [Juarez]", ADMIN)
    assert sorted(answer.answers) == ["Dark Waters", "Kismet", "Project X"]
    events = trace_of_last_ask(qa)
    ask = [e for e in events if e.name == "graph.ask"]
    traverse = [e for e in events if e.name == "graph.traverse"]
    assert [e.stage for e in ask] == ["start", "decision", "end"]
    assert [e.stage for e in traverse] == ["start", "decision", "end"]
    assert all(e.parent_id == ask[0].span_id for e in traverse)
    assert ask[-1].result is not None
    assert ask[-1].result["mode"] == "learned"
    assert qa.runner.audit.verify().ok


def test_audit_summaries_carry_no_answer_names(qa: GraphQA) -> None:
    qa.ask("who directed [Juarez]", DORA)
    events = trace_of_last_ask(qa)
    ends = [e for e in events if e.stage == "end"]
    assert ends
    assert all("William Dieterle" not in repr(e.result) for e in ends)
    (traverse_end,) = [e for e in ends if e.name == "graph.traverse"]
    assert traverse_end.result == {
        "path": "directed_by",
        "answers": 1,
        "tried": 1,
        "truncated": False,
    }


# --- labels -------------------------------------------------------------------------------


def test_labelled_node_is_not_returned_without_its_label(qa: GraphQA) -> None:
    dora = qa.ask("which films share a director with [Kismet]", DORA)
    assert sorted(dora.answers) == ["Dark Waters", "Juarez"]
    cleared = qa.ask("which films share a director with [Kismet]", CLEARED)
    assert sorted(cleared.answers) == ["Dark Waters", "Juarez", "Project X"]


def test_labelled_node_is_not_passed_through_without_its_label(qa: GraphQA) -> None:
    with pytest.raises(CannotAnswer, match="reached anything"):
        qa.ask("which films share a producer with [Kismet]", PETE)
    answer = qa.ask("which films share a producer with [Kismet]", CLEARED)
    assert answer.answers == ["Hidden Film"]
    assert str(answer.paths[0]) == (
        "Kismet -[produced_by]-> Secret Producer <-[produced_by]- Hidden Film"
    )


def test_hidden_topic_entity_reads_as_no_entity(qa: GraphQA) -> None:
    with pytest.raises(CannotAnswer) as hidden:
        qa.ask("who directed [Project X]", DORA)
    with pytest.raises(CannotAnswer) as unknown:
        qa.ask("who directed [Project Y]", DORA)
    assert not isinstance(hidden.value, PolicyViolation)
    assert str(hidden.value) == str(unknown.value)  # nothing tells the two apart
    assert "no entity of the graph is named" in str(hidden.value)
    assert qa.ask("who directed [Project X]", CLEARED).answers == ["William Dieterle"]


def test_hidden_start_node_of_a_traversal_reads_as_unknown(qa: GraphQA) -> None:
    with pytest.raises(PolicyViolation) as hidden:
        qa.traverse("Project X", "directed_by", DORA)
    with pytest.raises(PolicyViolation) as unknown:
        qa.traverse("Project Y", "directed_by", DORA)
    assert hidden.value.rule == unknown.value.rule == "graph.node_visibility"
    assert str(hidden.value).replace("Project X", "?") == str(unknown.value).replace(
        "Project Y", "?"
    )
    assert qa.traverse("Project X", "directed_by", CLEARED).names == ["William Dieterle"]


def test_hidden_namesake_is_not_disclosed() -> None:
    g = NetworkXGraph()
    g.add_edge("film:paris", "directed_by", "Cédric Klapisch")
    g.add_edge("film:paris-secret", "directed_by", "Someone")
    g.add_node("film:paris", name="Paris")
    g.add_node("film:paris-secret", name="Paris", labels=["Confidential"])
    qa = GraphQA(g, catalog(), audit=AuditLog.memory(), graph_name="movies")
    answer = qa.ask("who directed [Paris]", DORA)  # not ambiguous for dora
    assert answer.answers == ["Cédric Klapisch"]
    assert answer.entities[0].candidates == ("film:paris",)
    assert answer.notes == ()
    with pytest.raises(AmbiguousEntity, match="names 2 nodes"):
        qa.ask("who directed [Paris]", CLEARED)


def test_graph_grant_sees_every_label(qa: GraphQA) -> None:
    assert qa.traverse("Kismet", "produced_by", ADMIN).names == ["Secret Producer"]


# --- withheld paths -----------------------------------------------------------------------


def test_lower_ranked_forbidden_path_is_withheld(qa: GraphQA) -> None:
    call = qa.runner.call(
        "graph.traverse",
        {"start": ["Kismet"], "paths": ["directed_by", "starred_actors"]},
        principal=DORA,
    )
    result = call.value
    assert isinstance(result, TraverseResult)
    assert result.path == RelationPath.parse("directed_by")
    assert result.names == ["William Dieterle"]
    assert result.tried == (RelationPath.parse("directed_by"),)
    assert result.withheld == (RelationPath.parse("starred_actors"),)
    assert call.permit.policy["withheld"] == ["starred_actors"]
    (decision,) = [e for e in qa.runner.audit.events(call.trace_id) if e.stage == "decision"]
    assert decision.policy is not None
    assert decision.policy["withheld"] == ["starred_actors"]


def test_withheld_path_is_not_tried_even_when_the_allowed_one_finds_nothing(qa: GraphQA) -> None:
    result = qa.runner.call(
        "graph.traverse",
        {"start": ["Kismet"], "paths": ["^directed_by", "starred_actors"]},
        principal=DORA,
    ).value
    assert result.path is None
    assert result.answers == []
    assert result.names == []
    assert result.tried == (RelationPath.parse("^directed_by"),)
    assert result.withheld == (RelationPath.parse("starred_actors"),)


def test_forbidden_first_path_denies_the_whole_call(qa: GraphQA) -> None:
    with pytest.raises(PolicyViolation, match="starred_actors"):
        qa.runner.call(
            "graph.traverse",
            {"start": ["Kismet"], "paths": ["starred_actors", "directed_by"]},
            principal=DORA,
        )


def test_ask_notes_the_withheld_alternative() -> None:
    g = NetworkXGraph()
    for film in ["Kismet", "Juarez"]:
        g.add_edge(film, "directed_by", "William Dieterle")
        g.add_edge(film, "produced_by", "William Dieterle")
    g.add_edge("Casablanca", "directed_by", "Michael Curtiz")
    qa = GraphQA(g, catalog(), audit=AuditLog.memory(), graph_name="movies")
    qa.fit([("who made [Kismet]", ["William Dieterle"])])  # both relations explain it
    answer = qa.ask("who made [Casablanca]", DORA)
    assert answer.answers == ["Michael Curtiz"]
    assert any("not tried" in n and "produced_by" in n for n in answer.notes)


def test_bad_path_argument_is_a_tool_error(qa: GraphQA) -> None:
    with pytest.raises(ToolError, match=r"bad arguments for tool 'graph\.traverse'"):
        qa.runner.call("graph.traverse", {"start": ["Kismet"], "paths": ["(("]}, principal=ADMIN)


# --- catalog and graph changes ------------------------------------------------------------


def test_revoking_a_relation_applies_to_the_next_call() -> None:
    cat = catalog()
    qa = GraphQA(movies(), cat, audit=AuditLog.memory(), graph_name="movies")
    qa.fit(EXAMPLES)
    assert qa.ask("who directed [Juarez]", DORA).answers == ["William Dieterle"]
    cat.revoke("TRAVERSE", on="relation:directed_by", to="user:dora")
    with pytest.raises(PolicyViolation, match="may traverse no relation"):
        qa.ask("who directed [Juarez]", DORA)
    cat.add_graph_rule("relation:starred_actors", to="user:dora")
    assert qa.ask("which actors starred in [Juarez]", DORA).answers == ["Bette Davis"]


def test_revoking_a_label_applies_to_the_next_call() -> None:
    cat = catalog()
    qa = GraphQA(movies(), cat, audit=AuditLog.memory(), graph_name="movies")
    qa.fit(EXAMPLES)
    assert "Project X" in qa.ask("which films share a director with [Kismet]", CLEARED).answers
    cat.revoke("TRAVERSE", on="label:Confidential", to="user:cleared")
    assert "Project X" not in qa.ask("which films share a director with [Kismet]", CLEARED).answers


def test_graph_grant_covers_a_relation_added_later() -> None:
    # Regression: allowed_relations() is cached per principal by catalog.version only; a relation
    # added to the graph afterwards is missing from the cached set, so a principal with
    # TRAVERSE on graph:movies is denied it ("ask an administrator to grant ... (or
    # graph:movies)", which it holds).
    g = movies()
    qa = GraphQA(g, catalog(), audit=AuditLog.memory(), graph_name="movies")
    assert qa.traverse("Kismet", "directed_by", ADMIN).names == ["William Dieterle"]
    g.add_edge("Kismet", "written_by", "Edward Knoblock")
    assert qa.traverse("Kismet", "written_by", ADMIN).names == ["Edward Knoblock"]
