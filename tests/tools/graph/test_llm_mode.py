"""LLM mode: model-proposed paths and Cypher patterns, validated, repaired, governed and
audited; a failing model falls back to deterministic planning; cypher_to_path refusals."""

from __future__ import annotations

from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import NetworkXGraph
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import ConfigError, LLMError, PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.graph import GraphQA, RelationPath
from crossroads.tools.graph._llm import cypher_to_path

MOVIES = [
    ("Kismet", "directed_by", "William Dieterle"),
    ("Kismet", "written_by", "Edward Knoblock"),
    ("Kismet", "starred_actors", "Ronald Colman"),
    ("Kismet", "release_year", "1944"),
    ("Dark Waters", "directed_by", "William Dieterle"),
    ("Juarez", "directed_by", "William Dieterle"),
    ("Juarez", "starred_actors", "Bette Davis"),
]

ADMIN = Principal("admin")
DORA = Principal("dora")  # directed_by only


def movies() -> NetworkXGraph:
    g = NetworkXGraph()
    for s, r, o in MOVIES:
        g.add_edge(s, r, o)
    return g


def catalog() -> Catalog:
    cat = Catalog()
    cat.add_graph_rule("graph:default", to="user:admin")
    cat.add_graph_rule("relation:directed_by", to="user:dora")
    return cat


def graph_qa(replies: list[Any]) -> tuple[GraphQA, ScriptedLLM]:
    llm = ScriptedLLM(replies)
    return GraphQA(movies(), catalog(), audit=AuditLog.memory(), llm=llm), llm


def test_valid_path_from_the_model() -> None:
    qa, llm = graph_qa([{"path": "directed_by/^directed_by"}])
    answer = qa.ask("films by the director of [Kismet]", ADMIN)
    assert answer.mode == "llm"
    assert sorted(answer.answers) == ["Dark Waters", "Juarez"]
    assert answer.relation_path == RelationPath.parse("directed_by/^directed_by")
    assert answer.notes == ()
    assert len(llm.calls) == 1


def test_prompt_lists_only_allowed_relations() -> None:
    qa, llm = graph_qa([{"path": "directed_by"}])
    assert qa.ask("who directed [Kismet]", DORA).answers == ["William Dieterle"]
    system = llm.calls[0][0].content
    assert "directed_by" in system
    assert "starred_actors" not in system
    assert "written_by" not in system
    assert "'Kismet'" in system
    assert llm.calls[0][-1].content == "who directed [Kismet]"


def test_cypher_pattern_is_compiled_and_run() -> None:
    cypher = "MATCH (e {name: $entity})-[:directed_by]->(d)<-[:directed_by]-(m) RETURN m"
    qa, _ = graph_qa([{"cypher": cypher}])
    answer = qa.ask("films by the director of [Kismet]", ADMIN)
    assert answer.mode == "llm"
    assert answer.relation_path == RelationPath.parse("directed_by/^directed_by")
    assert sorted(answer.answers) == ["Dark Waters", "Juarez"]


def test_unknown_relation_is_sent_back_and_repaired() -> None:
    qa, llm = graph_qa([{"path": "director"}, {"path": "directed_by"}])
    answer = qa.ask("who made [Kismet]", ADMIN)
    assert answer.mode == "llm"
    assert answer.answers == ["William Dieterle"]
    assert len(llm.calls) == 2
    assert len(answer.notes) == 1
    assert "attempt 1 refused" in answer.notes[0]
    assert "'director'" in answer.notes[0]
    repair = llm.calls[1][-1].content
    assert "no relation 'director'" in repair
    assert "Propose a corrected one" in repair


def test_unreadable_and_too_long_paths_are_repaired() -> None:
    too_long = "directed_by/^directed_by/directed_by/^directed_by"
    qa, llm = graph_qa([{"path": "(("}, {"path": too_long}, {"path": "directed_by"}])
    answer = qa.ask("who made [Kismet]", ADMIN)
    assert answer.mode == "llm"
    assert len(llm.calls) == 3
    assert "cannot read" in answer.notes[0]
    assert "at most 3" in answer.notes[1]


def test_forbidden_relation_from_the_model_is_denied_and_audited() -> None:
    qa, _llm = graph_qa([{"path": "starred_actors"}])
    with pytest.raises(PolicyViolation) as info:
        qa.ask("who acted in [Juarez]", DORA)
    assert info.value.securable == "relation:starred_actors"
    events = qa.runner.audit.events()
    trace = {e.trace_id for e in events}
    assert len(trace) == 1  # the model call and the denial sit in the graph.ask trace
    assert [e.kind for e in events if e.name.startswith("scripted")] == ["llm", "llm"]
    (denial,) = [e for e in events if e.name == "graph.traverse" and e.stage == "decision"]
    assert denial.decision is not None
    assert not denial.decision.allowed
    assert "Bette Davis" not in repr([e.to_dict() for e in events])


def test_model_failure_falls_back_to_deterministic_planning() -> None:
    qa, llm = graph_qa([LLMError("service down", model="scripted")])
    answer = qa.ask("who directed [Kismet]", DORA)
    assert answer.answers == ["William Dieterle"]
    assert answer.mode == "names"
    assert any("model failed" in n for n in answer.notes)
    assert len(llm.calls) == 1


def test_model_that_never_proposes_a_usable_path_falls_back() -> None:
    qa, llm = graph_qa([{"path": "nope"}] * 3)
    answer = qa.ask("who directed [Kismet]", ADMIN)
    assert answer.mode == "names"
    assert answer.answers == ["William Dieterle"]
    assert len(llm.calls) == 3  # max_repairs=2: three attempts
    assert answer.notes[-1] == "the model proposed no usable path; planned without it"


def test_model_path_that_reaches_nothing_gives_way_to_the_learned_path() -> None:
    qa, _ = graph_qa([{"path": "^directed_by"}])
    qa.fit([("who directed [Juarez]", ["William Dieterle"])])
    answer = qa.ask("who directed [Kismet]", ADMIN)
    assert answer.answers == ["William Dieterle"]
    assert answer.mode == "learned"


# --- cypher_to_path -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cypher", "path"),
    [
        (
            "MATCH (e {name: $entity})-[:directed_by]->(d)<-[:directed_by]-(m) RETURN m",
            "directed_by/^directed_by",
        ),
        ("MATCH (e {name: $entity})<-[:directed_by]-(m) RETURN m.name", "^directed_by"),
        (
            "match (e {name: 'Kismet'})-[r:INTERACTS_WITH]-(x) return distinct x limit 5;",
            "(INTERACTS_WITH|^INTERACTS_WITH)",
        ),
        ("MATCH (e:Movie {name: $entity})-[:`has part`]->(x:Part) RETURN x AS part", "<has part>"),
    ],
)
def test_cypher_compiles_to_a_relation_path(cypher: str, path: str) -> None:
    assert cypher_to_path(cypher) == RelationPath.parse(path)


@pytest.mark.parametrize(
    ("cypher", "path"),
    [
        (
            "MATCH (m)-[:directed_by]->(d)<-[:directed_by]-(e {name: $entity}) RETURN m",
            "directed_by/^directed_by",
        ),
        ("MATCH (a)-[:starred_actors]->(e {name: $entity}) RETURN a", "^starred_actors"),
        (
            "MATCH (x)<-[:written_by]-(m)-[:directed_by]->(e {name: $entity}) RETURN x",
            "^directed_by/written_by",
        ),
        (
            "MATCH (x)-[:INTERACTS_WITH]-(e {name: $entity}) RETURN x",
            "(INTERACTS_WITH|^INTERACTS_WITH)",
        ),
    ],
)
def test_pattern_written_from_the_answer_is_turned_round(cypher: str, path: str) -> None:
    assert cypher_to_path(cypher) == RelationPath.parse(path)


@pytest.mark.parametrize(
    ("cypher", "says"),
    [
        ("CREATE (e {name: 'x'})", "CREATE is not accepted"),
        ("MATCH (e {name: $entity}) DETACH DELETE e", "DETACH is not accepted"),
        ("MATCH (e {name: $entity})-[:r]->(d) DELETE d", "DELETE is not accepted"),
        ("MATCH (e {name: $entity})-[:r]->(d) SET d.x = 1 RETURN d", "SET is not accepted"),
        ("CALL db.labels()", "CALL is not accepted"),
        ("MATCH (e {name: $entity})-[:r]->(d) MERGE (d)-[:s]->(x) RETURN x", "MERGE"),
        ("MATCH (e {name: $entity})-[:directed_by*1..3]->(d) RETURN d", "variable-length"),
        (
            "MATCH (e {name: $entity})-[:r]->(d) MATCH (d)<-[:r]-(m) RETURN m",
            "one path pattern",
        ),
        ("OPTIONAL MATCH (e {name: $entity})-[:r]->(d) RETURN d", "OPTIONAL is not supported"),
        (
            "MATCH (e {name: $entity})-[:r]->(d) WHERE d.name = 'x' RETURN d",
            "WHERE is not supported",
        ),
        ("MATCH (e)-[:r]->(d) RETURN d", "exactly one end of the pattern must be the entity"),
        ("MATCH (e {name: $entity})-[:r]->(d {name: 'x'}) RETURN d", "exactly one end"),
        (
            "MATCH (e {name: $entity})-[:r]->(d)<-[:r]-(m) RETURN d",
            "must name the node at the far end",
        ),
        ("MATCH (e {name: $entity}) RETURN e", "no relationship to follow"),
        ("MATCH (e {name: $entity})<-[:r]->(d) RETURN d", "cannot point both ways"),
        ("MATCH (e {name: $entity})-->(d) RETURN d", "write -[:TYPE]->"),
        (
            "MATCH (e {name: $entity})-[:a]->(b)-[:b]->(c)-[:c]->(d)-[:d]->(f) RETURN f",
            "4 hops; at most 3",
        ),
        ("MATCH (e {name: $entity})-[:r]->(d) RETURN d UNION MATCH (x) RETURN x", "UNION"),
        ("MATCH (e {name: $entity})-[:r]->(a), (a)-[:s]->(b) RETURN b", "cannot read"),
    ],
)
def test_cypher_refusals(cypher: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        cypher_to_path(cypher)
    assert says in str(info.value)


def test_max_hops_is_a_parameter() -> None:
    cypher = "MATCH (e {name: $entity})-[:a]->(b)-[:b]->(c) RETURN c"
    assert len(cypher_to_path(cypher)) == 2
    with pytest.raises(ConfigError, match="2 hops; at most 1"):
        cypher_to_path(cypher, max_hops=1)


def test_keyword_inside_a_quoted_relation_name_is_not_a_write() -> None:
    # Regression: the write/keyword check runs over the whole text, so a backticked relation
    # such as `set in` (or `made with`) is refused as "Cypher with SET is not accepted".
    cypher = "MATCH (e {name: $entity})-[:`set in`]->(place) RETURN place"
    assert cypher_to_path(cypher) == RelationPath.parse("<set in>")
