"""LLM mode: the model answers from numbered passages and must cite them; its citations
become the sources, uncited sentences and citations of passages it was not given are
flagged, NO_ANSWER means CannotAnswer, and a failing model falls back to extraction."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.base import Message
from crossroads.connectors.llm import LLMGateway, ScriptedLLM, ScriptedReply
from crossroads.errors import CannotAnswer, LLMError
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
QUESTION = "What is the dose of Cardiozol in severe renal impairment?"
RENAL = "halved to 5 mg"  # in the EU label's renal chunk
KETO = "ketoconazole"  # in the EU label's interactions chunk


def rag_with(index: DocumentIndex, catalog: Catalog, replies: Sequence[ScriptedReply]) -> RAG:
    return RAG(index, catalog, audit=AuditLog.memory(), llm=ScriptedLLM(replies))


def calls(rag: RAG) -> list[list[Message]]:
    assert rag.llm is not None
    (model,) = rag.llm.models
    assert isinstance(model, ScriptedLLM)
    return model.calls


def passage(messages: Sequence[Message], fragment: str) -> int:
    """The number of the passage in the prompt that holds ``fragment``."""
    prompt = messages[-1].content
    marks = list(re.finditer(r"^\[(\d+)\] \(", prompt, re.M))
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        if fragment in prompt[mark.start() : None if after is None else after.start()]:
            return int(mark.group(1))
    raise AssertionError(f"no passage holds {fragment!r}")


def test_a_cited_answer_cites_the_passages_it_names(index: DocumentIndex, catalog: Catalog) -> None:
    def reply(messages: list[Message]) -> str:
        n = passage(messages, RENAL)
        return f"In severe renal impairment the daily dose is halved to 5 mg [{n}]."

    rag = rag_with(index, catalog, [reply])
    answer = rag.ask(QUESTION, EVA)
    assert answer.mode == "llm"
    n = passage(calls(rag)[0], RENAL)
    (source,) = answer.sources
    assert source.n == n
    assert (source.doc_id, source.chunk_id, source.collection) == (
        "label-cardiozol-eu",
        "label-cardiozol-eu#1",
        "labels",
    )
    assert source.heading == "Dosing › Renal impairment"
    assert source.quote == answer.hits[n - 1].text
    assert index.document(source.doc_id).text[source.start : source.end] == source.quote
    assert answer.text == (
        f"In severe renal impairment the daily dose is halved to 5 mg [{n}].\n\nSources:\n{source}"
    )
    assert answer.unsupported == ()
    assert answer.notes == ()
    assert [h.chunk_id for h in answer.hits] == [
        h.chunk_id for h in rag.retrieve(QUESTION, EVA, k=rag.k)
    ]


def test_the_prompt_numbers_the_passages_and_asks_for_citations(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_with(index, catalog, ["The dose is halved [1]."])
    answer = rag.ask(QUESTION, EVA)
    (messages,) = calls(rag)
    system, user = messages
    assert system.role == "system"
    assert "only the numbered passages" in system.content
    assert "NO_ANSWER" in system.content
    assert user.role == "user"
    assert user.content.endswith(f"Question: {QUESTION}")
    for i, hit in enumerate(answer.hits, 1):
        where = f"{hit.doc_id} › {hit.heading}" if hit.heading else hit.doc_id
        assert f"[{i}] ({where})\n{hit.text}" in user.content
    assert f"[{len(answer.hits) + 1}] (" not in user.content


def test_several_citations_become_several_sources(index: DocumentIndex, catalog: Catalog) -> None:
    def reply(messages: list[Message]) -> str:
        renal, keto = passage(messages, RENAL), passage(messages, KETO)
        return (
            f"Halve the dose in severe renal impairment [{renal}]. Avoid ketoconazole, which "
            f"raises exposure [{keto}][{renal}]. Both points come from the EU label "
            f"[{renal}, {keto}]."
        )

    rag = rag_with(index, catalog, [reply])
    answer = rag.ask("Cardiozol renal impairment dose and ketoconazole interaction", EVA)
    assert {s.chunk_id for s in answer.sources} == {
        "label-cardiozol-eu#1",
        "label-cardiozol-eu#2",
    }
    assert [s.n for s in answer.sources] == sorted(s.n for s in answer.sources)
    assert answer.unsupported == ()
    assert "Not supported" not in answer.text


def test_an_uncited_sentence_is_flagged(index: DocumentIndex, catalog: Catalog) -> None:
    def reply(messages: list[Message]) -> str:
        n = passage(messages, RENAL)
        return f"The dose is halved to 5 mg [{n}]. Cardiozol also cures insomnia."

    answer = rag_with(index, catalog, [reply]).ask(QUESTION, EVA)
    assert answer.mode == "llm"
    assert answer.unsupported == ("Cardiozol also cures insomnia.",)
    assert "Not supported by a cited passage:\n- Cardiozol also cures insomnia." in answer.text
    assert [s.chunk_id for s in answer.sources] == ["label-cardiozol-eu#1"]


@pytest.mark.parametrize("number", [0, 9, 42])
def test_a_citation_out_of_range_is_unsupported(
    index: DocumentIndex, catalog: Catalog, number: int
) -> None:
    reply = f"Halve the dose in severe renal impairment [{number}]."
    answer = rag_with(index, catalog, [reply]).ask(QUESTION, EVA)
    assert len(answer.hits) < 9
    assert answer.unsupported == (reply,)
    assert answer.sources == []
    assert f"Not supported by a cited passage:\n- {reply}" in answer.text


def test_an_answer_citing_nothing_is_all_flagged(index: DocumentIndex, catalog: Catalog) -> None:
    reply = "The dose is halved. Patients should see a nephrologist."
    answer = rag_with(index, catalog, [reply]).ask(QUESTION, EVA)
    assert answer.mode == "llm"
    assert answer.unsupported == ("The dose is halved.", "Patients should see a nephrologist.")
    assert answer.sources == []
    assert "Sources:" not in answer.text


@pytest.mark.parametrize("separator", [".[1] ", ". [1] "])
def test_a_citation_after_the_full_stop_supports_its_own_sentence(
    index: DocumentIndex, catalog: Catalog, separator: str
) -> None:
    # Regression: crossroads/tools/rag/_llm.py:66 splits the model's text with the document
    # sentence splitter, which only ends a sentence at [.!?] followed by closing marks and
    # whitespace. "claim.[1] Next claim." is one sentence (the uncited "Next claim." passes
    # as supported); with "claim. [1] Next claim." the mark opens the next sentence (the
    # cited claim is flagged, the uncited one passes). Both are common citation styles.
    def reply(messages: list[Message]) -> str:
        mark = separator.replace("1", str(passage(messages, RENAL)))
        return f"The dose is halved in severe renal impairment{mark}Cardiozol also cures insomnia."

    answer = rag_with(index, catalog, [reply]).ask(QUESTION, EVA)
    assert len(answer.unsupported) == 1
    assert "insomnia" in answer.unsupported[0]
    assert "halved" not in answer.unsupported[0]


def test_no_answer_from_the_model_cannot_be_answered(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_with(index, catalog, ["NO_ANSWER"])
    with pytest.raises(CannotAnswer, match="the model found no answer") as info:
        rag.ask(QUESTION, EVA)
    assert info.value.reason == "no relevant passage"
    ends = [e for e in rag.runner.audit.events() if e.name == "rag.ask" and e.stage == "error"]
    assert len(ends) == 1
    assert ends[0].error is not None
    assert ends[0].error["type"] == "CannotAnswer"


@pytest.mark.parametrize("failure", [LLMError("the model is down"), "   "])
def test_a_failing_model_falls_back_to_an_extractive_answer(
    index: DocumentIndex, catalog: Catalog, failure: ScriptedReply
) -> None:
    rag = rag_with(index, catalog, [failure])
    answer = rag.ask(QUESTION, EVA)
    assert answer.mode == "extractive"
    assert answer.notes[0] == "the model gave no usable answer; answered extractively"
    assert answer.sources[0].chunk_id == "label-cardiozol-eu#1"
    assert "halved to 5 mg" in answer.text
    assert len(calls(rag)) == 1


def test_the_model_is_not_asked_when_nothing_is_retrieved(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_with(index, catalog, ["Paris [1]."])
    with pytest.raises(CannotAnswer) as info:
        rag.ask("What is the capital of France?", EVA)
    assert info.value.reason == "no relevant document"
    assert calls(rag) == []


def test_a_gateway_is_used_as_given(index: DocumentIndex, catalog: Catalog) -> None:
    audit = AuditLog.memory()
    gateway = LLMGateway([ScriptedLLM(["The dose is halved [1]."])], audit=audit)
    rag = RAG(index, catalog, audit=audit, llm=gateway)
    assert rag.llm is gateway
    assert rag.ask(QUESTION, EVA).mode == "llm"
