"""Access control in the RAG route: document rules bound to the principal's attributes
filter chunks before ranking, several rules are a union, no rule means no access; a chunk
the principal may not read is never returned, quoted or shown to a model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer, PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.rag import RAG, Hit

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
SAM = Principal("sam", groups=["medical_info"], attributes={"region": "US"})
QUINN = Principal("quinn", groups=["qa"])
ROOT = Principal("root", groups=["admins"])
NORA = Principal("nora", groups=["medical_info"])  # no region: the region rules cannot bind
OTTO = Principal("otto", groups=["sales"])  # no rule names it

RENAL = "Cardiozol dose in severe renal impairment"
RENAL_QUESTION = "What is the dose of Cardiozol in severe renal impairment?"
FORBIDDEN = "label-cardiozol-us#1"  # the best chunk for RENAL, readable in the US only
FORBIDDEN_WORDS = ("contraindicated", "dialysis", "label-cardiozol-us")


def rag_over(index: DocumentIndex, catalog: Catalog, **options: Any) -> RAG:
    return RAG(index, catalog, audit=AuditLog.memory(), **options)


def docs(hits: Sequence[Hit]) -> set[str]:
    return {h.doc_id for h in hits}


def test_region_rules_bind_the_principals_region(index: DocumentIndex, catalog: Catalog) -> None:
    rag = rag_over(index, catalog)
    eu = rag.retrieve("Cardiozol", EVA, k=100)
    assert docs(eu) == {"label-cardiozol-eu", "mil-2024-031"}
    assert {h.metadata["region"] for h in eu} == {"EU"}
    us = rag.retrieve("Cardiozol", SAM, k=100)
    assert docs(us) == {"label-cardiozol-us", "label-cardiozol-us-draft", "mil-2024-047"}
    assert {h.metadata["region"] for h in us} == {"US"}


def test_the_forbidden_chunk_is_the_best_match_for_someone_allowed(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_over(index, catalog)
    assert [h.chunk_id for h in rag.retrieve(RENAL, ROOT, k=1)] == [FORBIDDEN]
    assert [h.chunk_id for h in rag.retrieve(RENAL, SAM, k=1)] == [FORBIDDEN]


@pytest.mark.parametrize("k", [1, 100])
def test_a_forbidden_best_match_is_never_returned(
    index: DocumentIndex, catalog: Catalog, k: int
) -> None:
    hits = rag_over(index, catalog).retrieve(RENAL, EVA, k=k)
    assert hits
    assert hits[0].chunk_id == "label-cardiozol-eu#1"  # the best chunk eva may read
    assert FORBIDDEN not in {h.chunk_id for h in hits}
    assert docs(hits) <= {"label-cardiozol-eu", "mil-2024-031"}
    assert len(hits) <= k


def test_a_forbidden_chunk_is_never_quoted(index: DocumentIndex, catalog: Catalog) -> None:
    answer = rag_over(index, catalog).ask(RENAL_QUESTION, EVA)
    assert answer.mode == "extractive"
    assert {s.doc_id for s in answer.sources} == {"label-cardiozol-eu"}
    assert docs(answer.hits) <= {"label-cardiozol-eu", "mil-2024-031"}
    for word in FORBIDDEN_WORDS:
        assert word not in answer.text


def test_the_allowed_region_gets_its_own_answer(index: DocumentIndex, catalog: Catalog) -> None:
    answer = rag_over(index, catalog).ask(RENAL_QUESTION, SAM)
    assert answer.sources[0].chunk_id == FORBIDDEN
    assert "contraindicated" in answer.text
    assert "halved" not in answer.text


def test_a_forbidden_chunk_never_reaches_the_model(index: DocumentIndex, catalog: Catalog) -> None:
    llm = ScriptedLLM(["In severe renal impairment the dose is halved to 5 mg [1]."])
    answer = rag_over(index, catalog, llm=llm).ask(RENAL_QUESTION, EVA)
    assert answer.mode == "llm"
    (messages,) = llm.calls
    sent = "\n".join(m.content for m in messages)
    assert "halved to 5 mg" in sent  # the permitted passage was given
    for word in (*FORBIDDEN_WORDS, "2.5 mg", "FDA review"):
        assert word not in sent
    assert {s.doc_id for s in answer.sources} == {"label-cardiozol-eu"}


def test_several_rules_are_a_union(index: DocumentIndex, catalog: Catalog) -> None:
    catalog.add_document_rule("collection:labels", "*", where={"classification": "public"})
    rag = rag_over(index, catalog)
    hits = rag.retrieve("Cardiozol", EVA, k=100)
    # EU documents by the region rule, public labels of any region by the second rule;
    # not the confidential US draft, not the US letter (no public rule on letters)
    assert docs(hits) == {"label-cardiozol-eu", "label-cardiozol-us", "mil-2024-031"}
    assert FORBIDDEN in {h.chunk_id for h in rag.retrieve(RENAL, EVA, k=1)}
    # someone with no region reads the public labels only
    assert docs(rag.retrieve("Cardiozol", OTTO, k=100)) == {
        "label-cardiozol-eu",
        "label-cardiozol-us",
    }


def test_no_rule_denies_retrieve_and_ask_and_is_audited(
    index: DocumentIndex, catalog: Catalog
) -> None:
    llm = ScriptedLLM([])
    rag = rag_over(index, catalog, llm=llm)
    with pytest.raises(PolicyViolation) as info:
        rag.retrieve("Cardiozol", OTTO)
    assert (info.value.principal, info.value.rule, info.value.privilege) == (
        "otto",
        "default deny",
        "READ",
    )
    with pytest.raises(PolicyViolation, match="may read none of the 3 collections of this index"):
        rag.ask("What is the dose of Cardiozol?", OTTO)
    assert llm.calls == []
    events = rag.runner.audit.events()
    decisions = [(e.name, e.decision) for e in events if e.stage == "decision"]
    assert [name for name, _ in decisions] == ["rag.retrieve", "rag.ask"]
    for _, decision in decisions:
        assert decision is not None
        assert not decision.allowed
        assert decision.rule == "default deny"
    assert [e.stage for e in events if e.name == "rag.ask"] == ["start", "decision", "error"]
    assert not [e for e in events if e.stage == "end"]


def test_a_principal_missing_the_rules_attribute_is_denied(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_over(index, catalog)
    with pytest.raises(PolicyViolation):
        rag.retrieve("Cardiozol", NORA)
    with pytest.raises(PolicyViolation):
        rag.ask("What is the dose of Cardiozol?", NORA)
    # a rule that needs no attribute still applies to it
    catalog.add_document_rule("collection:labels", "*", where={"classification": "public"})
    assert docs(rag.retrieve("Cardiozol", NORA, k=100)) == {
        "label-cardiozol-eu",
        "label-cardiozol-us",
    }


def test_the_denial_names_the_missing_attribute(index: DocumentIndex, catalog: Catalog) -> None:
    # Regression: crossroads/tools/rag/_rag.py:134 (`readable`) swallows the catalog's
    # PolicyViolation, whose message names the missing attribute ("Ask an administrator to
    # set 'region' for 'nora'"); RAG._filters then raises `deny_unreadable` (line 139):
    # "no document rule applies to it", rule "default deny". Wrong here: two rules apply
    # to nora, she lacks the attribute they bind. Fix: keep the catalog's denials and, when
    # nothing is readable, re-raise the one naming missing attributes (or list them all).
    with pytest.raises(PolicyViolation) as info:
        rag_over(index, catalog).retrieve("Cardiozol", NORA)
    assert "'region'" in str(info.value)


def test_collections_restrict_the_scope(index: DocumentIndex, catalog: Catalog) -> None:
    sops = rag_over(index, catalog, collections=["sops"])
    assert docs(sops.retrieve("Cardiozol", ROOT, k=100)) == {"sop-017-temperature-excursion"}
    with pytest.raises(PolicyViolation, match="sops"):
        sops.retrieve("Cardiozol", EVA)  # eva may read labels and letters, not SOPs
    labels = rag_over(index, catalog, collections=["labels"])
    assert labels.retrieve("pregnancy", EVA) == []  # the letter is out of scope
    with pytest.raises(CannotAnswer):
        labels.ask("Can Cardiozol be used during pregnancy?", EVA)
    both = rag_over(index, catalog, collections=["labels", "sops"])
    assert docs(both.retrieve("Cardiozol", QUINN, k=100)) == {"sop-017-temperature-excursion"}


def test_revoking_a_rule_takes_effect_on_the_next_call(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_over(index, catalog)
    question = "Within how many hours must affected lots be quarantined?"
    assert rag.ask(question, QUINN).sources[0].doc_id == "sop-017-temperature-excursion"
    catalog.revoke("READ", on="collection:sops", to="group:qa")
    with pytest.raises(PolicyViolation):
        rag.retrieve("quarantine lots", QUINN)
    with pytest.raises(PolicyViolation):
        rag.ask(question, QUINN)
    catalog.add_document_rule("collection:sops", "group:qa", where={"owner": "recall-team"})
    assert rag.retrieve("quarantine lots", QUINN) == []  # readable collection, no document


def test_changing_a_documents_metadata_moves_it_out_of_reach(
    index: DocumentIndex, catalog: Catalog
) -> None:
    rag = rag_over(index, catalog)
    assert docs(rag.retrieve("ketoconazole", EVA)) == {"label-cardiozol-eu"}
    doc = index.document("label-cardiozol-eu")
    index.add(doc.id, doc.text, {**doc.metadata, "region": "US"}, collection="labels")
    assert rag.retrieve("ketoconazole", EVA) == []
    assert docs(rag.retrieve("ketoconazole", SAM)) == {"label-cardiozol-eu"}
