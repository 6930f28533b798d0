"""LLM mode: the model reads the assembled corpus under ``=== [n] id …`` markers and must
cite the document numbers; its citations become one source per document, uncited
sentences (or citations of numbers it was not given) are flagged, NO_ANSWER is
CannotAnswer, and a failing model falls back to the extractive answer with a note."""

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
from crossroads.tools.long_context import LongContext
from crossroads.tools.rag import Source

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
ROOT = Principal("root", groups=["admins"])
QUESTION = "Compare what the labels say about interactions"
NOTE = "the model gave no usable answer; answered extractively"


def lc_with(
    index: DocumentIndex, catalog: Catalog, replies: Sequence[ScriptedReply]
) -> tuple[LongContext, ScriptedLLM]:
    llm = ScriptedLLM(replies)
    return LongContext(index, catalog, audit=AuditLog.memory(), llm=llm), llm


def number(messages: Sequence[Message], doc_id: str) -> int:
    """The number of the document ``doc_id`` in the prompt's markers."""
    found = re.search(rf"^=== \[(\d+)\] {re.escape(doc_id)}[ —(]", messages[-1].content, re.M)
    if found is None:
        raise AssertionError(f"no marker for {doc_id!r}")
    return int(found.group(1))


def test_the_prompt_marks_every_document_and_asks_for_citations(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc, llm = lc_with(index, catalog, ["Avoid ketoconazole [1]."])
    answer = lc.ask(QUESTION, ROOT)
    (messages,) = llm.calls
    system, user = messages
    assert system.role == "system"
    assert "numbered documents" in system.content
    assert "[1] or [2, 3]" in system.content
    assert "reply exactly NO_ANSWER" in system.content
    assert user.role == "user"
    assert user.content.endswith(f"\n\nQuestion: {QUESTION}")
    for n, doc in enumerate(index.documents(), 1):
        title = doc.metadata.get("title")
        named = f" — {title}" if title else ""
        assert (
            f"=== [{n}] {doc.id}{named} ({doc.collection}) ===\n{doc.text.strip()}" in user.content
        )
    assert "=== [1] label-cardiozol-eu — Cardiozol label (EU) (labels) ===" in user.content
    assert "=== [3] label-cardiozol-us-draft (labels) ===" in user.content
    assert "=== [8]" not in user.content
    assert (
        answer.tokens
        == lc._corpus(
            {c: catalog.document_filter(ROOT, c) for c in ("labels", "sops", "mi-letters")}
        ).tokens
    )


def test_cited_numbers_map_to_documents(index: DocumentIndex, catalog: Catalog) -> None:
    def reply(messages: list[Message]) -> str:
        eu, us = number(messages, "label-cardiozol-eu"), number(messages, "label-cardiozol-us")
        return (
            f"The EU label warns against ketoconazole [{eu}]. "
            f"The US label warns against clarithromycin [{us}]."
        )

    lc, llm = lc_with(index, catalog, [reply])
    answer = lc.ask(QUESTION, ROOT)
    assert answer.mode == "llm"
    eu, us = answer.sources
    assert (eu.n, eu.doc_id, us.n, us.doc_id) == (1, "label-cardiozol-eu", 2, "label-cardiozol-us")
    for source in answer.sources:
        doc = index.document(source.doc_id)
        assert (source.start, source.end, source.quote) == (0, len(doc.text), doc.text)
        assert source.chunk_id == f"{doc.id}#0"
        assert source.collection == "labels"
    assert answer.text == (
        "The EU label warns against ketoconazole [1]. The US label warns against "
        f"clarithromycin [2].\n\nSources:\n{eu}\n{us}"
    )
    assert answer.unsupported == ()
    assert answer.notes == ()
    assert len(llm.calls) == 1


def test_several_citations_of_a_document_are_one_source(
    index: DocumentIndex, catalog: Catalog
) -> None:
    reply = "Both letters answer doctors [7, 6]. The US letter is on breastfeeding [7][7]."
    lc, _ = lc_with(index, catalog, [reply])
    answer = lc.ask("Summarise the letters", ROOT)
    assert [(s.n, s.doc_id) for s in answer.sources] == [(6, "mil-2024-031"), (7, "mil-2024-047")]
    assert answer.unsupported == ()


def test_an_uncited_sentence_is_flagged(index: DocumentIndex, catalog: Catalog) -> None:
    reply = "The EU dose is 10 mg once daily [1]. Cardiozol also cures insomnia."
    lc, _ = lc_with(index, catalog, [reply])
    answer = lc.ask("Summarise the labels", EVA)
    assert answer.unsupported == ("Cardiozol also cures insomnia.",)
    assert [s.doc_id for s in answer.sources] == ["label-cardiozol-eu"]


@pytest.mark.parametrize("cited", ["0", "3", "42", "1, 3"])
def test_a_number_it_was_not_given_is_unsupported(
    index: DocumentIndex, catalog: Catalog, cited: str
) -> None:
    reply = f"Cardiozol is contraindicated on dialysis [{cited}]."
    lc, _ = lc_with(index, catalog, [reply])
    answer = lc.ask("Summarise the labels", EVA)  # eva is given two documents
    assert answer.unsupported == (reply,)
    assert answer.sources == []
    assert "Sources:" not in answer.text


@pytest.mark.parametrize("separator", [".[1] ", ". [1] "])
def test_a_citation_after_the_full_stop_supports_its_own_sentence(
    index: DocumentIndex, catalog: Catalog, separator: str
) -> None:
    reply = f"The EU dose is 10 mg once daily{separator}Cardiozol also cures insomnia."
    lc, _ = lc_with(index, catalog, [reply])
    answer = lc.ask("Summarise the labels", EVA)
    (flagged,) = answer.unsupported
    assert "insomnia" in flagged
    assert [s.doc_id for s in answer.sources] == ["label-cardiozol-eu"]


def test_no_answer_from_the_model_cannot_be_answered(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc, llm = lc_with(index, catalog, ["NO_ANSWER"])
    with pytest.raises(CannotAnswer, match="the model found no answer") as info:
        lc.ask("What does Cardiozol cost in Japan?", EVA)
    assert info.value.reason == "no relevant passage"
    assert info.value.tool == "long_context.ask"
    assert len(llm.calls) == 1
    errors = [e for e in lc.runner.audit.events() if e.stage == "error"]
    assert [(e.name, e.error["type"] if e.error else None) for e in errors] == [
        ("long_context.ask", "CannotAnswer")
    ]


@pytest.mark.parametrize(
    "failure", [LLMError("the model is down"), "   ", ""], ids=["error", "blank", "empty"]
)
def test_a_failing_model_falls_back_to_an_extractive_answer(
    index: DocumentIndex, catalog: Catalog, failure: ScriptedReply
) -> None:
    lc, llm = lc_with(index, catalog, [failure])
    answer = lc.ask("Which inhibitors raise Cardiozol exposure?", EVA)
    assert answer.mode == "extractive"
    assert answer.notes == (NOTE,)
    (source,) = answer.sources
    assert source.quote.startswith("Strong CYP3A4 inhibitors such as ketoconazole")
    assert len(llm.calls) == 1


def test_a_failing_model_on_a_holistic_question_still_cites_every_document(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc, _ = lc_with(index, catalog, [LLMError("rate limited")])
    answer = lc.ask("List every document", ROOT)
    assert answer.mode == "extractive"
    assert answer.notes == (NOTE,)
    assert [s.doc_id for s in answer.sources] == [d.id for d in index.documents()]


def test_a_failing_model_and_nothing_relevant_cannot_be_answered(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc, _ = lc_with(index, catalog, [LLMError("the model is down")])
    with pytest.raises(CannotAnswer) as info:
        lc.ask("What is the capital of France?", EVA)
    assert info.value.reason == "no relevant passage"


def test_the_model_is_not_asked_when_nothing_may_be_read(
    index: DocumentIndex, catalog: Catalog
) -> None:
    catalog.grant("READ", on="collection:sops", to="group:auditors", where={"owner": "nobody"})
    lc, llm = lc_with(index, catalog, ["Paris [1]."])
    with pytest.raises(CannotAnswer):
        lc.ask("Summarise every SOP", Principal("ada", groups=["auditors"]))
    assert llm.calls == []


def test_a_gateway_is_used_as_given(index: DocumentIndex, catalog: Catalog) -> None:
    audit = AuditLog.memory()
    gateway = LLMGateway([ScriptedLLM(["The EU dose is 10 mg [1]."])], audit=audit)
    lc = LongContext(index, catalog, audit=audit, llm=gateway)
    assert lc.llm is gateway
    answer = lc.ask("Summarise the labels", EVA)
    assert answer.mode == "llm"
    assert isinstance(answer.sources[0], Source)


def test_a_model_is_wrapped_in_a_gateway_on_the_runners_audit(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc, llm = lc_with(index, catalog, ["The EU dose is 10 mg [1]."])
    assert isinstance(lc.llm, LLMGateway)
    assert lc.llm.models == (llm,)
    lc.ask("Summarise the labels", EVA)
    assert [e.kind for e in lc.runner.audit.events()].count("llm") == 2  # start and end
