"""The needle in a haystack: a fact placed in one of N permitted documents (first, middle
or last) is found and cited, by extraction and by a model; the same kind of fact in a
document the principal may not read is never read, quoted or shown to a model."""

from __future__ import annotations

import re

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.base import Message
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer
from crossroads.policy import Catalog, Principal
from crossroads.tools.long_context import LongContext

IVY = Principal("ivy", groups=["ops"], attributes={"region": "EU"})  # reads EU logs
UMA = Principal("uma", groups=["ops"], attributes={"region": "US"})  # reads US logs
QUESTION = "What is the backup generator password?"
NEEDLE = "The backup generator password is 7731-KESTREL."
SECRET = "The backup generator password is 0456-HERON."  # in a US log: ivy may not read it
NOUNS = ("conveyor belts", "cold rooms", "forklifts", "loading docks", "pallet wrappers")


def log(i: int, region: str, fact: str | None = None) -> str:
    """A shift log of plant ``i``; ``fact`` goes between its routine sentences."""
    noun = NOUNS[i % len(NOUNS)]
    lines = [
        f"# Shift log {region} {i}",
        "",
        f"The night crew of plant {i} inspected the {noun} and logged the readings.",
    ]
    if fact is not None:
        lines.append(fact)
    lines.append(f"Pallet {i} moved to bay {i % 7} before noon; nothing unusual was seen.")
    return "\n".join(lines) + "\n"


def haystack(n: int, *, needle_at: int | None, secret_at: int | None) -> DocumentIndex:
    """``n`` EU logs and ``n`` US logs, interleaved; the needle in EU log ``needle_at``, the
    secret in US log ``secret_at``."""
    index = DocumentIndex("logs")
    for i in range(n):
        eu = log(i, "EU", NEEDLE if i == needle_at else None)
        us = log(i, "US", SECRET if i == secret_at else None)
        index.add(f"log-eu-{i:03d}", eu, {"region": "EU"}, collection="logs")
        index.add(f"log-us-{i:03d}", us, {"region": "US"}, collection="logs")
    return index


def ops_catalog() -> Catalog:
    cat = Catalog()
    cat.grant("READ", on="collection:logs", to="group:ops", where={"region": ":region"})
    return cat


def lc_over(index: DocumentIndex, llm: ScriptedLLM | None = None) -> LongContext:
    return LongContext(index, ops_catalog(), audit=AuditLog.memory(), llm=llm)


def password_reader(messages: list[Message]) -> str:
    """A model that cites the document holding a password, or says there is none."""
    prompt = messages[-1].content
    for block in re.split(r"(?m)^(?==== \[)", prompt):
        found = re.search(r"password is (\S+)\.", block)
        if found:
            number = re.match(r"=== \[(\d+)\]", block)
            assert number is not None
            return f"The backup generator password is {found.group(1)} [{number.group(1)}]."
    return "NO_ANSWER"


POSITIONS = [
    pytest.param(n, at, id=f"{n}-docs-{where}")
    for n in (5, 50)
    for at, where in ((0, "first"), (n // 2, "middle"), (n - 1, "last"))
]


@pytest.mark.parametrize(("n", "at"), POSITIONS)
def test_the_needle_is_found_and_cited(n: int, at: int) -> None:
    index = haystack(n, needle_at=at, secret_at=n - 1 - at)
    answer = lc_over(index).ask(QUESTION, IVY)
    assert answer.mode == "extractive"
    (source,) = answer.sources
    assert source.doc_id == f"log-eu-{at:03d}"
    assert source.quote == NEEDLE
    assert index.document(source.doc_id).text[source.start : source.end] == NEEDLE
    assert answer.text.startswith(f"Found in 1 of the {n} documents you may read:")
    assert "7731-KESTREL" in answer.text
    assert "0456-HERON" not in answer.text


@pytest.mark.parametrize(("n", "at"), POSITIONS)
def test_the_needle_is_found_and_cited_by_a_model(n: int, at: int) -> None:
    index = haystack(n, needle_at=at, secret_at=at)
    llm = ScriptedLLM([password_reader])
    answer = lc_over(index, llm).ask(QUESTION, IVY)
    assert answer.mode == "llm"
    (source,) = answer.sources
    assert (source.n, source.doc_id) == (at + 1, f"log-eu-{at:03d}")
    assert answer.unsupported == ()
    sent = "\n".join(m.content for m in llm.calls[0])
    assert "7731-KESTREL" in sent
    assert "0456-HERON" not in sent
    assert "log-us-" not in sent
    assert len(re.findall(r"(?m)^=== \[\d+\] log-eu-", sent)) == n


@pytest.mark.parametrize("n", [5, 50])
def test_a_needle_in_a_forbidden_document_is_never_used(n: int) -> None:
    index = haystack(n, needle_at=None, secret_at=n // 2)
    # the secret is there to be found, by someone who may read it
    assert lc_over(index).ask(QUESTION, UMA).sources[0].doc_id == f"log-us-{n // 2:03d}"
    with pytest.raises(CannotAnswer) as info:
        lc_over(index).ask(QUESTION, IVY)
    assert info.value.reason == "no relevant passage"
    assert "0456-HERON" not in str(info.value)


@pytest.mark.parametrize("n", [5, 50])
def test_a_needle_in_a_forbidden_document_never_reaches_the_model(n: int) -> None:
    index = haystack(n, needle_at=None, secret_at=0)
    llm = ScriptedLLM([password_reader])
    with pytest.raises(CannotAnswer, match="the model found no answer"):
        lc_over(index, llm).ask(QUESTION, IVY)
    (messages,) = llm.calls
    sent = "\n".join(m.content for m in messages)
    assert "0456-HERON" not in sent
    assert "log-us-" not in sent


def test_a_holistic_question_cites_the_needle_among_every_document() -> None:
    index = haystack(5, needle_at=2, secret_at=2)
    answer = lc_over(index).ask("List the backup generator password of every plant", IVY)
    assert [s.doc_id for s in answer.sources] == [f"log-eu-{i:03d}" for i in range(5)]
    assert answer.sources[2].quote == NEEDLE
    assert "0456-HERON" not in answer.text
