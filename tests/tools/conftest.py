"""A small pharma corpus for the document-route tests (RAG and long-context), and the
document rules that govern it.

Three collections in one index:

- ``labels``: product labels of Cardiozol per region (``# Dosing``, ``## Renal impairment``,
  ``# Interactions``), plus a confidential draft of the next US label;
- ``sops``: standard operating procedures, classified internal;
- ``mi-letters``: medical-information letters answering doctors' enquiries, per region.

Every document carries ``region`` (except SOPs), ``classification`` and ``owner``; labels
and SOPs also a ``title`` (shown in the corpus markers). The catalog lets
``group:medical_info`` read labels and letters of its own ``:region``, ``group:qa`` every
SOP and ``group:admins`` everything. Test modules declare their own principals in those
groups (``eva`` EU, ``sam`` US, ``quinn`` QA, ``root`` admin).
"""

from __future__ import annotations

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.policy import Catalog

LABEL_EU = """# Dosing

The recommended dose of Cardiozol is 10 mg once daily, taken with or without food. \
Tablets should be swallowed whole with water.

## Renal impairment

In patients with severe renal impairment (creatinine clearance below 30 mL/min) the daily \
dose of Cardiozol must be halved to 5 mg. No adjustment is needed in mild or moderate renal \
impairment.

# Interactions

Strong CYP3A4 inhibitors such as ketoconazole raise Cardiozol exposure threefold; avoid the \
combination. Grapefruit juice has no relevant effect on Cardiozol.
"""

LABEL_US = """# Dosing

The recommended dose of Cardiozol is 20 mg once daily in the morning.

## Renal impairment

Cardiozol is contraindicated in severe renal impairment; patients with severe renal \
impairment on dialysis must never receive Cardiozol.

# Interactions

Do not combine Cardiozol with clarithromycin.
"""

LABEL_US_DRAFT = """# Dosing

## Renal impairment

Proposed wording under FDA review: start Cardiozol at 2.5 mg in moderate renal impairment \
and titrate after four weeks.
"""

SOP_EXCURSION = """# Purpose

This SOP describes how warehouse staff handle a temperature excursion during storage of \
Cardiozol tablets.

# Procedure

Quarantine the affected lots within 24 hours and notify Quality Assurance. Record the \
excursion in the deviation log together with the data-logger printout.
"""

SOP_RECALL = """# Procedure

A product recall is started by the Head of Quality within 4 hours of the decision. \
Wholesalers are informed by phone and in writing.
"""

LETTER_EU_PREGNANCY = """Dear Doctor,

Thank you for your enquiry about Cardiozol in pregnancy. There are no adequate data on the \
use of Cardiozol in pregnant women. Animal studies showed no teratogenic effect. Cardiozol \
should be avoided during pregnancy unless clearly necessary.
"""

LETTER_US_BREASTFEEDING = """Dear Doctor,

Thank you for your question about breastfeeding. Cardiozol passes into human milk in small \
amounts. Breastfeeding is not recommended while taking Cardiozol.
"""

# (doc_id, collection, text, metadata), in index order
CORPUS = [
    (
        "label-cardiozol-eu",
        "labels",
        LABEL_EU,
        {
            "region": "EU",
            "classification": "public",
            "owner": "regulatory-eu",
            "title": "Cardiozol label (EU)",
        },
    ),
    (
        "label-cardiozol-us",
        "labels",
        LABEL_US,
        {
            "region": "US",
            "classification": "public",
            "owner": "regulatory-us",
            "title": "Cardiozol label (US)",
        },
    ),
    (
        "label-cardiozol-us-draft",
        "labels",
        LABEL_US_DRAFT,
        {"region": "US", "classification": "confidential", "owner": "regulatory-us"},
    ),
    (
        "sop-017-temperature-excursion",
        "sops",
        SOP_EXCURSION,
        {"classification": "internal", "owner": "quality", "title": "SOP-017 Excursions"},
    ),
    (
        "sop-022-recall",
        "sops",
        SOP_RECALL,
        {"classification": "internal", "owner": "quality", "title": "SOP-022 Recall"},
    ),
    (
        "mil-2024-031",
        "mi-letters",
        LETTER_EU_PREGNANCY,
        {"region": "EU", "classification": "internal", "owner": "medical-information"},
    ),
    (
        "mil-2024-047",
        "mi-letters",
        LETTER_US_BREASTFEEDING,
        {"region": "US", "classification": "internal", "owner": "medical-information"},
    ),
]


def pharma_index() -> DocumentIndex:
    """The corpus in one index (small chunks, so sections split into several)."""
    index = DocumentIndex("labels", max_chars=300, overlap=120)
    for doc_id, collection, text, metadata in CORPUS:
        index.add(doc_id, text, metadata, collection=collection)
    return index


def pharma_catalog() -> Catalog:
    """Region-bound rules for medical information, SOPs for QA, everything for admins."""
    cat = Catalog()
    cat.grant("READ", on="collection:labels", to="group:medical_info", where={"region": ":region"})
    cat.grant(
        "READ", on="collection:mi-letters", to="group:medical_info", where={"region": ":region"}
    )
    cat.grant("READ", on="collection:sops", to="group:qa")
    cat.grant("READ", on="collection:*", to="group:admins")
    return cat


@pytest.fixture
def index() -> DocumentIndex:
    """A fresh copy of the pharma corpus."""
    return pharma_index()


@pytest.fixture
def catalog() -> Catalog:
    """A fresh copy of the pharma document rules."""
    return pharma_catalog()


@pytest.fixture
def audit() -> AuditLog:
    """An in-memory audit log."""
    return AuditLog.memory()
