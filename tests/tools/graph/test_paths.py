"""Relation paths (parse/str, errors) and traversal: evidence chains, ranking by support,
exclude_starts, visibility, fan-out and frontier caps, either-way steps."""

from __future__ import annotations

import pytest

from crossroads.connectors import NetworkXGraph
from crossroads.errors import ConfigError
from crossroads.tools.graph import GraphPath, RelationPath, Step, traverse

MOVIES = [
    ("Kismet", "directed_by", "William Dieterle"),
    ("Kismet", "written_by", "Edward Knoblock"),
    ("Kismet", "starred_actors", "Ronald Colman"),
    ("Kismet", "starred_actors", "Marlene Dietrich"),
    ("Kismet", "release_year", "1944"),
    ("Dark Waters", "directed_by", "William Dieterle"),
    ("Dark Waters", "starred_actors", "Merle Oberon"),
    ("Dark Waters", "release_year", "1944"),
    ("Juarez", "directed_by", "William Dieterle"),
    ("Juarez", "starred_actors", "Bette Davis"),
    ("Juarez", "release_year", "1939"),
]


def movies() -> NetworkXGraph:
    g = NetworkXGraph()
    for s, r, o in MOVIES:
        g.add_edge(s, r, o)
    return g


def P(text: str) -> RelationPath:
    return RelationPath.parse(text)


# --- parsing and printing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("directed_by", [("directed_by", "out")]),
        ("^directed_by", [("directed_by", "in")]),
        ("directed_by/^directed_by", [("directed_by", "out"), ("directed_by", "in")]),
        ("(INTERACTS_WITH|^INTERACTS_WITH)", [("INTERACTS_WITH", "both")]),
        (
            "METABOLISED_BY/(INTERACTS_WITH|^INTERACTS_WITH)",
            [("METABOLISED_BY", "out"), ("INTERACTS_WITH", "both")],
        ),
        ("<has part>/^<has part>", [("has part", "out"), ("has part", "in")]),
        ("^<a/b>", [("a/b", "in")]),
        ("film.film.directed_by", [("film.film.directed_by", "out")]),
        (" directed_by / ^written_by ", [("directed_by", "out"), ("written_by", "in")]),
    ],
)
def test_parse_reads_property_path_notation(text: str, steps: list[tuple[str, str]]) -> None:
    path = P(text)
    assert [(s.relation, s.direction) for s in path.steps] == steps


@pytest.mark.parametrize(
    "text",
    [
        "directed_by",
        "^directed_by",
        "directed_by/^directed_by/starred_actors",
        "(INTERACTS_WITH|^INTERACTS_WITH)",
        "<has part>/(<has part>|^<has part>)",
        "^<a/b>/<2nd>",
    ],
)
def test_str_and_parse_round_trip(text: str) -> None:
    assert str(P(text)) == text
    assert P(str(P(text))) == P(text)


@pytest.mark.parametrize(
    "name", ["has part", "a/b", "2nd", "x^y", "rdfs:label", "part of (region)"]
)
@pytest.mark.parametrize("direction", ["out", "in", "both"])
def test_odd_relation_names_round_trip_quoted(name: str, direction: str) -> None:
    # Regression: str() writes
    # '(<part of (region)>|^<part of (region)>)', which parse() cannot read, so a
    # NamePlanner path over such a relation fails graph.traverse's argument validation.
    path = RelationPath((Step(name, direction), Step("r", "in")))  # type: ignore[arg-type]
    assert RelationPath.parse(str(path)) == path


def test_of_accepts_text_steps_or_a_path() -> None:
    path = P("directed_by/^directed_by")
    assert RelationPath.of(path) is path
    assert RelationPath.of("directed_by/^directed_by") == path
    assert RelationPath.of([Step("directed_by"), Step("directed_by", "in")]) == path
    assert path.relations == frozenset({"directed_by"})
    assert len(path) == 2


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "written like 'directed_by/^directed_by'"),
        ("   ", "written like"),
        ("((", "cannot read '(('"),
        ("directed_by//written_by", "cannot read ''"),
        ("directed_by/", "cannot read ''"),
        ("^", "cannot read '^'"),
        ("(a|b)", "cannot read '(a|b)'"),
        ("two words", "quote odd names as <name>"),
    ],
)
def test_unreadable_paths_raise_config_error_naming_the_part(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"relation path|written like") as info:
        P(text)
    assert says in str(info.value)


def test_either_way_step_naming_two_relations_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"mixes two relations.*\(r\|\^r\)"):
        P("(a|^b)")


def test_empty_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one step"):
        RelationPath(())


def test_graph_path_str_reads_as_a_chain() -> None:
    chain = GraphPath(
        nodes=("m1", "p1", "m2"),
        steps=(Step("directed_by"), Step("directed_by", "in")),
        names=("Kismet", "William Dieterle", "Dark Waters"),
    )
    assert str(chain) == "Kismet -[directed_by]-> William Dieterle <-[directed_by]- Dark Waters"
    assert chain.answer == "m2"
    assert str(GraphPath(nodes=("a", "b"), steps=(Step("has part"),))) == "a -[<has part>]-> b"


# --- traversal ----------------------------------------------------------------------------


def test_one_hop_gives_the_answer_and_its_evidence() -> None:
    t = traverse(movies(), ["Kismet"], P("directed_by"))
    assert t.answers == ["William Dieterle"]
    assert [str(e) for e in t.evidence] == ["Kismet -[directed_by]-> William Dieterle"]
    assert t.support == [1]
    assert not t.truncated


def test_evidence_uses_display_names_and_answers_are_ids() -> None:
    g = movies()
    g.add_node("Kismet", name="Kismet (1944 film)")
    t = traverse(g, ["Kismet"], P("directed_by/^directed_by"))
    assert t.answers == ["Dark Waters", "Juarez"]
    assert str(t.evidence[0]) == (
        "Kismet (1944 film) -[directed_by]-> William Dieterle <-[directed_by]- Dark Waters"
    )
    assert t.evidence[0].nodes == ("Kismet", "William Dieterle", "Dark Waters")


def test_films_sharing_a_director_do_not_include_the_start() -> None:
    t = traverse(movies(), ["Kismet"], P("directed_by/^directed_by"))
    assert "Kismet" not in t.answers
    assert sorted(t.answers) == ["Dark Waters", "Juarez"]


def test_without_exclude_starts_the_start_comes_back() -> None:
    t = traverse(movies(), ["Kismet"], P("directed_by/^directed_by"), exclude_starts=False)
    assert sorted(t.answers) == ["Dark Waters", "Juarez", "Kismet"]


def test_answers_are_deduplicated_and_ranked_by_support() -> None:
    g = NetworkXGraph()
    # 'Lone' is discovered first but reached by one chain; 'Shared' by two
    g.add_edge("start", "r", "a")
    g.add_edge("start", "r", "b")
    g.add_edge("a", "s", "Lone")
    g.add_edge("a", "s", "Shared")
    g.add_edge("b", "s", "Shared")
    t = traverse(g, ["start"], P("r/s"))
    assert t.answers == ["Shared", "Lone"]
    assert t.support == [2, 1]
    assert len(t.evidence) == 2
    assert [e.answer for e in t.evidence] == t.answers


def test_several_starts_add_support() -> None:
    t = traverse(movies(), ["Kismet", "Juarez"], P("directed_by/^directed_by"))
    assert t.answers == ["Dark Waters"]  # both starts excluded
    assert t.support == [2]


def test_a_path_that_reaches_nothing_gives_no_answers() -> None:
    t = traverse(movies(), ["Kismet"], P("written_by/starred_actors"))
    assert t.answers == []
    assert t.evidence == []
    assert t.support == []
    t = traverse(movies(), ["Nowhere"], P("directed_by"))
    assert t.answers == []


def test_invisible_nodes_are_neither_returned_nor_passed_through() -> None:
    g = movies()
    hidden = {"Dark Waters", "William Dieterle"}

    def visible(node: str) -> bool:
        return node not in hidden

    assert traverse(g, ["Kismet"], P("directed_by"), visible=visible).answers == []
    # Juarez is reachable only through the hidden director
    assert traverse(g, ["Kismet"], P("directed_by/^directed_by"), visible=visible).answers == []
    shown = traverse(
        g, ["Kismet"], P("directed_by/^directed_by"), visible=lambda n: n != "Dark Waters"
    )
    assert shown.answers == ["Juarez"]
    actors = traverse(g, ["Juarez"], P("directed_by/^directed_by/starred_actors"), visible=visible)
    assert actors.answers == []


def test_fanout_cap_truncates_with_a_note() -> None:
    t = traverse(movies(), ["Kismet"], P("starred_actors"), max_fanout=1)
    assert t.answers == ["Ronald Colman"]
    assert t.truncated
    assert len(t.notes) == 1
    assert "'Kismet'" in t.notes[0]
    assert "more than 1" in t.notes[0]


def test_fanout_at_the_cap_is_not_truncated() -> None:
    t = traverse(movies(), ["Kismet"], P("starred_actors"), max_fanout=2)
    assert sorted(t.answers) == ["Marlene Dietrich", "Ronald Colman"]
    assert not t.truncated
    assert t.notes == ()


def test_frontier_cap_truncates_with_a_note() -> None:
    t = traverse(movies(), ["William Dieterle"], P("^directed_by"), max_frontier=2)
    assert len(t.answers) == 2
    assert t.truncated
    assert any("more than 2 nodes after step 1" in n for n in t.notes)


def test_frontier_cap_notes_each_step_once() -> None:
    # Regression: the frontier note is appended once per node dropped (the guard looks for the
    # word 'frontier', which the note does not contain), so a hub repeats the same note
    # hundreds of times.
    g = NetworkXGraph()
    for i in range(5):
        g.add_edge("hub", "r", f"n{i}")
    t = traverse(g, ["hub"], P("r"), max_frontier=1)
    assert t.truncated
    assert len(t.notes) == len(set(t.notes)) == 1, t.notes


def test_either_way_step_is_oriented_in_the_evidence() -> None:
    g = NetworkXGraph()
    g.add_edge("Atorvastatin", "INTERACTS_WITH", "Clarithromycin")
    g.add_edge("Warfarin", "INTERACTS_WITH", "Atorvastatin")
    t = traverse(g, ["Atorvastatin"], P("(INTERACTS_WITH|^INTERACTS_WITH)"))
    chains = {e.answer: str(e) for e in t.evidence}
    assert chains == {
        "Clarithromycin": "Atorvastatin -[INTERACTS_WITH]-> Clarithromycin",
        "Warfarin": "Atorvastatin <-[INTERACTS_WITH]- Warfarin",
    }
    steps = {e.answer: e.steps[0].direction for e in t.evidence}
    assert steps == {"Clarithromycin": "out", "Warfarin": "in"}


def test_backward_step_follows_edges_to_their_subject() -> None:
    t = traverse(movies(), ["1944"], P("^release_year"))
    assert t.answers == ["Kismet", "Dark Waters"]
    assert str(t.evidence[1]) == "1944 <-[release_year]- Dark Waters"


def test_a_first_step_self_loop_answers_but_a_later_return_does_not() -> None:
    # MetaQA's "Lemmy" is both a film and its star: one node with an edge to itself
    g = NetworkXGraph()
    g.add_edge("Lemmy", "starred_actors", "Lemmy")
    g.add_edge("Lemmy", "directed_by", "Greg Olliver")
    assert traverse(g, ["Lemmy"], P("^starred_actors")).answers == ["Lemmy"]
    assert traverse(g, ["Lemmy"], P("directed_by/^directed_by")).answers == []
