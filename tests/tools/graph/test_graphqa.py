"""GraphQA end to end: fit on MetaQA-style questions, ask unseen entities with and without
[brackets] and in other words; display names, evidence, ambiguity, helpful refusals."""

from __future__ import annotations

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import NetworkXGraph
from crossroads.errors import AmbiguousEntity, CannotAnswer, ConfigError
from crossroads.policy import Catalog, Principal
from crossroads.tools.graph import FitReport, GraphAnswer, GraphQA, RelationPath

MOVIES = [
    ("Kismet", "directed_by", "William Dieterle"),
    ("Kismet", "written_by", "Edward Knoblock"),
    ("Kismet", "starred_actors", "Ronald Colman"),
    ("Kismet", "starred_actors", "Marlene Dietrich"),
    ("Kismet", "release_year", "1944"),
    ("Dark Waters", "directed_by", "William Dieterle"),
    ("Dark Waters", "written_by", "Joan Harrison"),
    ("Dark Waters", "starred_actors", "Merle Oberon"),
    ("Dark Waters", "release_year", "1944"),
    ("Juarez", "directed_by", "William Dieterle"),
    ("Juarez", "written_by", "John Huston"),
    ("Juarez", "starred_actors", "Bette Davis"),
    ("Juarez", "release_year", "1939"),
    ("Casablanca", "directed_by", "p:curtiz"),
    ("Casablanca", "written_by", "Julius Epstein"),
    ("Casablanca", "starred_actors", "Humphrey Bogart"),
    ("Casablanca", "starred_actors", "Ingrid Bergman"),
    ("Casablanca", "release_year", "1942"),
    ("Mildred Pierce", "directed_by", "p:curtiz"),
    ("Mildred Pierce", "written_by", "Ranald MacDougall"),
    ("Mildred Pierce", "starred_actors", "Joan Crawford"),
    ("Mildred Pierce", "release_year", "1945"),
    ("Paris, Texas", "directed_by", "Wim Wenders"),
    ("Paris, Texas", "starred_actors", "Harry Dean Stanton"),
    ("Paris, Texas", "release_year", "1984"),
    ("Wings of Desire", "directed_by", "Wim Wenders"),
    ("Wings of Desire", "written_by", "Peter Handke"),
    ("Wings of Desire", "release_year", "1987"),
]

EXAMPLES = [
    ("who directed [Kismet]", ["William Dieterle"]),
    ("who directed [Casablanca]", ["Michael Curtiz"]),
    ("who directed [Juarez]", ["William Dieterle"]),
    ("who wrote [Kismet]", ["Edward Knoblock"]),
    ("who wrote [Casablanca]", ["Julius Epstein"]),
    ("who wrote [Juarez]", ["John Huston"]),
    ("which actors starred in [Kismet]", ["Ronald Colman", "Marlene Dietrich"]),
    ("which actors starred in [Casablanca]", ["Humphrey Bogart", "Ingrid Bergman"]),
    ("which actors starred in [Juarez]", ["Bette Davis"]),
    ("when was [Kismet] released", ["1944"]),
    ("when was [Juarez] released", ["1939"]),
    ("when was [Casablanca] released", ["1942"]),
    ("which films share a director with [Kismet]", ["Dark Waters", "Juarez"]),
    ("which films share a director with [Casablanca]", ["Mildred Pierce"]),
    ("which films share a director with [Juarez]", ["Kismet", "Dark Waters"]),
]

ANA = Principal("ana", groups=["film_club"])


def movies() -> NetworkXGraph:
    g = NetworkXGraph()
    for s, r, o in MOVIES:
        g.add_edge(s, r, o)
    g.add_node("p:curtiz", name="Michael Curtiz")
    return g


def open_catalog() -> Catalog:
    catalog = Catalog()
    catalog.add_graph_rule("graph:default", to="group:film_club")
    return catalog


@pytest.fixture
def qa() -> GraphQA:
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory())
    qa.fit(EXAMPLES)
    return qa


# --- fit ----------------------------------------------------------------------------------


def test_fit_reports_templates_and_paths() -> None:
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory())
    report = qa.fit(EXAMPLES)
    assert isinstance(report, FitReport)
    assert report.examples == report.explained == len(EXAMPLES)
    assert report.skipped == {}
    assert {t: str(d[0][0]) for t, d in report.templates.items()} == {
        "who directed <e>": "directed_by",
        "who wrote <e>": "written_by",
        "which actors starred in <e>": "starred_actors",
        "when was <e> released": "release_year",
        "which films share a director with <e>": "directed_by/^directed_by",
    }
    assert report.paths[RelationPath.parse("directed_by/^directed_by")] == 1
    assert report.seconds >= 0


def test_fit_counts_what_it_could_not_use() -> None:
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory())
    report = qa.fit(
        [
            ("who directed [Kismet]", ["William Dieterle"]),
            ("who directed [Kismet]", ["Nobody Known"]),  # answer not in the graph
            ("when was [Wings of Desire] released", ["Bette Davis"]),  # no path reaches it
            ("who directed it", "William Dieterle"),  # a bare string answer is one answer
        ]
    )
    assert report.examples == 4
    assert report.explained == 1
    assert report.skipped == {
        "no answer is a node of the graph": 1,
        "no path of up to 3 steps reaches an answer": 1,
        "no entity of the graph is named in the question": 1,
    }


def test_fit_reason_when_the_bracketed_entity_is_unknown() -> None:
    # Regression: a bracketed mention that names no node still counts as a mention, so fit reports
    # "no path of up to 3 steps reaches an answer" instead of "no entity of the graph is
    # named in the question".
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory())
    report = qa.fit([("who directed [Citizen Kane]", ["William Dieterle"])])
    assert report.skipped == {"no entity of the graph is named in the question": 1}


def test_fit_rejects_examples_that_are_not_pairs() -> None:
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory())
    with pytest.raises(ConfigError, match="example 2"):
        qa.fit([("who directed [Kismet]", ["William Dieterle"]), "who wrote [Kismet]"])  # type: ignore[list-item]


def test_fitting_again_adds_to_what_was_learned(qa: GraphQA) -> None:
    before = len(qa.model)
    qa.fit([("what year did [Kismet] come out", ["1944"])])
    assert len(qa.model) == before + 1
    answer = qa.ask("what year did [Mildred Pierce] come out", ANA)
    assert answer.answers == ["1945"]
    assert answer.mode == "learned"


# --- ask ----------------------------------------------------------------------------------


def test_unseen_entity_in_brackets(qa: GraphQA) -> None:
    answer = qa.ask("who directed [Mildred Pierce]", ANA)
    assert isinstance(answer, GraphAnswer)
    assert answer.answers == ["Michael Curtiz"]  # the display name, not the id p:curtiz
    assert answer.mode == "learned"
    assert answer.relation_path == RelationPath.parse("directed_by")
    assert [str(p) for p in answer.paths] == ["Mildred Pierce -[directed_by]-> Michael Curtiz"]
    assert answer.paths[0].nodes == ("Mildred Pierce", "p:curtiz")
    (entity,) = answer.entities
    assert (entity.mention, entity.node, entity.method) == (
        "Mildred Pierce",
        "Mildred Pierce",
        "exact",
    )
    assert answer.question == "who directed [Mildred Pierce]"
    assert not answer.truncated


def test_unseen_entity_without_brackets(qa: GraphQA) -> None:
    answer = qa.ask("who directed paris texas", ANA)
    assert answer.answers == ["Wim Wenders"]
    assert answer.entities[0].node == "Paris, Texas"
    assert answer.entities[0].method == "normalised"
    answer = qa.ask("Who wrote Wings of Desire?", ANA)
    assert answer.answers == ["Peter Handke"]


def test_two_hop_learned_path_excludes_the_entity(qa: GraphQA) -> None:
    answer = qa.ask("which films share a director with [Paris, Texas]", ANA)
    assert answer.answers == ["Wings of Desire"]
    assert answer.relation_path == RelationPath.parse("directed_by/^directed_by")
    assert str(answer.paths[0]) == (
        "Paris, Texas -[directed_by]-> Wim Wenders <-[directed_by]- Wings of Desire"
    )
    several = qa.ask("which films share a director with Dark Waters", ANA)
    assert sorted(several.answers) == ["Juarez", "Kismet"]


def test_paraphrase_is_answered_by_the_learned_path(qa: GraphQA) -> None:
    answer = qa.ask("the director of [Wings of Desire] was who", ANA)
    assert answer.answers == ["Wim Wenders"]
    assert answer.mode == "learned"
    answer = qa.ask("in which year was Mildred Pierce released", ANA)
    assert answer.answers == ["1945"]


def test_paraphrase_with_a_relation_word_beats_a_blind_guess(qa: GraphQA) -> None:
    # Regression: no fitted template shares a word with this question but '<e>', so the naive
    # Bayes posterior is just the prior (directed_by ≈ 0.36, the most examples) and is
    # tried first; the NamePlanner's release_year (cued by 'year') is dropped as a duplicate
    # of the classifier's third guess: the answer is 'Wim Wenders'.
    answer = qa.ask("what year did Wings of Desire come out", ANA)
    assert answer.answers == ["1987"]


def test_answer_text_cites_path_and_evidence(qa: GraphQA) -> None:
    answer = qa.ask("which actors starred in [Casablanca]", ANA)
    assert answer.answers == ["Humphrey Bogart", "Ingrid Bergman"]
    assert answer.text.splitlines() == [
        "2 answers: Humphrey Bogart, Ingrid Bergman.",
        "Path from Casablanca: starred_actors.",
        "Evidence:",
        "- Casablanca -[starred_actors]-> Humphrey Bogart",
        "- Casablanca -[starred_actors]-> Ingrid Bergman",
    ]


def test_names_mode_without_any_fit() -> None:
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory())
    answer = qa.ask("who is the director of Casablanca", ANA)
    assert answer.answers == ["Michael Curtiz"]
    assert answer.mode == "names"
    shared = qa.ask("films that share a director with Kismet", ANA)
    assert shared.relation_path == RelationPath.parse("directed_by/^directed_by")
    assert sorted(shared.answers) == ["Dark Waters", "Juarez"]


def test_synonyms_cue_relations_without_fit() -> None:
    qa = GraphQA(
        movies(),
        open_catalog(),
        audit=AuditLog.memory(),
        synonyms={"written_by": ["wrote", "screenplay"], "starred_actors": "acted in"},
    )
    assert qa.ask("who wrote Mildred Pierce", ANA).answers == ["Ranald MacDougall"]
    assert qa.ask("who acted in Juarez", ANA).answers == ["Bette Davis"]


def test_aliases_link_other_names() -> None:
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory(), aliases={"Curtiz": "p:curtiz"})
    answer = qa.ask("which films were directed by Curtiz", ANA)
    assert sorted(answer.answers) == ["Casablanca", "Mildred Pierce"]
    assert answer.entities[0].method == "alias"


# --- ambiguity and refusals ---------------------------------------------------------------


def two_parises() -> NetworkXGraph:
    g = NetworkXGraph()
    g.add_edge("film:paris-2008", "directed_by", "Cédric Klapisch")
    g.add_edge("film:paris-1937", "directed_by", "Jean Choux")
    g.add_node("film:paris-2008", name="Paris")
    g.add_node("film:paris-1937", name="Paris")
    g.add_edge("L'Auberge espagnole", "directed_by", "Cédric Klapisch")
    return g


def test_ambiguous_name_with_answers_for_both_nodes() -> None:
    qa = GraphQA(two_parises(), open_catalog(), audit=AuditLog.memory())
    qa.fit([("who directed [L'Auberge espagnole]", ["Cédric Klapisch"])])
    for question in ["who directed [Paris]", "who directed Paris"]:
        with pytest.raises(AmbiguousEntity) as info:
            qa.ask(question, ANA)
        assert set(info.value.candidates) == {"film:paris-2008", "film:paris-1937"}
        assert info.value.mention == "Paris"
        assert "ask again" in str(info.value)


def test_ambiguity_message_tells_same_named_nodes_apart() -> None:
    # Regression: the message lists display names only ("'Paris', 'Paris'; ask again naming one
    # exactly"), which cannot be told apart or named.
    qa = GraphQA(two_parises(), open_catalog(), audit=AuditLog.memory())
    qa.fit([("who directed [L'Auberge espagnole]", ["Cédric Klapisch"])])
    with pytest.raises(AmbiguousEntity) as info:
        qa.ask("who directed [Paris]", ANA)
    assert "film:paris-2008" in str(info.value)
    assert "film:paris-1937" in str(info.value)


def test_naming_the_id_settles_an_ambiguity() -> None:
    qa = GraphQA(two_parises(), open_catalog(), audit=AuditLog.memory())
    qa.fit([("who directed [L'Auberge espagnole]", ["Cédric Klapisch"])])
    answer = qa.ask("who directed [film:paris-1937]", ANA)
    assert answer.answers == ["Jean Choux"]
    assert answer.entities[0].candidates == ("film:paris-1937",)


def test_ambiguous_name_with_one_answer_is_answered_with_a_note() -> None:
    g = NetworkXGraph()
    g.add_edge("film:paris", "directed_by", "Cédric Klapisch")
    g.add_edge("place:paris", "capital_of", "France")
    g.add_node("film:paris", name="Paris")
    g.add_node("place:paris", name="Paris")
    qa = GraphQA(g, open_catalog(), audit=AuditLog.memory())
    answer = qa.ask("who directed [Paris]", ANA)
    assert answer.answers == ["Cédric Klapisch"]
    (entity,) = answer.entities
    assert entity.node == "film:paris"
    assert set(entity.candidates) == {"film:paris", "place:paris"}
    assert any("could name 2 nodes" in n for n in answer.notes)


def test_no_entity_is_cannot_answer_with_a_hint(qa: GraphQA) -> None:
    for question in ["who directed [Citizen Kane]", "what is the meaning of life"]:
        with pytest.raises(CannotAnswer) as info:
            qa.ask(question, ANA)
        assert not isinstance(info.value, AmbiguousEntity)
        assert "no entity of the graph is named" in str(info.value)
        assert "[brackets]" in str(info.value)
        assert "alias" in str(info.value)


def test_no_path_is_cannot_answer_naming_what_was_tried(qa: GraphQA) -> None:
    with pytest.raises(CannotAnswer, match=r"no path from 'Wings of Desire' fits.*starred_actors"):
        qa.ask("which actors starred in [Wings of Desire]", ANA)


def test_no_plan_is_cannot_answer_suggesting_fit_or_synonyms() -> None:
    qa = GraphQA(movies(), open_catalog(), audit=AuditLog.memory())
    with pytest.raises(CannotAnswer, match="fit GraphQA on example questions or declare"):
        qa.ask("tell me about Kismet", ANA)


# --- configuration ------------------------------------------------------------------------


def test_synonyms_naming_an_unknown_relation() -> None:
    with pytest.raises(ConfigError, match=r"\['made_by'\].*directed_by"):
        GraphQA(movies(), open_catalog(), synonyms={"made_by": ["makes"]})


def test_not_a_graph() -> None:
    with pytest.raises(ConfigError, match=r"needs a graph store.*'not a graph'"):
        GraphQA("not a graph", open_catalog())  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"max_hops": 0}, {"max_fanout": 0}, {"max_frontier": 0}])
def test_limits_must_be_positive(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        GraphQA(movies(), open_catalog(), audit=AuditLog.memory(), **kwargs)  # type: ignore[arg-type]


def test_runner_must_share_the_catalog() -> None:
    from crossroads.tools import ToolRunner

    runner = ToolRunner(open_catalog(), audit=AuditLog.memory())
    with pytest.raises(ConfigError, match="share one catalog"):
        GraphQA(movies(), open_catalog(), runner=runner)
