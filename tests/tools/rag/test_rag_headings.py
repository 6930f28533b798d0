"""Extractive answers quote sentences, never a title line; a title's words count for the
sentences beneath it; a term every passage found shares (the product) counts less than
one that tells them apart, so boilerplate that only names the product is no answer."""

from __future__ import annotations

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.errors import CannotAnswer
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG
from crossroads.tools.rag._extract import units

ROOT = Principal("root", groups=["admins"])
DOCS = [
    (
        "zenox-renal",
        "Zenox (zenoxaban) label: Use in renal impairment\n\n"
        "No dose adjustment of Zenox is needed in mild renal impairment. "
        "In severe renal impairment the dose of Zenox is 10 mg once daily.",
    ),
    (
        "zenox-storage",
        "Zenox (zenoxaban) label: Storage and shelf life\n\n"
        "Store Zenox below 25 °C. The shelf life of Zenox is 3 years.",
    ),
    (
        "zenox-letter-food",
        "Medical information letter: Zenox and food\n\n"
        "Dear Healthcare Professional, Thank you for your enquiry about Zenox.\n\n"
        "Zenox may be taken with or without food.\n\n"
        "Yours sincerely, Medical Information",
    ),
    (
        "zenox-letter-driving",
        "Medical information letter: Zenox and driving\n\n"
        "Dear Healthcare Professional, Thank you for contacting us about Zenox.\n\n"
        "Zenox has no influence on the ability to drive.",
    ),
]


@pytest.fixture
def rag() -> RAG:
    index = DocumentIndex("docs")
    for doc_id, text in DOCS:
        index.add(doc_id, text, {"title": text.split("\n", 1)[0]}, collection="docs")
    catalog = Catalog()
    catalog.grant("READ", on="collection:*", to="group:admins")
    return RAG(index, catalog, audit=AuditLog.memory())


def test_a_title_line_is_a_heading_unit_and_never_quoted(rag: RAG) -> None:
    text = DOCS[0][1]
    found = units(text)
    assert found[0].heading
    assert text[found[0].start : found[0].end].startswith("Zenox (zenoxaban) label:")
    assert not any(u.heading for u in found[1:])
    answer = rag.ask("What does the Zenox label say about renal impairment?", ROOT)
    quotes = [s.quote for s in answer.sources]
    assert quotes
    assert all("label:" not in q for q in quotes)
    assert answer.sources[0].doc_id == "zenox-renal"


def test_the_title_counts_for_the_sentences_beneath(rag: RAG) -> None:
    # "shelf life" and "storage" are in the title; the sentences hold the facts
    answer = rag.ask("Zenox storage and shelf life?", ROOT)
    assert answer.sources[0].doc_id == "zenox-storage"
    assert {s.quote for s in answer.sources} <= {
        "Store Zenox below 25 °C.",
        "The shelf life of Zenox is 3 years.",
    }


def test_a_greeting_naming_the_product_is_no_answer(rag: RAG) -> None:
    with pytest.raises(CannotAnswer) as info:
        rag.ask("What does the Zenox letter say about bradycardia?", ROOT)
    assert info.value.reason == "no relevant passage"


def test_a_greeting_is_not_quoted_beside_the_answer(rag: RAG) -> None:
    answer = rag.ask("Can Zenox be taken with food?", ROOT)
    assert [s.quote for s in answer.sources] == ["Zenox may be taken with or without food."]


def test_the_last_line_and_punctuated_lines_are_not_headings() -> None:
    assert [
        u.heading for u in units("Dear Doctor,\n\nThe dose is 5 mg.\n\nMedical Information")
    ] == [
        False,
        False,
        False,
    ]
    assert [u.heading for u in units("- first item\n- second item\n\nSee below")] == [
        False,
        False,
        False,
    ]
