"""The pharma example domain: deterministic, big enough, consistent, and answerable by the
real tools as each question's principal."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.policy import Catalog
from crossroads.tools.graph import GraphQA
from crossroads.tools.long_context import LongContext
from crossroads.tools.rag import RAG
from crossroads.tools.sql import GovernedSQL

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pharma"
FILES = ("pharma.sqlite", "graph.json", "documents.jsonl", "questions.jsonl")


def _load_domain() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pharma_domain", EXAMPLE / "domain.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


domain = _load_domain()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pharma") / "domain"
    domain.build(directory)
    return directory


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_yaml(EXAMPLE / "policy.yaml")


@pytest.fixture(scope="module")
def questions(built: Path) -> list[dict]:
    return domain.read_questions(built)


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


def _sample(items: list[dict], n: int) -> list[dict]:
    step = max(1, len(items) // n)
    return items[::step]


# --- deterministic ------------------------------------------------------------------------------


def test_two_builds_are_byte_identical(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    domain.build(again)
    for name in FILES:
        assert (built / name).read_bytes() == (again / name).read_bytes(), name


def test_building_again_replaces_the_directory_whole(tmp_path: Path) -> None:
    target = tmp_path / "d"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    domain.build(target)
    assert sorted(p.name for p in target.iterdir()) == sorted(FILES)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- sizes --------------------------------------------------------------------------------------


def test_the_database_has_enough_rows_and_declares_foreign_keys(built: Path) -> None:
    con = sqlite3.connect(built / "pharma.sqlite")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        fks = {t: con.execute(f'PRAGMA foreign_key_list("{t}")').fetchall() for t in tables}
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()
    assert len(tables) >= 5
    assert sum(rows.values()) >= 10_000
    assert all(rows.values())
    assert {"sales", "adverse_events", "clinical_trials", "products"} <= {t for t in fks if fks[t]}


def test_the_graph_documents_and_questions_are_big_enough(
    built: Path, questions: list[dict]
) -> None:
    graph = domain.load_graph(built)
    assert graph.node_count() >= 500
    labels = Counter(label for n in graph.nodes() for label in graph.node_labels(n))
    assert {"drug", "ingredient", "enzyme", "condition", "manufacturer", "investigational"} <= set(
        labels
    )
    assert set(domain.GRAPH_SYNONYMS) == set(graph.relations())
    index = domain.load_documents(built)
    per = Counter(d.collection for d in index.documents())
    assert index.document_count >= 100
    assert set(per) == {"labels", "sops", "letters"}
    routes = Counter(q["route"] for q in questions)
    assert len([q for q in questions if q["route"] != "compound"]) >= 240
    assert routes["compound"] >= 10
    assert routes["sql"] >= 60
    assert routes["graph"] >= 60
    assert routes["rag"] >= 50
    assert routes["long_context"] >= 40


def test_each_route_has_templates_only_in_heldout(questions: list[dict]) -> None:
    for route in ("sql", "graph", "rag", "long_context"):
        splits: dict[str, set[str]] = {}
        for q in questions:
            if q["route"] == route:
                splits.setdefault(q["template"], set()).add(q["split"])
        assert len(splits) >= 12, route
        only_heldout = [t for t, s in splits.items() if s == {"heldout"}]
        assert len(only_heldout) * 4 >= len(splits), route
    share = Counter(q["split"] for q in questions)
    assert 0.5 <= share["fit"] / len(questions) <= 0.7


# --- consistency ----------------------------------------------------------------------------------


def test_every_product_is_a_drug_node_with_label_documents(built: Path) -> None:
    con = sqlite3.connect(built / "pharma.sqlite")
    try:
        products = [r[0] for r in con.execute("SELECT name FROM products")]
        makers = [r[0] for r in con.execute("SELECT name FROM manufacturers")]
    finally:
        con.close()
    graph = domain.load_graph(built)
    index = domain.load_documents(built)
    labelled = Counter(
        (d.metadata["product"], d.metadata["region"])
        for d in index.documents()
        if d.collection == "labels"
    )
    for product in products:
        assert "drug" in graph.node_labels(product)
        assert graph.neighbors(product, "manufactured_by")
        assert labelled[(product, "EU")] >= 5
        assert labelled[(product, "US")] >= 5
    for maker in makers:
        assert graph.node_labels(maker) == {"manufacturer"}


def test_documents_load_with_the_governance_metadata(built: Path) -> None:
    lines = (built / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        doc = json.loads(line)
        meta = doc["metadata"]
        assert {"region", "classification", "product", "section", "title", "doc_type"} <= set(meta)
        assert meta["region"] in ("EU", "US", "global")
        assert meta["classification"] in ("public", "internal", "confidential")


def test_the_policy_loads_and_governs_every_route(catalog: Catalog) -> None:
    assert {"alice", "bob", "carol", "dave", "erin"} <= set(catalog.principals)
    bob, carol = catalog.principal("bob"), catalog.principal("carol")
    assert not catalog.is_allowed(bob, "TRAVERSE", "relation:interacts_with")
    assert catalog.is_allowed(carol, "TRAVERSE", "graph:pharma")
    assert not catalog.is_allowed(catalog.principal("alice"), "TRAVERSE", "label:investigational")


# --- answerability ------------------------------------------------------------------------------


def test_sql_questions_match_their_gold_query(
    built: Path, catalog: Catalog, questions: list[dict], audit: AuditLog
) -> None:
    sql = GovernedSQL(
        SQLDatabase(f"sqlite:///{built / 'pharma.sqlite'}"),
        catalog,
        synonyms=domain.SQL_SYNONYMS,
        audit=audit,
    )
    asked = _sample([q for q in questions if q["route"] == "sql"], 20)
    assert len(asked) >= 15

    def last_column(rows: list[tuple]) -> list:
        return sorted(
            (round(r[-1], 2) if isinstance(r[-1], float) else r[-1] for r in rows), key=repr
        )

    for q in asked:
        principal = catalog.principal(q["principal"])
        answer = sql.ask(q["question"], principal)
        gold = sql.run(q["sql"], principal)  # governed too: the principal's rows only
        assert answer.result.rows, q["question"]
        assert last_column(answer.result.rows) == last_column(gold.rows), q["question"]


def test_graph_questions_are_answered_after_fitting(
    built: Path, catalog: Catalog, questions: list[dict], audit: AuditLog
) -> None:
    qa = GraphQA(
        domain.load_graph(built),
        catalog,
        graph_name="pharma",
        synonyms=domain.GRAPH_SYNONYMS,
        audit=audit,
    )
    graph_qs = [q for q in questions if q["route"] == "graph"]
    qa.fit([(q["question"], q["answers"]) for q in graph_qs if q["split"] == "fit"])
    heldout = [q for q in graph_qs if q["split"] == "heldout"]
    assert len(heldout) >= 15
    right = 0
    for q in heldout:
        answer = qa.ask(q["question"], catalog.principal(q["principal"]))
        right += bool(answer.answers) and answer.answers[0] in q["answers"]
    assert right / len(heldout) >= 0.9


def test_rag_questions_cite_the_intended_document(
    built: Path, catalog: Catalog, questions: list[dict], audit: AuditLog
) -> None:
    rag = RAG(domain.load_documents(built), catalog, audit=audit)
    asked = [q for q in questions if q["route"] == "rag"]
    cited = 0
    for q in asked:
        answer = rag.ask(q["question"], catalog.principal(q["principal"]))
        cited += q["doc"] in {s.doc_id for s in answer.sources}
    assert cited / len(asked) >= 0.8


def test_long_context_questions_read_every_sop(
    built: Path, catalog: Catalog, questions: list[dict], audit: AuditLog
) -> None:
    index = domain.load_documents(built)
    lc = LongContext(index, catalog, collections=["sops"], budget_tokens=100_000, audit=audit)
    sops = [d.id for d in index.documents() if d.collection == "sops"]
    asked = _sample([q for q in questions if q["route"] == "long_context"], 15)
    assert len(asked) >= 15
    for q in asked:
        answer = lc.ask(q["question"], catalog.principal(q["principal"]))
        assert answer.sources, q["question"]
        assert sorted(answer.read) == sorted(sops)
        assert 5_000 <= answer.tokens <= 15_000


def test_confidential_letters_reach_only_pharmacovigilance(built: Path, catalog: Catalog) -> None:
    index = domain.load_documents(built)
    confidential = [d for d in index.documents() if d.metadata["classification"] == "confidential"]
    assert confidential
    for who, sees in (("alice", False), ("erin", False), ("carol", True)):
        rule = catalog.document_filter(catalog.principal(who), "letters")
        assert all(rule.matches(d.metadata) == sees for d in confidential), who
