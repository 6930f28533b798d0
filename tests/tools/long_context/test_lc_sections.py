"""Holistic extractive answers over structured documents: the section whose heading
names what is asked answers for each document; a version line, a field line or a list
of references never stands for a document; each list item is a statement of its own."""

from __future__ import annotations

import re

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.policy import Catalog, Principal
from crossroads.tools.long_context import LongContext

ROOT = Principal("root", groups=["admins"])


def sop(n: int, topic: str, training: str, records: str) -> str:
    return f"""# SOP-{n:03d}: {topic}

Version 2.0, effective 2024-0{n}-01. Owner: Head of {topic}.

## Purpose

This SOP describes how the {topic.lower()} team receives, assesses and closes its work.

## Training

{training}

## Records and archiving

{records}

## Related documents

- SOP-{n + 1:03d} Training and records policy
- SOP-{n + 2:03d} Change control of documents

## Change history

- Version 1.0 (2020-01-01): First issue.
- Version 2.0 (2024-0{n}-01): Escalation step added.
"""


DOCS = [
    sop(
        1,
        "Complaint handling",
        "Staff are trained on this SOP before they handle complaints.",
        "Complaint files are kept for 5 years after the batch expires.",
    ),
    sop(
        2,
        "Signal management",
        "Scientists complete statistics training every year.",
        "The signal log is archived for 10 years.",
    ),
    sop(
        3,
        "Case processing",
        "Case processors are trained on coding before their first case.",
        "Case narratives are kept in the safety database for 10 years.",
    ),
]


@pytest.fixture
def lc() -> LongContext:
    index = DocumentIndex("sops")
    for n, text in enumerate(DOCS, 1):
        index.add(f"sop-{n:03d}", text, {"title": text.split("\n", 1)[0][2:]}, collection="sops")
    catalog = Catalog()
    catalog.grant("READ", on="collection:*", to="group:admins")
    return LongContext(index, catalog, audit=AuditLog.memory())


BAD = re.compile(r"^Version \d|^Owner:|SOP-\d{3} \w+ and|\n- SOP-")


@pytest.mark.parametrize(
    ("question", "heading"),
    [
        ("Compare the training requirements across the SOPs.", "Training"),
        ("Give me an overview of the records each SOP says we must keep.", "Records and archiving"),
        ("Summarise every change across our SOPs.", "Change history"),
    ],
)
def test_the_section_named_by_the_question_answers_for_each_document(
    lc: LongContext, question: str, heading: str
) -> None:
    answer = lc.ask(question, ROOT)
    assert [s.doc_id for s in answer.sources] == ["sop-001", "sop-002", "sop-003"]
    for source in answer.sources:
        assert source.heading.endswith(f"› {heading}"), (question, source.heading)
        assert not BAD.search(source.quote), source.quote


def test_a_document_without_a_match_is_stood_for_by_a_sentence_not_a_version_line(
    lc: LongContext,
) -> None:
    answer = lc.ask("Across all SOPs, what deadlines must we meet?", ROOT)
    assert len(answer.sources) == 3
    for source in answer.sources:
        assert source.quote.startswith("This SOP describes how"), source.quote


def test_list_items_are_quoted_as_items(lc: LongContext) -> None:
    answer = lc.ask("Summarise every change across our SOPs.", ROOT)
    for source in answer.sources:
        items = re.findall(r"(?m)^- ", source.quote)
        assert 1 <= len(items) <= lc.sentences_per_document
