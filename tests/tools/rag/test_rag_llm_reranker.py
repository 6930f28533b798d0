"""LLMReranker: the model's ranking reorders the permitted hits; numbers it invents or
repeats are ignored, passages it leaves out keep their place after the ranked ones, a
failing model keeps the retrieval order, and its calls are audited as the caller."""

from __future__ import annotations

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import ConfigError, LLMError
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG, Hit, LLMReranker

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})


def hits(n: int) -> list[Hit]:
    return [
        Hit(doc_id=f"d{i}", chunk_id=f"d{i}#0", score=1.0 / i, text=f"text {i}")
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize(
    ("reply", "order"),
    [
        ('{"ranking": [3, 1, 2]}', ["d3", "d1", "d2"]),
        ('{"ranking": [2]}', ["d2", "d1", "d3"]),  # the rest keep their order
        ('{"ranking": [9, 2, 2, 0, 3]}', ["d2", "d3", "d1"]),  # invented, repeated: ignored
        ("[3, 2, 1]", ["d3", "d2", "d1"]),
        ("3 > 1 > 2", ["d1", "d2", "d3"]),  # not JSON: the gateway refuses it, order kept
    ],
)
def test_the_model_ranking_reorders_without_losing_or_inventing(
    reply: str, order: list[str]
) -> None:
    reranker = LLMReranker(ScriptedLLM([reply]), audit=AuditLog.memory())
    ranked = reranker.rerank("q", hits(3), principal=EVA)
    assert [h.doc_id for h in ranked] == order


def test_a_failing_or_useless_model_keeps_the_retrieval_order() -> None:
    reranker = LLMReranker(
        ScriptedLLM([LLMError("down"), '{"ranking": []}']), audit=AuditLog.memory()
    )
    assert [h.doc_id for h in reranker.rerank("q", hits(3), principal=EVA)] == ["d1", "d2", "d3"]
    assert [h.doc_id for h in reranker.rerank("q", hits(3), principal=EVA)] == ["d1", "d2", "d3"]
    assert reranker.failures == 2


def test_a_principal_is_needed_to_charge_and_audit_the_call() -> None:
    with pytest.raises(ConfigError, match="needs a principal"):
        LLMReranker(ScriptedLLM(["[1]"]), audit=AuditLog.memory()).rerank("q", hits(2))
    with pytest.raises(ConfigError, match="max_chars"):
        LLMReranker(ScriptedLLM([]), max_chars=10)


def test_rag_passes_the_caller_and_only_permitted_passages(
    index: DocumentIndex, catalog: Catalog
) -> None:
    audit = AuditLog.memory()
    model = ScriptedLLM(['{"ranking": [2, 1]}'])
    rag = RAG(index, catalog, audit=audit, k=1, depth=5, reranker=LLMReranker(model, audit=audit))
    answer = rag.ask("What is the daily dose of Cardiozol?", EVA)
    assert "reranked by LLMReranker" in answer.notes
    prompt = "\n".join(m.content for m in model.calls[0])
    assert "US" not in {h.metadata.get("region") for h in answer.hits}
    assert "label-cardiozol-us" not in prompt
    llm_events = [e for e in audit.events() if e.kind == "llm"]
    assert llm_events
    assert {e.principal["id"] for e in llm_events} == {"eva"}
