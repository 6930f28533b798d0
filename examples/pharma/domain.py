"""The pharma example domain: a medical-information department's data, seeded and deterministic.

``build(directory)`` writes four files, byte-identical on every run:

- ``pharma.sqlite`` — manufacturers, products, markets, monthly sales 2023–2025, clinical
  trials, patients and adverse-event reports (foreign keys declared);
- ``graph.json`` — a pharmacology knowledge graph: the company's products and ~180 other
  drugs, their ingredients, the enzymes that metabolise them (and the drugs that inhibit
  or induce those enzymes), interactions, indications, contraindications, manufacturers
  and a few investigational compounds;
- ``documents.jsonl`` — product labels (one document per product, region and section),
  internal SOPs and medical-information response letters, with metadata for governance;
- ``questions.jsonl`` — labelled questions for the four routes (and compound ones), split
  into ``fit`` and ``heldout``.

``load_graph(directory)`` and ``load_documents(directory)`` read them back as crossroads
connectors; ``GRAPH_SYNONYMS`` and ``SQL_SYNONYMS`` are the phrasings the deterministic
tools need for this schema. Run ``python domain.py DIR`` to build into ``DIR``.

This file is the entry point (crossroads loads it by file path); the generator's parts are
its sibling modules, imported by ``_load``: ``_company`` (products, manufacturers, markets),
``_drugs`` (the graph's other drugs, enzymes, interactions), ``_graph``, ``_database``,
``_labels``, ``_sops`` and ``_letters`` (the documents), ``_questions_graph``,
``_questions_sql`` and ``_questions`` (the labelled questions).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossroads.connectors import DocumentIndex, NetworkXGraph

__all__ = [
    "BUDGET_TOKENS",
    "GRAPH_NAME",
    "GRAPH_SYNONYMS",
    "SEED",
    "SQL_SYNONYMS",
    "build",
    "load_documents",
    "load_graph",
    "read_questions",
]

_HERE = Path(__file__).resolve().parent
_PACKAGE = f"crossroads_example_parts_{hashlib.sha256(str(_HERE).encode()).hexdigest()[:12]}"
"""The package the sibling modules are imported under (one per folder)."""


def _load(name: str) -> ModuleType:
    """The sibling module ``name`` (``_graph``, ``_labels`` …) of this folder.

    ``domain.py`` is loaded by file path, outside any package, so it cannot import its
    siblings with relative imports. It registers this folder as a package under
    ``_PACKAGE`` instead and imports them as its submodules, where they import one another
    with ordinary relative imports (``from ._company import PRODUCTS``).
    """
    if _PACKAGE not in sys.modules:
        package = ModuleType(_PACKAGE)
        package.__path__ = [str(_HERE)]
        sys.modules[_PACKAGE] = package
    return importlib.import_module(f"{_PACKAGE}.{name}")


_database = _load("_database")
_graph = _load("_graph")
_labels = _load("_labels")
_letters = _load("_letters")
_questions = _load("_questions")
_sops = _load("_sops")

SEED = 20240611
GRAPH_NAME = "pharma"
"""The graph's name in the policy (``graph:pharma``)."""
BUDGET_TOKENS = 100_000
"""The long-context budget the domain is tuned for (all SOPs come to about 6,200 tokens)."""

GRAPH_SYNONYMS: dict[str, list[str]] = {
    "has_ingredient": ["contain", "contains", "containing", "ingredient", "ingredients"],
    "metabolised_by": ["metabolise", "metabolises", "metabolised", "metabolized", "metabolism"],
    "inhibits": ["inhibit", "inhibitor", "inhibitors", "inhibited", "blocks"],
    "induces": ["induce", "inducer", "inducers", "induced"],
    "interacts_with": ["interact", "interacts", "interaction", "interactions", "combined with"],
    "indicated_for": ["indicated", "indication", "indications", "treat", "treats", "used for"],
    "contraindicated_in": ["contraindicated", "contraindication", "contraindications", "avoid"],
    "manufactured_by": ["manufacture", "manufactures", "manufacturer", "makes", "made", "produce"],
}
"""Relation name → phrasings that cue it (``GraphQA(synonyms=GRAPH_SYNONYMS)``)."""

SQL_SYNONYMS: dict[str, str] = {
    "trial": "clinical_trials",
    "study": "clinical_trials",
    "drug": "products",
    "medicine": "products",
    "report": "adverse_events",
    "case": "adverse_events",
    "adverse reaction": "adverse_events",
    "enrolled": "clinical_trials.enrolment",
    "enrollment": "clinical_trials.enrolment",
    "sale": "sales.revenue",
    "launched": "products.launch_year",
}
"""Phrase → ``table`` or ``table.column`` (``GovernedSQL(synonyms=SQL_SYNONYMS)``)."""


def load_graph(directory: str | os.PathLike[str]) -> NetworkXGraph:
    """The knowledge graph ``build`` wrote to ``directory``, with node labels."""
    from crossroads.connectors import NetworkXGraph

    data = json.loads((Path(directory) / "graph.json").read_text(encoding="utf-8"))
    graph = NetworkXGraph()
    for node in data["nodes"]:
        graph.add_node(node["id"], labels=node["labels"], name=node.get("name", node["id"]))
    for s, rel, o in data["edges"]:
        graph.add_edge(s, rel, o)
    return graph


def load_documents(directory: str | os.PathLike[str]) -> DocumentIndex:
    """The documents ``build`` wrote to ``directory``, each in its collection."""
    from crossroads.connectors import DocumentIndex

    index = DocumentIndex("labels")
    path = Path(directory) / "documents.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            text = f"{doc['title']}\n\n{doc['text']}" if doc.get("title") else doc["text"]
            index.add(doc["id"], text, doc["metadata"], doc["collection"])
    return index


# --- building ---------------------------------------------------------------------------------


def _jsonl(items: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in items)


def build(directory: str | os.PathLike[str]) -> None:
    """Write the domain into ``directory`` (replaced whole: built in a sibling temporary
    directory, then renamed, so a half-built directory is never seen)."""
    target = Path(directory).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        rng = random.Random(SEED)
        _database.write_database(staging / "pharma.sqlite", random.Random(rng.random()))
        graph = _graph.build_graph(random.Random(rng.random()))
        (staging / "graph.json").write_text(
            json.dumps(_graph.graph_json(graph), ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
        docs_rng = random.Random(rng.random())
        docs = (
            _labels.label_documents(graph, docs_rng)
            + _sops.sop_documents()
            + _letters.letter_documents(docs_rng)
        )
        (staging / "documents.jsonl").write_text(_jsonl(docs), encoding="utf-8")
        questions = _questions.questions(
            graph, docs, staging / "pharma.sqlite", random.Random(rng.random())
        )
        (staging / "questions.jsonl").write_text(_jsonl(questions), encoding="utf-8")
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}-old-{os.getpid()}")
            target.rename(old)
        staging.chmod(0o755)
        staging.rename(target)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_questions(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The labelled questions ``build`` wrote to ``directory``."""
    text = (Path(directory) / "questions.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python domain.py DIRECTORY")
    build(sys.argv[1])
    print(f"built the pharma domain in {sys.argv[1]}")
