"""Text normalisation for linking and planning: fold, key, loose_key, singular and stem."""

from __future__ import annotations

import pytest

from crossroads.tools.graph._text import fold, key, loose_key, singular, stem, tokenize


@pytest.mark.parametrize(
    ("word", "folded"),
    [("Chloë", "chloe"), ("Buñuel", "bunuel"), ("ÉCOLE", "ecole"), ("Mother's", "mothers")],
)
def test_fold_strips_accents_case_and_apostrophes(word: str, folded: str) -> None:
    assert fold(word) == folded


def test_fold_drops_the_typographic_apostrophe_too() -> None:
    assert fold("Mother’s") == fold("Mother's") == "mothers"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Chloë Sevigny", "CHLOE SEVIGNY!"),
        ("Luis Buñuel", "luis bunuel"),
        ("Paris, Texas", "Paris Texas"),
        ("Some Mother's Son", "Some Mothers Son"),
        ("Some Mother’s Son", "some mothers son"),
        ("  Kismet  ", "kismet"),
    ],
)
def test_key_ignores_case_accents_punctuation_and_apostrophes(a: str, b: str) -> None:
    assert key(a) == key(b)


def test_key_joins_folded_words_with_single_spaces() -> None:
    assert key("Paris,   Texas (1984)") == "paris texas 1984"
    assert key("Luis Buñuel") == "luis bunuel"


@pytest.mark.parametrize(
    ("a", "b"),
    [("Paris", "Texas"), ("Kismet", "Kismet 2"), ("Amélie", "Amelia"), ("Son", "Sons of")],
)
def test_key_keeps_different_names_apart(a: str, b: str) -> None:
    assert key(a) != key(b)


def test_key_of_punctuation_only_is_empty() -> None:
    assert key("?!, --") == ""


def test_tokenize_keeps_offsets_into_the_original_text() -> None:
    text = "who directed [Chloë's film]?"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["who", "directed", "chloes", "film"]
    assert [text[t.start : t.end] for t in tokens] == ["who", "directed", "Chloë's", "film"]


@pytest.mark.parametrize(
    ("plural", "single"),
    [("statins", "statin"), ("studies", "study"), ("boxes", "box"), ("matches", "match")],
)
def test_singular_undoes_english_plurals(plural: str, single: str) -> None:
    assert singular(plural) == single


@pytest.mark.parametrize("word", ["bus", "glass", "analysis", "famous", "statin", "cat", "x1s"])
def test_singular_leaves_non_plurals_alone(word: str) -> None:
    assert singular(word) == word


def test_singular_of_a_plural_ending_in_ie() -> None:
    # Regression: singular() turns every '-ies' into '-y', so 'movies' -> 'movy' (and 'cookies' ->
    # 'cooky'): loose_key('Scary Movies') != loose_key('Scary Movie'), and the plural level
    # of entity linking misses such names.
    assert singular("movies") == "movie"
    assert singular("cookies") == "cookie"
    assert loose_key("Scary Movies") == loose_key("Scary Movie")


def test_loose_key_matches_plural_and_singular_names() -> None:
    assert loose_key("Statins") == loose_key("statin")
    assert loose_key("Case Studies") == loose_key("case study")
    assert loose_key("Glass Boxes") == "glass box"
    assert key("Statins") != key("statin")  # only the loose key forgives the plural


@pytest.mark.parametrize(
    "words",
    [
        ("directed", "director", "directs", "directing"),
        ("starring", "starred"),
        ("release", "released", "releasing"),
        ("interacts", "interact"),
        ("metabolised", "metabolises"),
        ("makes", "make"),
    ],
)
def test_stem_gives_related_words_the_same_stem(words: tuple[str, ...]) -> None:
    assert len({stem(w) for w in words}) == 1, {w: stem(w) for w in words}


def test_stem_of_directed_is_direct() -> None:
    assert stem("directed") == "direct"


@pytest.mark.parametrize(("a", "b"), [("directed", "written"), ("year", "release"), ("by", "be")])
def test_stem_keeps_unrelated_words_apart(a: str, b: str) -> None:
    assert stem(a) != stem(b)


def test_stem_keeps_at_least_three_letters() -> None:
    assert stem("ended") == "end"
    assert stem("red") == "red"
    assert len(stem("sees")) >= 3


@pytest.mark.parametrize("word", ["series", "species", "news", "diabetes", "measles", "analysis"])
def test_words_that_only_look_plural_stay_as_they_are(word: str) -> None:
    assert singular(word) == word
