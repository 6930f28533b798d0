"""Relation-path planning: explain() over the graph, the learned PathModel (templates and
naive Bayes for paraphrases) and the NamePlanner (relation names and synonyms)."""

from __future__ import annotations

from crossroads.connectors import NetworkXGraph
from crossroads.tools.graph import EntityLinker, NamePlanner, PathModel, RelationPath, explain
from crossroads.tools.graph._planner import adjacency, features

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
PHARMA = [
    ("Atorvastatin", "METABOLISED_BY", "CYP3A4"),
    ("Simvastatin", "METABOLISED_BY", "CYP3A4"),
    ("Midazolam", "METABOLISED_BY", "CYP3A4"),
    ("Warfarin", "METABOLISED_BY", "CYP2C9"),
    ("Atorvastatin", "INTERACTS_WITH", "Clarithromycin"),
    ("Warfarin", "INTERACTS_WITH", "Simvastatin"),
    ("Midazolam", "INTERACTS_WITH", "Ketoconazole"),
    ("Atorvastatin", "MANUFACTURED_BY", "Pfizer"),
    ("Simvastatin", "MANUFACTURED_BY", "Merck"),
]


def build(triples: list[tuple[str, str, str]]) -> NetworkXGraph:
    g = NetworkXGraph()
    for s, r, o in triples:
        g.add_edge(s, r, o)
    return g


def P(text: str) -> RelationPath:
    return RelationPath.parse(text)


def template(g: NetworkXGraph, question: str, node: str) -> list[str]:
    mention = next(m for m in EntityLinker(g).mentions(question) if node in m.nodes)
    return mention.template(question)


# --- explain ------------------------------------------------------------------------------


def test_explain_one_hop() -> None:
    adj = adjacency(build(MOVIES))
    assert explain(adj, "Kismet", ["William Dieterle"]) == (1.0, [P("directed_by")])


def test_explain_one_hop_backwards() -> None:
    adj = adjacency(build(MOVIES))
    f1, paths = explain(adj, "William Dieterle", ["Kismet", "Dark Waters", "Juarez"])
    assert (f1, paths) == (1.0, [P("^directed_by")])


def test_explain_two_hops_there_and_back() -> None:
    adj = adjacency(build(MOVIES))
    assert explain(adj, "Kismet", ["Dark Waters", "Juarez"]) == (
        1.0,
        [P("directed_by/^directed_by")],
    )


def test_explain_three_hops() -> None:
    adj = adjacency(build(MOVIES))
    f1, paths = explain(adj, "Kismet", ["Merle Oberon", "Bette Davis"])
    assert f1 == 1.0
    assert paths == [P("directed_by/^directed_by/starred_actors")]


def test_explain_prefers_the_shortest_exact_path() -> None:
    # directed_by/^directed_by/directed_by also reaches exactly William Dieterle
    adj = adjacency(build(MOVIES))
    assert explain(adj, "Kismet", ["William Dieterle"])[1] == [P("directed_by")]


def test_explain_goes_deeper_for_a_better_f1() -> None:
    # directed_by/^directed_by reaches Dark Waters and Juarez (F1 2/3);
    # release_year/^release_year reaches exactly Dark Waters
    adj = adjacency(build(MOVIES))
    assert explain(adj, "Kismet", ["Dark Waters"]) == (1.0, [P("release_year/^release_year")])


def test_explain_partial_answer_scores_f1() -> None:
    adj = adjacency(build(MOVIES))
    f1, paths = explain(adj, "Kismet", ["Ronald Colman", "Nobody"], max_hops=1)
    assert paths == [P("starred_actors")]
    assert abs(f1 - 2 * 1 / (2 + 2)) < 1e-9


def test_explain_respects_max_hops() -> None:
    adj = adjacency(build(MOVIES))
    assert explain(adj, "Kismet", ["Dark Waters"], max_hops=1) == (0.0, [])
    assert explain(adj, "Kismet", ["Merle Oberon"], max_hops=2) == (0.0, [])


def test_explain_unreachable_or_empty_answers() -> None:
    adj = adjacency(build(MOVIES))
    assert explain(adj, "Kismet", ["Casablanca"]) == (0.0, [])
    assert explain(adj, "Kismet", []) == (0.0, [])


def test_explain_ties_give_every_path() -> None:
    g = build(MOVIES)
    g.add_edge("Kismet", "produced_by", "William Dieterle")
    f1, paths = explain(adjacency(g), "Kismet", ["William Dieterle"])
    assert f1 == 1.0
    assert sorted(map(str, paths)) == ["directed_by", "produced_by"]


def test_explain_over_allowed_relations_only() -> None:
    adj = adjacency(build(MOVIES), frozenset({"release_year"}))
    f1, paths = explain(adj, "Kismet", ["Dark Waters", "Juarez"])
    assert paths == [P("release_year/^release_year")]  # directed_by is not available
    assert abs(f1 - 2 / 3) < 1e-9


# --- the learned model --------------------------------------------------------------------

TEMPLATES = {
    "who directed <e>": "directed_by",
    "who is the director of <e>": "directed_by",
    "who wrote <e>": "written_by",
    "who is the writer of <e>": "written_by",
    "which actors starred in <e>": "starred_actors",
    "who acted in <e>": "starred_actors",
    "when was <e> released": "release_year",
    "what year was <e> released": "release_year",
}


def trained() -> PathModel:
    model = PathModel()
    for text, path in TEMPLATES.items():
        for _ in range(3):  # three entities per template
            model.add(text, {P(path): 1.0})
    return model


def test_known_template_gives_its_path() -> None:
    (cand,) = trained().candidates(["who", "wrote", "<e>"])
    assert cand.path == P("written_by")
    assert cand.source == "template"
    assert cand.score == 1.0


def test_template_distribution_shares_and_noise() -> None:
    model = PathModel(min_share=0.1)
    model.add("who made <e>", {P("directed_by"): 0.5, P("produced_by"): 0.5})
    model.add("who made <e>", {P("directed_by"): 1.0})
    model.add("who made <e>", {P("directed_by"): 0.9, P("written_by"): 0.1})
    dist = dict(model.distribution("who made <e>"))
    assert set(dist) == {P("directed_by"), P("produced_by")}  # written_by (1/30) is noise
    assert abs(dist[P("directed_by")] - 2.4 / 3) < 1e-9
    assert model.counts["who made <e>"] == 3
    assert len(model) == 1


def test_paraphrase_is_classified_by_shared_words() -> None:
    model = trained()
    for question, path in [
        ("the director of <e> was who", "directed_by"),
        ("name the writer of <e>", "written_by"),
        ("<e> starred which actors", "starred_actors"),
        ("in which year was <e> released", "release_year"),
    ]:
        cands = model.candidates(question.split())
        assert cands, question
        assert cands[0].source == "similar"
        assert cands[0].path == P(path), (question, cands)
        assert cands[0].score > 0.5


def test_unseen_wording_without_known_words_is_not_confident() -> None:
    cands = trained().candidates(["banana", "<e>", "kiwi"])
    assert all(c.score < 0.5 for c in cands)


def test_empty_model_proposes_nothing() -> None:
    assert PathModel().candidates(["who", "directed", "<e>"]) == []


def test_features_are_stems_pairs_skip_pairs_and_length() -> None:
    assert features(["who", "directed", "<e>"]) == [
        "who",
        "direct",
        "<e>",
        "who direct",
        "direct <e>",
        "who _ <e>",
        "len:1",
    ]
    assert features(["w"] * 40)[-1] == "len:5"  # buckets of three words, capped


# --- planning from names ------------------------------------------------------------------


def names_paths(
    g: NetworkXGraph,
    question: str,
    node: str,
    synonyms: dict[str, list[str]] | None = None,
    allowed: frozenset[str] | None = None,
) -> list[str]:
    allowed = frozenset(g.relations()) if allowed is None else allowed
    planner = NamePlanner(g.relations(), synonyms)
    cands = planner.candidates(template(g, question, node), node, adjacency(g, allowed), allowed)
    assert all(c.source == "names" for c in cands)
    return [str(c.path) for c in cands]


def test_names_chain_two_cues_from_the_entity_outwards() -> None:
    g = build(PHARMA)
    paths = names_paths(g, "Which drugs interact with drugs metabolised by CYP3A4?", "CYP3A4")
    assert paths == ["^METABOLISED_BY/(INTERACTS_WITH|^INTERACTS_WITH)"]


def test_names_direction_read_off_the_graph() -> None:
    g = build(PHARMA)
    assert names_paths(g, "Which enzyme metabolises Warfarin?", "Warfarin") == ["METABOLISED_BY"]
    assert names_paths(g, "what is metabolised by CYP2C9", "CYP2C9") == ["^METABOLISED_BY"]


def test_synonym_cues_a_relation() -> None:
    g = build(PHARMA)
    assert names_paths(g, "who makes Atorvastatin", "Atorvastatin") == []
    synonyms = {"MANUFACTURED_BY": ["makes", "produces"]}
    assert names_paths(g, "who makes Atorvastatin", "Atorvastatin", synonyms) == ["MANUFACTURED_BY"]
    assert names_paths(g, "who produces Simvastatin", "Simvastatin", synonyms) == [
        "MANUFACTURED_BY"
    ]


def test_multi_word_synonym() -> None:
    g = build(MOVIES)
    synonyms = {"starred_actors": ["acted in"]}
    assert names_paths(g, "who acted in Kismet", "Kismet", synonyms) == ["starred_actors"]


def test_share_cue_makes_a_there_and_back_step() -> None:
    g = build(MOVIES)
    paths = names_paths(g, "films that share a director with Kismet", "Kismet")
    assert paths == ["directed_by/^directed_by"]
    assert names_paths(g, "who is the director of Kismet", "Kismet") == ["directed_by"]


def test_forbidden_cued_relation_stays_in_the_path() -> None:
    g = build(MOVIES)
    paths = names_paths(g, "who directed Kismet", "Kismet", allowed=frozenset({"release_year"}))
    assert paths == ["(directed_by|^directed_by)"]


def test_no_cue_no_candidate() -> None:
    g = build(MOVIES)
    assert names_paths(g, "tell me about Kismet", "Kismet") == []


def test_two_words_of_one_relation_name_cue_it_once() -> None:
    # Regression: 'released' and 'year' are both words of release_year, so each becomes a step:
    # the planner proposes release_year/^release_year/release_year and GraphQA answers
    # '1944' to "which films were released in the same year as Kismet".
    g = build(MOVIES)
    question = "which films were released in the same year as Kismet"
    assert names_paths(g, question, "Kismet") == ["release_year/^release_year"]
