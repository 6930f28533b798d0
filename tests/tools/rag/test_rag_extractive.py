"""Extractive answers: the sentences that answer the question, each cited with document,
chunk, heading and exact offsets; no sentence twice; CannotAnswer (with a reason) when
nothing relevant is found, so a router can fall back."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.errors import CannotAnswer, ToolError
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG, DocumentAnswer

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
QUINN = Principal("quinn", groups=["qa"])
ROOT = Principal("root", groups=["admins"])

QUESTIONS = [
    ("Which inhibitors raise Cardiozol exposure?", EVA),
    ("What is the daily dose of Cardiozol?", EVA),
    ("Can Cardiozol be used during pregnancy?", EVA),
    ("Who starts a product recall?", QUINN),
    ("What does Cardiozol interact with?", ROOT),
]

# short chunks with a long overlap: most sentences sit in two chunks
SOP_STEPS = """# Procedure

Quarantine the affected lots within 24 hours. Notify Quality Assurance by email. Record \
the excursion in the deviation log. Attach the data-logger printout to the deviation. \
Close the deviation within 30 days.
"""


def rag_over(index: DocumentIndex, catalog: Catalog, **options: Any) -> RAG:
    return RAG(index, catalog, audit=AuditLog.memory(), **options)


def assert_offsets_exact(index: DocumentIndex, answer: DocumentAnswer) -> None:
    for source in answer.sources:
        assert index.document(source.doc_id).text[source.start : source.end] == source.quote
        chunk = index.chunk(source.chunk_id)
        assert chunk.start <= source.start < source.end <= chunk.end
        assert (chunk.doc_id, chunk.collection, chunk.heading) == (
            source.doc_id,
            source.collection,
            source.heading,
        )


def test_the_answer_cites_the_sentence_that_answers(index: DocumentIndex, catalog: Catalog) -> None:
    answer = rag_over(index, catalog).ask("Which inhibitors raise Cardiozol exposure?", EVA)
    assert answer.mode == "extractive"
    assert answer.question == "Which inhibitors raise Cardiozol exposure?"
    (source,) = answer.sources
    assert source.quote == (
        "Strong CYP3A4 inhibitors such as ketoconazole raise Cardiozol exposure threefold; "
        "avoid the combination."
    )
    assert (source.n, source.doc_id, source.chunk_id, source.collection) == (
        1,
        "label-cardiozol-eu",
        "label-cardiozol-eu#2",
        "labels",
    )
    assert source.heading == "Interactions"
    assert answer.text == (
        f"{source.quote} [1]\n\nSources:\n"
        f"[1] label-cardiozol-eu › Interactions "
        f"(chunk label-cardiozol-eu#2, chars {source.start}–{source.end})"
    )
    assert answer.unsupported == ()
    assert answer.notes == ()
    assert answer.hits[0].chunk_id == "label-cardiozol-eu#2"


@pytest.mark.parametrize(("question", "principal"), QUESTIONS)
def test_source_offsets_index_the_document_exactly(
    index: DocumentIndex, catalog: Catalog, question: str, principal: Principal
) -> None:
    answer = rag_over(index, catalog).ask(question, principal)
    assert answer.sources
    assert_offsets_exact(index, answer)
    assert [s.n for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    for source in answer.sources:
        assert f"{source.quote} [{source.n}]" in answer.text
        assert str(source) in answer.text


def test_headings_are_cited(index: DocumentIndex, catalog: Catalog) -> None:
    answer = rag_over(index, catalog).ask("What is the daily dose of Cardiozol?", EVA)
    headings = [s.heading for s in answer.sources]
    assert headings[0] == "Dosing"
    assert set(headings) <= {"Dosing", "Dosing › Renal impairment"}
    assert "[1] label-cardiozol-eu › Dosing (chunk label-cardiozol-eu#0, chars" in answer.text


def test_several_sentences_are_numbered_and_listed(index: DocumentIndex, catalog: Catalog) -> None:
    # (the letter's "Thank you for your enquiry about Cardiozol in pregnancy." holds words
    # of the question too, but it is no answer: it is not quoted beside the best sentence)
    answer = rag_over(index, catalog).ask("Cardiozol in pregnant women, during pregnancy?", EVA)
    first, second = answer.sources
    assert first.quote == "There are no adequate data on the use of Cardiozol in pregnant women."
    assert second.quote == "Cardiozol should be avoided during pregnancy unless clearly necessary."
    assert (first.chunk_id, second.chunk_id) == ("mil-2024-031#0", "mil-2024-031#0")
    assert first.end < second.start
    body, listing = answer.text.split("\n\nSources:\n")
    assert body == f"{first.quote} [1] {second.quote} [2]"
    assert listing.splitlines() == [
        f"[1] mil-2024-031 (chunk mil-2024-031#0, chars {first.start}–{first.end})",
        f"[2] mil-2024-031 (chunk mil-2024-031#0, chars {second.start}–{second.end})",
    ]
    assert_offsets_exact(index, answer)


def test_max_sentences_caps_the_quotes(index: DocumentIndex, catalog: Catalog) -> None:
    answer = rag_over(index, catalog, max_sentences=1).ask("Cardiozol during pregnancy?", EVA)
    assert len(answer.sources) == 1
    assert "[2]" not in answer.text


def test_a_sentence_in_overlapping_chunks_is_quoted_once(catalog: Catalog) -> None:
    index = DocumentIndex("sops", max_chars=160, overlap=79)
    index.add("sop-017", SOP_STEPS, {"classification": "internal", "owner": "quality"})
    chunks = index.chunks()
    assert len(chunks) >= 3
    assert any(a.end > b.start for a, b in pairwise(chunks))  # overlap
    answer = rag_over(index, catalog).ask("What is done with the deviation?", QUINN)
    quotes = [s.quote for s in answer.sources]
    assert len(quotes) >= 2
    assert len(set(quotes)) == len(quotes)
    spans = sorted((s.start, s.end) for s in answer.sources)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))
    # a quoted sentence was in several retrieved chunks, yet is quoted once
    assert any(sum(q in h.text for h in answer.hits) >= 2 for q in quotes)
    assert_offsets_exact(index, answer)


def test_an_unrelated_question_cannot_be_answered(index: DocumentIndex, catalog: Catalog) -> None:
    rag = rag_over(index, catalog)
    with pytest.raises(CannotAnswer) as info:
        rag.ask("What is the capital of France?", EVA)
    assert isinstance(info.value, ToolError)
    assert info.value.reason == "no relevant document"
    assert info.value.tool == "rag.ask"


def test_a_loosely_related_question_is_not_answered_with_a_loose_quote(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_over(index, catalog)
    question = "What does Cardiozol cost in Japan?"
    assert rag.retrieve(question, EVA)  # "Cardiozol" matches, nothing else does
    with pytest.raises(CannotAnswer, match=r"holds 33% of its terms \(at least 50% needed") as e:
        rag.ask(question, EVA)
    assert e.value.reason == "no relevant passage"


@pytest.mark.parametrize("question", ["What is it?", "What should it say?", "?!"])
def test_a_question_without_searchable_words_cannot_be_answered(
    index: DocumentIndex, catalog: Catalog, question: str
) -> None:
    with pytest.raises(CannotAnswer) as info:
        rag_over(index, catalog).ask(question, EVA)
    assert info.value.reason in {"no relevant document", "empty question"}


def test_only_question_words_is_an_empty_question(index: DocumentIndex, catalog: Catalog) -> None:
    # "should" is no stopword of the index, so retrieval finds chunks; the answer step
    # drops words that only phrase a question
    rag = rag_over(index, catalog)
    assert rag.retrieve("What should it say?", EVA)
    with pytest.raises(CannotAnswer, match="no searchable words") as info:
        rag.ask("What should it say?", EVA)
    assert info.value.reason == "empty question"


def test_min_overlap_sets_how_much_of_the_question_a_quote_must_cover(
    index: DocumentIndex, catalog: Catalog
) -> None:
    question = "Is Cardiozol exposure raised by clarithromycin?"  # the EU label names ketoconazole
    assert rag_over(index, catalog).ask(question, EVA).sources[0].chunk_id.endswith("#2")
    with pytest.raises(CannotAnswer, match="at least 100% needed"):
        rag_over(index, catalog, min_overlap=1.0).ask(question, EVA)


def test_a_quote_is_one_sentence_even_after_a_dose_in_mg(
    index: DocumentIndex, catalog: Catalog
) -> None:
    # Regression: crossroads/connectors/_chunking.py:51-52 lists "mg" and "ml" as abbreviations, so
    # "... halved to 5 mg. No adjustment is needed ..." is one sentence: the quote carries
    # an unrelated second sentence (and in LLM mode an uncited claim ending in "mg." is
    # merged into the next, cited one and never flagged). The lower-case check a few lines
    # below already keeps "5 mg. daily" together; drop "mg"/"ml" from _ABBREVIATIONS.
    answer = rag_over(index, catalog).ask(
        "What is the dose of Cardiozol in severe renal impairment?", EVA
    )
    assert answer.sources[0].quote == (
        "In patients with severe renal impairment (creatinine clearance below 30 mL/min) the "
        "daily dose of Cardiozol must be halved to 5 mg."
    )
