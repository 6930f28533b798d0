"""A small real app for router tests: a SQLite database, a graph and a few documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import crossroads as xr
from crossroads._demo import DEMO_POLICY, build_demo_database
from crossroads.agents import LabelledRow, RouteModel
from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase

POLICY = (
    DEMO_POLICY
    + """\
documents:
  - {to: "group:eu_medical_info", on: "collection:labels", where: {region: ":region"}}
  - {to: "group:pv_officer", on: "collection:labels"}
  - {to: "group:pv_officer", on: "collection:sops"}
  - {to: "group:eu_medical_info", on: "collection:sops"}
graph:
  - {to: "group:eu_medical_info", on: "graph:default"}
  - {to: "group:pv_officer", on: "graph:default"}
  - {to: "group:us_sales", on: "relation:manufactured_by"}
"""
)

EDGES = [
    ("Cardiozen", "metabolised_by", "CYP3A4"),
    ("ketoconazole", "inhibits", "CYP3A4"),
    ("clarithromycin", "inhibits", "CYP3A4"),
    ("Neurovia", "metabolised_by", "CYP2D6"),
    ("fluoxetine", "inhibits", "CYP2D6"),
    ("Cardiozen", "manufactured_by", "Helix Pharma"),
    ("Neurovia", "manufactured_by", "Helix Pharma"),
]
DOCS = [
    ("cardiozen-eu", "EU", "labels",
     "## Renal impairment\nIn renal impairment reduce the Cardiozen dose to 5 mg once daily. "
     "Monitor potassium.\n## Storage\nStore Cardiozen below 25 °C."),
    ("cardiozen-us", "US", "labels",
     "## Renal impairment\nNo dose adjustment of Cardiozen is needed in mild renal impairment."),
    ("neurovia-eu", "EU", "labels",
     "## Pregnancy\nNeurovia should not be used during pregnancy unless clearly necessary."),
    ("sop-001", "global", "sops",
     "SOP 001 Adverse event case processing. Cases are entered within 24 hours of receipt. "
     "Owner: pharmacovigilance."),
    ("sop-002", "global", "sops",
     "SOP 002 Medical information response. Enquiries are answered within 5 working days. "
     "Owner: medical information."),
]  # fmt: skip


def tiny_model() -> RouteModel:
    """A model fitted on a handful of rows (the shipped default is tested elsewhere)."""
    model = RouteModel()
    model.fit(
        [
            LabelledRow({"bias": 1, "cue.aggregate": 1, "sql.any": 1, "q.how_many": 1}, "sql"),
            LabelledRow({"bias": 1, "sql.any": 1, "sql.values": 0.7, "cue.compare": 1}, "sql"),
            LabelledRow(
                {"bias": 1, "graph.entities": 0.7, "graph.relations": 0.7, "q.which_who": 1},
                "graph",
            ),
            LabelledRow(
                {"bias": 1, "graph.entities": 0.7, "graph.relations": 1.1, "graph.chain": 1},
                "graph",
            ),
            LabelledRow({"bias": 1, "docs.coverage": 0.8, "docs.cue": 0.7}, "rag"),
            LabelledRow({"bias": 1, "docs.coverage": 0.6, "q.what_does": 1}, "rag"),
            LabelledRow(
                {"bias": 1, "holistic.cue": 1, "holistic.fits": 1, "corpus.fits": 1},
                "long_context",
            ),
        ],
        replace=True,
    )
    return model


def build_parts(root: Path) -> tuple[xr.Catalog, SQLDatabase, NetworkXGraph, DocumentIndex]:
    """The catalog and connectors of the small app."""
    build_demo_database(root / "pharma.sqlite")
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    graph = NetworkXGraph()
    for s, r, o in EDGES:
        graph.add_edge(s, r, o)
    index = DocumentIndex()
    for doc_id, region, collection, text in DOCS:
        index.add(doc_id, text, {"region": region}, collection=collection)
    catalog = xr.Catalog.from_yaml(root / "policy.yaml")
    return catalog, SQLDatabase(f"sqlite:///{root / 'pharma.sqlite'}"), graph, index


@pytest.fixture
def mini_app(tmp_path: Path) -> Iterator[xr.Crossroads]:
    """The small app, audited in memory, routed by :func:`tiny_model`."""
    catalog, db, graph, index = build_parts(tmp_path)
    app = xr.Crossroads(
        catalog=catalog,
        sql=db,
        graph=graph,
        documents=index,
        audit=xr.AuditLog.memory(),
        model=tiny_model(),
    )
    yield app
    db.close()


@pytest.fixture
def mini_parts(
    tmp_path: Path,
) -> Iterator[tuple[xr.Catalog, SQLDatabase, NetworkXGraph, DocumentIndex]]:
    """The catalog and connectors of the small app (to build variants of it)."""
    parts = build_parts(tmp_path)
    yield parts
    parts[1].close()


@pytest.fixture
def mini_model() -> RouteModel:
    """:func:`tiny_model`."""
    return tiny_model()
