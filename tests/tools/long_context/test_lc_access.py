"""Access control in the long-context route: the corpus it reads is exactly the documents
the principal's document rules admit (bound to its attributes, several rules a union, no
rule no access), in the assembled text, in the prompt sent to a model and in the
citations; a forbidden document is never read, quoted or shown to a model."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.connectors.base import Message
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer, PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.long_context import Corpus, LongContext

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})
SAM = Principal("sam", groups=["medical_info"], attributes={"region": "US"})
QUINN = Principal("quinn", groups=["qa"])
ROOT = Principal("root", groups=["admins"])
NORA = Principal("nora", groups=["medical_info"])  # no region: the region rules cannot bind
OTTO = Principal("otto", groups=["sales"])  # no rule names it

READS = {
    "eva": ["label-cardiozol-eu", "mil-2024-031"],
    "sam": ["label-cardiozol-us", "label-cardiozol-us-draft", "mil-2024-047"],
    "quinn": ["sop-017-temperature-excursion", "sop-022-recall"],
    "root": [
        "label-cardiozol-eu",
        "label-cardiozol-us",
        "label-cardiozol-us-draft",
        "sop-017-temperature-excursion",
        "sop-022-recall",
        "mil-2024-031",
        "mil-2024-047",
    ],
}
PRINCIPALS = [EVA, SAM, QUINN, ROOT]
US_ONLY = ("contraindicated", "dialysis", "clarithromycin", "FDA review", "breastfeeding")


def lc_over(index: DocumentIndex, catalog: Catalog, **options: Any) -> LongContext:
    return LongContext(index, catalog, audit=AuditLog.memory(), **options)


def permitted(lc: LongContext, principal: Principal) -> Corpus:
    """The corpus a permitted call reads: built from the filters the tool's policy grants."""
    tool = lc.runner.tools["long_context.ask"]
    permit = tool.authorize(tool.Args(question="Summarise"), principal, lc.catalog)
    corpus: Corpus = lc._corpus(permit.args.filters)
    return corpus


def ids(corpus: Corpus) -> list[str]:
    return [d.id for d in corpus.documents]


def markers(text: str) -> list[str]:
    """The document ids named by the ``=== [n] id …`` markers, checking the numbering."""
    found = re.findall(r"^=== \[(\d+)\] (\S+)", text, re.M)
    assert [int(n) for n, _ in found] == list(range(1, len(found) + 1))
    return [doc_id for _, doc_id in found]


def cite_every_document(messages: list[Message]) -> str:
    """A model that cites every document it was given, one sentence each."""
    numbers = re.findall(r"^=== \[(\d+)\]", messages[-1].content, re.M)
    return " ".join(f"Document {n} is about Cardiozol [{n}]." for n in numbers)


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.id)
def test_the_corpus_is_every_permitted_document_and_no_other(
    index: DocumentIndex, catalog: Catalog, principal: Principal
) -> None:
    corpus = permitted(lc_over(index, catalog), principal)
    assert ids(corpus) == READS[principal.id]
    assert markers(corpus.text) == READS[principal.id]
    for doc in index.documents():
        if doc.id in READS[principal.id]:
            assert doc.text.strip() in corpus.text
        else:
            assert doc.text.strip() not in corpus.text


def test_region_rules_bind_the_principals_region(index: DocumentIndex, catalog: Catalog) -> None:
    lc = lc_over(index, catalog)
    assert {d.metadata["region"] for d in permitted(lc, EVA).documents} == {"EU"}
    assert {d.metadata["region"] for d in permitted(lc, SAM).documents} == {"US"}
    eu = permitted(lc, EVA).text
    for word in US_ONLY:
        assert word not in eu


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.id)
@pytest.mark.parametrize("question", ["List every document", "Summarise every SOP"])
def test_a_holistic_answer_cites_exactly_the_permitted_documents(
    index: DocumentIndex, catalog: Catalog, principal: Principal, question: str
) -> None:
    answer = lc_over(index, catalog).ask(question, principal)
    assert [s.doc_id for s in answer.sources] == READS[principal.id]


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.id)
def test_the_model_is_sent_exactly_the_permitted_corpus(
    index: DocumentIndex, catalog: Catalog, principal: Principal
) -> None:
    llm = ScriptedLLM([cite_every_document])
    lc = lc_over(index, catalog, llm=llm)
    answer = lc.ask("Compare the documents", principal)
    (messages,) = llm.calls
    sent = "\n".join(m.content for m in messages)
    assert markers(sent) == READS[principal.id]
    assert (
        messages[-1].content
        == f"{permitted(lc, principal).text}\n\nQuestion: Compare the documents"
    )
    assert [s.doc_id for s in answer.sources] == READS[principal.id]


def test_a_forbidden_best_match_is_never_quoted(index: DocumentIndex, catalog: Catalog) -> None:
    question = "Is Cardiozol contraindicated in severe renal impairment?"
    lc = lc_over(index, catalog)
    assert lc.ask(question, ROOT).sources[0].doc_id == "label-cardiozol-us"  # the best match
    answer = lc.ask(question, EVA)
    assert [s.doc_id for s in answer.sources] == ["label-cardiozol-eu"]
    assert "halved to 5 mg" in answer.text
    for word in (*US_ONLY, "label-cardiozol-us"):
        assert word not in answer.text


def test_a_forbidden_document_never_reaches_the_model(
    index: DocumentIndex, catalog: Catalog
) -> None:
    llm = ScriptedLLM(["Cardiozol is contraindicated in severe renal impairment [2]."])
    answer = lc_over(index, catalog, llm=llm).ask("What about severe renal impairment?", EVA)
    sent = "\n".join(m.content for m in llm.calls[0])
    assert "halved to 5 mg" in sent
    for word in (*US_ONLY, "label-cardiozol-us", "2.5 mg"):
        assert word not in sent
    # the model may only cite what it was given: [2] is eva's letter, never a US document
    assert [s.doc_id for s in answer.sources] == ["mil-2024-031"]


def test_several_rules_are_a_union(index: DocumentIndex, catalog: Catalog) -> None:
    catalog.grant("READ", on="collection:labels", to="*", where={"classification": "public"})
    lc = lc_over(index, catalog)
    # EU documents by the region rule, public labels of any region by the second rule;
    # not the confidential US draft, not the US letter (no public rule on letters)
    assert ids(permitted(lc, EVA)) == ["label-cardiozol-eu", "label-cardiozol-us", "mil-2024-031"]
    answer = lc.ask("Is Cardiozol contraindicated in severe renal impairment?", EVA)
    assert answer.sources[0].doc_id == "label-cardiozol-us"
    assert "FDA review" not in answer.text
    # someone with no rule of its own reads the public labels only
    assert ids(permitted(lc, OTTO)) == ["label-cardiozol-eu", "label-cardiozol-us"]
    # and so does nora, whose region rules cannot bind
    assert ids(permitted(lc, NORA)) == ["label-cardiozol-eu", "label-cardiozol-us"]


def test_a_missing_attribute_is_denied_naming_it(index: DocumentIndex, catalog: Catalog) -> None:
    llm = ScriptedLLM([])
    lc = lc_over(index, catalog, llm=llm)
    with pytest.raises(PolicyViolation) as info:
        lc.ask("List every document", NORA)
    assert "'region'" in str(info.value)
    assert "attribute 'region'" in info.value.rule
    assert info.value.principal == "nora"
    assert llm.calls == []


def test_a_missing_attribute_only_withholds_the_rules_that_need_it(
    index: DocumentIndex, catalog: Catalog
) -> None:
    nora_qa = Principal("nora", groups=["medical_info", "qa"])
    answer = lc_over(index, catalog).ask("List every document", nora_qa)
    assert [s.doc_id for s in answer.sources] == READS["quinn"]


def test_no_rule_is_denied(index: DocumentIndex, catalog: Catalog) -> None:
    llm = ScriptedLLM([])
    lc = lc_over(index, catalog, llm=llm)
    with pytest.raises(
        PolicyViolation, match="may read none of the 3 collections of this index"
    ) as info:
        lc.ask("List every document", OTTO)
    assert (info.value.principal, info.value.rule, info.value.privilege) == (
        "otto",
        "default deny",
        "READ",
    )
    assert llm.calls == []


def test_collections_restrict_the_scope(index: DocumentIndex, catalog: Catalog) -> None:
    labels = lc_over(index, catalog, collections=["labels"])
    assert ids(permitted(labels, EVA)) == ["label-cardiozol-eu"]
    assert ids(permitted(labels, ROOT)) == READS["root"][:3]
    with pytest.raises(PolicyViolation, match="sops"):
        lc_over(index, catalog, collections=["sops"]).ask("List every document", EVA)
    with pytest.raises(CannotAnswer):
        labels.ask("Can Cardiozol be used during pregnancy?", EVA)  # the letter is out of scope


def test_revoking_a_rule_takes_effect_on_the_next_call(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc = lc_over(index, catalog)
    assert lc.ask("Who starts a product recall?", QUINN).sources[0].doc_id == "sop-022-recall"
    catalog.revoke("READ", on="collection:sops", to="group:qa")
    with pytest.raises(PolicyViolation):
        lc.ask("Who starts a product recall?", QUINN)
    catalog.grant("READ", on="collection:sops", to="group:qa", where={"owner": "recall-team"})
    with pytest.raises(CannotAnswer) as info:  # a readable collection, no readable document
        lc.ask("Who starts a product recall?", QUINN)
    assert info.value.reason == "empty corpus"


def test_changing_a_documents_metadata_moves_it_out_of_reach(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc = lc_over(index, catalog)
    doc = index.document("label-cardiozol-eu")
    index.add(doc.id, doc.text, {**doc.metadata, "region": "US"}, collection="labels")
    assert ids(permitted(lc, EVA)) == ["mil-2024-031"]
    assert "label-cardiozol-eu" in ids(permitted(lc, SAM))
    with pytest.raises(CannotAnswer):
        lc.ask("Which inhibitors raise Cardiozol exposure?", EVA)


# --- many principals, many rules -------------------------------------------------------------

REGIONS = ("EU", "US", "JP")
LEVELS = ("public", "internal", "confidential")


def shipments() -> DocumentIndex:
    """36 notes in two collections, each with a classification and one region, two, or none
    (drawn with a fixed seed)."""
    rng = random.Random(2024)
    index = DocumentIndex("reports")
    for i in range(36):
        metadata: dict[str, Any] = {"classification": rng.choice(LEVELS), "owner": f"t{i % 4}"}
        region = rng.choice([*REGIONS, *REGIONS, ["EU", "US"], None])
        if region is not None:
            metadata["region"] = region
        text = f"Shipment note {i}.\n\nConsignment {code(i)} reached the depot on time."
        index.add(f"note-{i:02d}", text, metadata, collection=rng.choice(["reports", "memos"]))
    return index


def code(i: int) -> str:
    """The consignment code only note ``i`` holds."""
    return f"zq{i:03d}"


def shipment_rules() -> Catalog:
    cat = Catalog()
    cat.grant("READ", on="collection:reports", to="group:regional", where={"region": ":region"})
    cat.grant(
        "READ", on="collection:reports", to="group:public", where={"classification": "public"}
    )
    cat.grant(
        "READ",
        on="collection:memos",
        to="group:regional",
        where={"region": ":region", "classification": ["public", "internal"]},
    )
    cat.grant("READ", on="collection:memos", to="user:carol")
    cat.grant("READ", on="collection:*", to="group:admins")
    return cat


def region_in(metadata: Mapping[str, Any], allowed: set[str]) -> bool:
    region = metadata.get("region")
    values = region if isinstance(region, list) else [] if region is None else [region]
    return any(v in allowed for v in values)


Rule = Callable[[str, Mapping[str, Any]], bool]


def regional(regions: set[str], *, public: bool = False, memos: bool = False) -> Rule:
    """What the rules above admit, written out by hand."""

    def admits(collection: str, m: Mapping[str, Any]) -> bool:
        if collection == "reports":
            return region_in(m, regions) or (public and m["classification"] == "public")
        return memos or (region_in(m, regions) and m["classification"] != "confidential")

    return admits


SHIPMENT_READERS: list[tuple[Principal, Rule]] = [
    (Principal("ada", groups=["regional"], attributes={"region": "EU"}), regional({"EU"})),
    (
        Principal("ben", groups=["regional", "public"], attributes={"region": "US"}),
        regional({"US"}, public=True),
    ),
    (
        Principal("cho", groups=["public"]),
        lambda c, m: c == "reports" and m["classification"] == "public",
    ),
    (
        Principal("carol", groups=["regional"], attributes={"region": "JP"}),
        regional({"JP"}, memos=True),
    ),
    (
        Principal("dev", groups=["regional"], attributes={"region": ["EU", "JP"]}),
        regional({"EU", "JP"}),
    ),
    (Principal("eli", groups=["regional", "public"]), regional(set(), public=True)),
    (Principal("root", groups=["admins"]), lambda c, m: True),
]


@pytest.mark.parametrize(
    ("principal", "admits"), SHIPMENT_READERS, ids=[p.id for p, _ in SHIPMENT_READERS]
)
def test_many_principals_read_exactly_what_their_rules_admit(
    principal: Principal, admits: Rule
) -> None:
    index = shipments()
    expected = [d.id for d in index.documents() if admits(d.collection, d.metadata)]
    forbidden = {code(int(d.id[-2:])) for d in index.documents() if d.id not in expected}
    assert expected
    assert forbidden or principal.id == "root"
    llm = ScriptedLLM([cite_every_document])
    lc = lc_over(index, shipment_rules(), llm=llm)
    corpus = permitted(lc, principal)
    assert ids(corpus) == expected
    assert markers(corpus.text) == expected
    # the model saw every permitted note and no forbidden one, and cites only what it saw
    answer = lc.ask("Summarise every shipment note", principal)
    sent = llm.calls[0][-1].content
    assert markers(sent) == expected
    assert set(re.findall(r"zq\d{3}", sent)).isdisjoint(forbidden)
    assert [s.doc_id for s in answer.sources] == expected
    # so does the extractive route
    extractive = lc_over(index, shipment_rules()).ask("List every shipment note", principal)
    assert [s.doc_id for s in extractive.sources] == expected
    assert set(re.findall(r"zq\d{3}", extractive.text)).isdisjoint(forbidden)


@pytest.mark.parametrize(
    ("principal", "fragment"),
    [
        (Principal("fay", groups=["regional"]), "'region'"),
        (Principal("gus", groups=["sales"]), "may read none of the"),
    ],
    ids=["missing-attribute", "no-rule"],
)
def test_principals_no_rule_admits_are_denied(principal: Principal, fragment: str) -> None:
    with pytest.raises(PolicyViolation) as info:
        lc_over(shipments(), shipment_rules()).ask("List every shipment note", principal)
    assert fragment in str(info.value)


def test_collections_narrow_the_read(index: DocumentIndex, catalog: Catalog) -> None:
    lc = lc_over(index, catalog)
    whole = lc.ask("Summarise every document", ROOT)
    sops = lc.ask("Summarise every document", ROOT, collections=["sops"])
    assert set(sops.read) == {"sop-017-temperature-excursion", "sop-022-recall"}
    assert set(sops.read) < set(whole.read)
    (end,) = [e for e in lc.runner.audit.events() if e.stage == "end"][-1:]
    assert end.result is not None
    assert set(end.result["read"]) == set(sops.read)


def test_narrowing_never_widens_or_confirms_a_collection(
    index: DocumentIndex, catalog: Catalog
) -> None:
    lc = lc_over(index, catalog)
    # eva may read labels and letters of her region, no SOP: asking for SOPs is a denial
    with pytest.raises(PolicyViolation):
        lc.ask("Summarise every document", EVA, collections=["sops"])
    # a collection that does not exist is refused the same way, naming only what was asked
    with pytest.raises(PolicyViolation) as info:
        lc.ask("Summarise every document", ROOT, collections=["no-such-thing"])
    assert "no-such-thing" in str(info.value)
    assert "sops" not in str(info.value)
