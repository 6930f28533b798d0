"""Entity linking: exact, alias, normalised and plural matches; [brackets]; longest spans;
templates; several nodes behind one name."""

from __future__ import annotations

import pytest

from crossroads.connectors import NetworkXGraph
from crossroads.errors import ConfigError
from crossroads.tools.graph import EntityLinker, Mention


def graph() -> NetworkXGraph:
    g = NetworkXGraph()
    for s, r, o in [
        ("Kismet", "directed_by", "William Dieterle"),
        ("Chloë Sevigny", "starred_in", "Boys Don't Cry"),
        ("Paris, Texas", "directed_by", "Wim Wenders"),
        ("Paris", "directed_by", "Cédric Klapisch"),
        ("Some Mother's Son", "directed_by", "Terry George"),
        ("Luis Buñuel", "directed", "Un Chien Andalou"),
        ("Atorvastatin", "is_a", "Statin"),
        ("Amélie", "directed_by", "Jean-Pierre Jeunet"),
        ("Amelie", "directed_by", "Someone Else"),
    ]:
        g.add_edge(s, r, o)
    g.add_node("Q1", name="Acetaminophen")
    return g


@pytest.fixture
def linker() -> EntityLinker:
    return EntityLinker(graph(), aliases={"paracetamol": "Q1", "Tylenol": ["Q1"]})


def test_exact_id(linker: EntityLinker) -> None:
    assert linker.resolve("Kismet") == ("exact", ("Kismet",))


def test_exact_display_name_gives_the_id(linker: EntityLinker) -> None:
    assert linker.resolve("Acetaminophen") == ("exact", ("Q1",))
    assert linker.resolve("Q1") == ("exact", ("Q1",))


def test_alias(linker: EntityLinker) -> None:
    assert linker.resolve("paracetamol") == ("alias", ("Q1",))
    assert linker.resolve("PARACETAMOL") == ("alias", ("Q1",))  # aliases are normalised
    assert linker.resolve("tylenol") == ("alias", ("Q1",))


def test_alias_to_an_unknown_node_is_a_config_error() -> None:
    bad = EntityLinker(graph(), aliases={"paracetamol": "No Such Node"})
    with pytest.raises(ConfigError, match="'No Such Node', which is not in the graph"):
        bad.resolve("Kismet")


def test_alias_without_a_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least one node"):
        EntityLinker(graph(), aliases={"paracetamol": []})
    with pytest.raises(ConfigError, match="needs a name"):
        EntityLinker(graph(), aliases={"  ": "Q1"})


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("kismet", "Kismet"),
        ("CHLOE SEVIGNY!", "Chloë Sevigny"),
        ("luis bunuel", "Luis Buñuel"),
        ("paris texas", "Paris, Texas"),
        ("Some Mothers Son", "Some Mother's Son"),
        ("acetaminophen", "Q1"),
    ],
)
def test_normalised(linker: EntityLinker, text: str, node: str) -> None:
    assert linker.resolve(text) == ("normalised", (node,))


def test_plural(linker: EntityLinker) -> None:
    assert linker.resolve("statins") == ("plural", ("Statin",))
    assert linker.resolve("Statin") == ("exact", ("Statin",))


def test_unknown_name_resolves_to_nothing(linker: EntityLinker) -> None:
    assert linker.resolve("Casablanca") is None
    assert linker.resolve("?!") is None


def test_exact_text_wins_over_a_normalised_twin(linker: EntityLinker) -> None:
    assert linker.resolve("Amélie") == ("exact", ("Amélie",))
    assert linker.resolve("Amelie") == ("exact", ("Amelie",))


def test_two_nodes_with_one_normalised_key_are_both_candidates(linker: EntityLinker) -> None:
    method, nodes = linker.resolve("AMELIE") or ("", ())
    assert method == "normalised"
    assert set(nodes) == {"Amélie", "Amelie"}
    (mention,) = linker.mentions("who directed [AMELIE]")
    assert set(mention.nodes) == {"Amélie", "Amelie"}


def test_bracketed_mention_is_the_only_one(linker: EntityLinker) -> None:
    question = "did Kismet star [chloe sevigny]?"
    mentions = linker.mentions(question)
    assert [(m.text, m.nodes, m.method, m.bracketed) for m in mentions] == [
        ("chloe sevigny", ("Chloë Sevigny",), "normalised", True)
    ]
    assert question[mentions[0].start : mentions[0].end] == "[chloe sevigny]"
    assert mentions[0].words == 2


def test_unknown_bracketed_name_gives_no_nodes(linker: EntityLinker) -> None:
    (mention,) = linker.mentions("who directed [Casablanca] like Kismet")
    assert mention.text == "Casablanca"
    assert mention.nodes == ()
    assert mention.bracketed


def test_several_brackets_give_several_mentions(linker: EntityLinker) -> None:
    mentions = linker.mentions("[kismet] and [Paris, Texas]")
    assert [(m.text, m.nodes) for m in mentions] == [
        ("kismet", ("Kismet",)),
        ("Paris, Texas", ("Paris, Texas",)),
    ]


def test_without_brackets_the_longest_span_comes_first(linker: EntityLinker) -> None:
    mentions = linker.mentions("who directed paris texas")
    assert mentions[0].text == "paris texas"
    assert mentions[0].nodes == ("Paris, Texas",)
    assert mentions[0].words == 2
    assert not mentions[0].bracketed
    # the shorter span is still offered, after it
    assert ("paris", ("Paris",)) in [(m.text, m.nodes) for m in mentions[1:]]


def test_without_brackets_a_name_inside_a_sentence_is_found(linker: EntityLinker) -> None:
    mentions = linker.mentions("What did Chloë Sevigny star in?")
    assert mentions[0].text == "Chloë Sevigny"
    assert mentions[0].method == "exact"


def test_stricter_match_ranks_first_among_equal_spans(linker: EntityLinker) -> None:
    mentions = linker.mentions("compare statins with Kismet")
    one_word = [(m.text, m.method) for m in mentions if m.words == 1]
    assert one_word[:2] == [("Kismet", "exact"), ("statins", "plural")]


def test_no_mention_in_a_question_about_nothing(linker: EntityLinker) -> None:
    assert linker.mentions("what is the meaning of life") == []


def test_template_replaces_the_span_with_e(linker: EntityLinker) -> None:
    question = "Who directed [Paris, Texas]?"
    (mention,) = linker.mentions(question)
    assert mention.template(question) == ["who", "directed", "<e>"]
    plain = "What did Chloë Sevigny star in?"
    assert linker.mentions(plain)[0].template(plain) == ["what", "did", "<e>", "star", "in"]


def test_template_of_a_hand_made_mention() -> None:
    m = Mention(text="Kismet", start=13, end=19, nodes=("Kismet",), method="exact")
    assert m.template("who directed Kismet in 1944") == ["who", "directed", "<e>", "in", "1944"]


def test_names_gives_display_names(linker: EntityLinker) -> None:
    assert linker.names(["Q1", "Kismet"]) == ["Acetaminophen", "Kismet"]


def test_nodes_added_after_the_first_lookup_are_linked() -> None:
    g = NetworkXGraph()
    g.add_edge("Kismet", "directed_by", "William Dieterle")
    linker = EntityLinker(g)
    assert linker.resolve("Casablanca") is None
    g.add_edge("Casablanca", "directed_by", "Michael Curtiz")
    assert linker.resolve("casablanca") == ("normalised", ("Casablanca",))


@pytest.mark.parametrize(
    ("question", "text", "node"),
    [
        ("who directed Moulin Rouge! again", "Moulin Rouge!", "Moulin Rouge!"),
        ("who directed Moulin Rouge again", "Moulin Rouge", "Moulin Rouge"),
        ("who starred in +1 then", "+1", "+1"),
    ],
)
def test_punctuation_touching_a_name_is_part_of_it_when_a_node_says_so(
    question: str, text: str, node: str
) -> None:
    g = NetworkXGraph()
    for film in ("Moulin Rouge!", "Moulin Rouge", "+1"):
        g.add_edge(film, "directed_by", f"director of {film}")
    best = EntityLinker(g).mentions(question)[0]
    assert (best.text, best.nodes, best.method) == (text, (node,), "exact")
    assert question[best.start : best.end] == text
