"""Deterministic answers: holistic questions (summarise, compare, list every …) quote every
permitted document once, in index order, with exact offsets and never a heading line;
other questions quote only the documents holding a matching sentence, best first; nothing
relevant, or nothing readable, is CannotAnswer (with a reason) so a router can fall back."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.base import Document
from crossroads.errors import CannotAnswer, ConfigError, PolicyViolation, ToolError
from crossroads.policy import Catalog, Principal
from crossroads.tools.long_context import LongContext, assemble, is_holistic
from crossroads.tools.rag import DocumentAnswer

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
SAM = Principal("sam", groups=["medical_info"], attributes={"region": "US"})
QUINN = Principal("quinn", groups=["qa"])
ROOT = Principal("root", groups=["admins"])
PRINCIPALS = [EVA, SAM, QUINN, ROOT]
HOLISTIC = [
    "Summarise every SOP",
    "Compare the labels",
    "List every document",
    "Give an overview of all documents",
    "What are the differences across the documents?",
]
CONTRAINDICATED = "Is Cardiozol contraindicated in severe renal impairment?"


def lc_over(index: DocumentIndex, catalog: Catalog, **options: Any) -> LongContext:
    return LongContext(index, catalog, audit=AuditLog.memory(), **options)


def readable_ids(index: DocumentIndex, catalog: Catalog, principal: Principal) -> list[str]:
    """The documents the principal may read, in index order (from the catalog directly)."""
    out = []
    for doc in index.documents():
        try:
            rule = catalog.document_filter(principal, doc.collection)
        except PolicyViolation:
            continue
        if rule.matches({**doc.metadata, "collection": doc.collection}):
            out.append(doc.id)
    return out


def assert_cited_exactly(index: DocumentIndex, answer: DocumentAnswer) -> None:
    """Numbered 1..n, offsets that index the document, a chunk that holds the quote's start,
    each source listed and its quote shown with its mark."""
    assert [s.n for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    for source in answer.sources:
        doc = index.document(source.doc_id)
        assert doc.text[source.start : source.end] == source.quote
        assert source.quote == source.quote.strip()
        assert source.collection == doc.collection
        chunk = index.chunk(source.chunk_id)
        assert chunk.doc_id == source.doc_id
        assert chunk.start <= source.start < chunk.end
        assert str(source) in answer.text
        assert f"{source.quote} [{source.n}]" in answer.text


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.id)
@pytest.mark.parametrize("question", HOLISTIC)
def test_a_holistic_question_cites_every_document_once_in_index_order(
    index: DocumentIndex, catalog: Catalog, principal: Principal, question: str
) -> None:
    assert is_holistic(question)
    answer = lc_over(index, catalog).ask(question, principal)
    expected = readable_ids(index, catalog, principal)
    assert answer.mode == "extractive"
    assert [s.doc_id for s in answer.sources] == expected
    assert answer.text.startswith(f"From the {len(expected)} documents you may read:\n")
    assert_cited_exactly(index, answer)
    for source in answer.sources:
        assert not re.search(r"(?m)^\s*#", source.quote)  # a heading line is never quoted


def test_a_holistic_answer_names_each_document_by_its_title(
    index: DocumentIndex, catalog: Catalog
) -> None:
    answer = lc_over(index, catalog).ask("List every document", SAM)
    body, listing = answer.text.split("\n\nSources:\n")
    assert body.splitlines() == [
        "From the 3 documents you may read:",
        "- Cardiozol label (US): The recommended dose of Cardiozol is 20 mg once daily in the "
        "morning. [1]",
        "- label-cardiozol-us-draft: Proposed wording under FDA review: start Cardiozol at 2.5 mg "
        "in moderate renal impairment and titrate after four weeks. [2]",  # no title: its id
        # no sentence matches: the first that reads as one stands for it, not the salutation
        "- mil-2024-047: Thank you for your question about breastfeeding. [3]",
    ]
    assert listing.splitlines() == [str(s) for s in answer.sources]
    assert answer.sources[0].chunk_id == "label-cardiozol-us#0"


def test_a_holistic_answer_prefers_the_sentences_that_match(
    index: DocumentIndex, catalog: Catalog
) -> None:
    answer = lc_over(index, catalog, sentences_per_document=1).ask(
        "Compare the recommended dose of Cardiozol", ROOT
    )
    quotes = {s.doc_id: s.quote for s in answer.sources}
    assert len(quotes) == 7
    assert quotes["label-cardiozol-eu"] == (
        "The recommended dose of Cardiozol is 10 mg once daily, taken with or without food."
    )
    assert quotes["label-cardiozol-us"] == (
        "The recommended dose of Cardiozol is 20 mg once daily in the morning."
    )
    # no sentence of the recall SOP matches: its opening sentence stands for it
    assert quotes["sop-022-recall"] == (
        "A product recall is started by the Head of Quality within 4 hours of the decision."
    )
    assert_cited_exactly(index, answer)


def test_the_sop_that_says_sop_is_quoted_by_its_matching_sentence(
    index: DocumentIndex, catalog: Catalog
) -> None:
    answer = lc_over(index, catalog).ask("Summarise every SOP", QUINN)
    first, second = answer.sources
    assert first.quote == (
        "This SOP describes how warehouse staff handle a temperature excursion during storage "
        "of Cardiozol tablets."
    )
    assert second.quote.startswith("A product recall is started")
    assert (first.chunk_id, second.chunk_id) == (
        "sop-017-temperature-excursion#0",
        "sop-022-recall#0",
    )


@pytest.mark.parametrize(
    ("question", "principal", "unquoted"),
    [
        # two matching sentences of a label in two sections: the heading between them
        (
            "Compare the Cardiozol dose in renal impairment",
            ROOT,
            ("## Renal impairment", "Tablets should be swallowed whole"),
        ),
        # the first and last sentences of a letter: the two between them do not match
        (
            "Cardiozol during pregnancy?",
            EVA,
            ("Animal studies showed no teratogenic effect.",),
        ),
    ],
    ids=["heading-between", "sentences-between"],
)
def test_only_the_chosen_sentences_are_quoted(
    index: DocumentIndex,
    catalog: Catalog,
    question: str,
    principal: Principal,
    unquoted: tuple[str, ...],
) -> None:
    # Regression: crossroads/tools/long_context/_long_context.py:292 cites a document by one span
    # from its first chosen sentence to its last (start, end = quotes[0][0], quotes[-1][1]):
    # when the chosen sentences are not adjacent, Source.quote holds every sentence between
    # them — unrelated text, and heading lines ("## Renal impairment") — while the answer
    # shows only the chosen ones. Fix: keep one citation per document but quote only a run
    # of adjacent chosen sentences (when they are not adjacent, the best one alone).
    answer = lc_over(index, catalog).ask(question, principal)
    for source in answer.sources:
        assert not re.search(r"(?m)^\s*#", source.quote)
        for text in unquoted:
            assert text not in source.quote
    assert_cited_exactly(index, answer)


def test_a_specific_question_quotes_only_the_matching_documents_best_first(
    index: DocumentIndex, catalog: Catalog
) -> None:
    assert not is_holistic(CONTRAINDICATED)
    answer = lc_over(index, catalog).ask(CONTRAINDICATED, ROOT)
    # all five terms in the US label, four in the EU label, three in the draft
    assert [s.doc_id for s in answer.sources] == [
        "label-cardiozol-us",
        "label-cardiozol-eu",
        "label-cardiozol-us-draft",
    ]
    assert answer.text.startswith("Found in 3 of the 7 documents you may read:\n")
    assert answer.sources[0].quote.startswith("Cardiozol is contraindicated in severe renal")
    assert answer.sources[0].chunk_id == "label-cardiozol-us#1"
    assert_cited_exactly(index, answer)


def test_a_needle_question_quotes_one_document(index: DocumentIndex, catalog: Catalog) -> None:
    answer = lc_over(index, catalog).ask("Who starts a product recall?", QUINN)
    (source,) = answer.sources
    assert source.quote == (
        "A product recall is started by the Head of Quality within 4 hours of the decision."
    )
    assert answer.text.startswith("Found in 1 of the 2 documents you may read:\n")
    assert answer.unsupported == ()
    assert answer.notes == ()
    assert_cited_exactly(index, answer)


def test_min_overlap_sets_how_much_of_the_question_a_quote_must_cover(
    index: DocumentIndex, catalog: Catalog
) -> None:
    strict = lc_over(index, catalog, min_overlap=1.0).ask(CONTRAINDICATED, ROOT)
    assert [s.doc_id for s in strict.sources] == ["label-cardiozol-us"]
    loose = lc_over(index, catalog, min_overlap=0.2).ask(CONTRAINDICATED, ROOT)
    assert len(loose.sources) > 3


def test_sentences_per_document_caps_the_quotes(index: DocumentIndex, catalog: Catalog) -> None:
    one = lc_over(index, catalog, sentences_per_document=1).ask("Cardiozol during pregnancy?", EVA)
    (source,) = one.sources  # the best of the letter's two matching sentences
    assert source.quote == "Cardiozol should be avoided during pregnancy unless clearly necessary."
    assert_cited_exactly(index, one)


@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "What does Cardiozol cost in Japan?"]
)
def test_nothing_relevant_cannot_be_answered(
    index: DocumentIndex, catalog: Catalog, question: str
) -> None:
    with pytest.raises(CannotAnswer) as info:
        lc_over(index, catalog).ask(question, EVA)
    assert isinstance(info.value, ToolError)
    assert info.value.reason == "no relevant passage"
    assert info.value.tool == "long_context.ask"
    assert str(info.value).startswith("none of the 2 documents you may read (about ")
    assert str(info.value).endswith(" tokens read) has a sentence about the question")


@pytest.mark.parametrize("question", ["What is it?", "?!", "Which one should it be?"])
def test_a_question_without_searchable_words_cannot_be_answered(
    index: DocumentIndex, catalog: Catalog, question: str
) -> None:
    assert not is_holistic(question)
    with pytest.raises(CannotAnswer) as info:
        lc_over(index, catalog).ask(question, EVA)
    assert info.value.reason == "no relevant passage"


def test_a_readable_collection_without_a_readable_document_is_an_empty_corpus(
    index: DocumentIndex, catalog: Catalog
) -> None:
    catalog.grant("READ", on="collection:sops", to="group:auditors", where={"owner": "nobody"})
    auditor = Principal("ada", groups=["auditors"])
    with pytest.raises(CannotAnswer) as info:
        lc_over(index, catalog).ask("Summarise every SOP", auditor)
    assert info.value.reason == "empty corpus"
    assert str(info.value) == "no document you may read is in the index"


def test_an_empty_collection_is_an_empty_corpus(catalog: Catalog) -> None:
    lc = lc_over(DocumentIndex("labels"), catalog, collections=["labels"])
    with pytest.raises(CannotAnswer) as info:
        lc.ask("List every document", ROOT)
    assert info.value.reason == "empty corpus"


def test_one_document_is_counted_in_the_singular(index: DocumentIndex, catalog: Catalog) -> None:
    lc = lc_over(index, catalog, collections=["labels"])
    holistic = lc.ask("List every document", EVA)
    assert holistic.text.startswith("From the 1 document you may read:\n")
    specific = lc.ask("Which inhibitors raise Cardiozol exposure?", EVA)
    assert specific.text.startswith("Found in 1 of the 1 document you may read:\n")
    with pytest.raises(CannotAnswer) as info:
        lc.ask("What is the capital of France?", EVA)
    assert "the 1 document you may read" in str(info.value)
    for text in (holistic.text, specific.text, str(info.value)):
        assert "1 documents" not in text


def test_a_document_with_several_sentences_quotes_up_to_two(
    index: DocumentIndex, catalog: Catalog
) -> None:
    question = "Quarantine lots, record excursion"  # half the terms in each of two sentences
    answer = lc_over(index, catalog).ask(question, QUINN)
    (source,) = answer.sources  # the recall SOP has no such sentence
    assert source.doc_id == "sop-017-temperature-excursion"
    assert source.quote == (
        "Quarantine the affected lots within 24 hours and notify Quality Assurance. Record "
        "the excursion in the deviation log together with the data-logger printout."
    )
    assert_cited_exactly(index, answer)


@pytest.mark.parametrize(
    ("question", "holistic"),
    [
        ("Summarise every SOP", True),
        ("Summarize the labels", True),
        ("Give me a summary", True),
        ("An overview, please", True),
        ("Compare the EU and US labels", True),
        ("Contrast the letters", True),
        ("What are the differences?", True),
        ("What is the difference?", True),
        ("List the SOPs", True),
        ("What does each label say?", True),
        ("Across all regions, what is the dose?", True),
        ("What is the dose of Cardiozol?", False),
        ("Who starts a product recall?", False),
        ("Which listing is current?", False),  # whole words only
        ("Is it overall safe?", False),
    ],
)
def test_is_holistic(question: str, holistic: bool) -> None:
    assert is_holistic(question) is holistic


def test_assemble_marks_every_document() -> None:
    docs = [
        Document("a", "labels", "  First text.\n", {"title": "The A label"}),
        Document("b", "sops", "Second text.", {"title": "b"}),  # a title that is the id
        Document("c", "sops", "Third text.", {"title": 7}),  # not a string: ignored
        Document("d", "letters", "Fourth text."),
    ]
    assert assemble(docs) == (
        "=== [1] a — The A label (labels) ===\nFirst text.\n\n"
        "=== [2] b (sops) ===\nSecond text.\n\n"
        "=== [3] c (sops) ===\nThird text.\n\n"
        "=== [4] d (letters) ===\nFourth text."
    )
    assert assemble([]) == ""


@pytest.mark.parametrize("value", [0, -1])
def test_sentences_per_document_must_be_positive(
    index: DocumentIndex, catalog: Catalog, value: int
) -> None:
    # Regression: crossroads/tools/long_context/_long_context.py:193 never checks
    # sentences_per_document; with 0 every answer crashes with IndexError at line 292
    # (quotes[0] of an empty list) — a bare IndexError, not even a ToolError. Fix: raise
    # ConfigError in __init__ unless sentences_per_document >= 1.
    with pytest.raises(ConfigError):
        lc_over(index, catalog, sentences_per_document=value)


@pytest.mark.parametrize("value", [0, -0.5, 1.5])
def test_min_overlap_must_be_in_range(index: DocumentIndex, catalog: Catalog, value: float) -> None:
    # Regression: crossroads/tools/long_context/_long_context.py:192 never checks min_overlap (RAG
    # refuses anything outside (0, 1]): with 0 every sentence "matches", so a specific
    # question about anything quotes every document (lc.ask("What is the capital of
    # France?") answers from the labels); above 1 nothing ever matches. Fix: the RAG check,
    # ConfigError unless 0 < min_overlap <= 1.
    with pytest.raises(ConfigError):
        lc_over(index, catalog, min_overlap=value)
