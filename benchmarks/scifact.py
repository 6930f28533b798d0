"""BEIR SciFact on the document routes: retrieval quality, speed and memory, an
access-control leak test and a long-context needle test.

1. **Quality**: BM25, dense (MiniLM) and hybrid (reciprocal rank fusion) retrieval over
   the 5,183 SciFact abstracts, asked through the governed path
   ``RAG.retrieve(query, principal, k=1000)`` by a principal whose document rule admits
   every document. Chunks are folded into documents by their best chunk (a document
   ranks where its first chunk appears); nDCG@10 and Recall@100 come from pytrec_eval.
   Only each query's ``_id`` and ``text`` are read (a query's ``metadata`` holds the gold
   evidence). Hybrid's ``rrf_k`` is chosen on the *train* qrels; test is reported.
2. **Speed and memory**: index build, embedding time (cached with the index in
   ``benchmarks/out/scifact-index``), ``RAG.retrieve`` latency at k=10, resident memory.
3. **Leak test**: every document gets deterministic synthetic access metadata; 33
   principals hold different document rules; thousands of random queries over modes and
   k are checked hit by hit against a reference implementation of the rule semantics
   written here, and ``RAG.ask`` in LLM mode (a scripted model that records its prompt)
   is checked for any forbidden chunk in what the model was given.
4. **Needle test**: ``LongContext`` over sub-corpora of 10, 50 and 200 abstracts finds and
   cites a fact placed in one permitted document, never uses one placed in a forbidden
   document, and refuses with a reason when the corpus is over its budget.

Run ``python benchmarks/scifact.py`` (``--limit N`` queries per split, ``--corpus-limit N``
documents, ``--modes bm25`` without the dense extra, ``--results benchmarks/RESULTS.md`` to
update the summary).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import importlib.util
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from _report import REPO, SHARED_BENCH, machine, percentile, update_results

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex, Embedder, Message, SearchMode
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer, ConfigError, MissingDependency, PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.long_context import LongContext
from crossroads.tools.rag import RAG

HEADING = "## BEIR SciFact (document routes)"
DEFAULT_DATA = SHARED_BENCH / "beir-scifact"
DEFAULT_OUT = REPO / "benchmarks" / "out" / "scifact.json"
DEFAULT_CACHE = REPO / "benchmarks" / "out" / "scifact-index"
COLLECTION = "scifact"
MODES = ("bm25", "dense", "hybrid")
RRF_GRID = (5, 10, 20, 60)
RRF_DEFAULT = 60
EVAL_K = 1000  # chunks asked for per query: enough for 100 distinct documents
LATENCY_K = 10
PUBLISHED = {  # nDCG@10 on the SciFact test queries
    "BEIR BM25 (Anserini)": 0.665,
    "BEIR all-MiniLM-L6-v2": 0.645,
    "ColBERTv2": 0.693,
}
TARGETS = {"bm25": 0.665, "hybrid": 0.70}
SEED = 20201116

# --- synthetic access metadata ---------------------------------------------------------------

REGIONS = ("EU", "US", "APAC")
CLASSIFICATIONS = ("public", "internal", "restricted")
TEAMS = ("oncology", "cardiology", "neurology", "immunology", "genomics", "epidemiology")


def acl_metadata(doc_id: str) -> dict[str, Any]:
    """Deterministic access metadata of a document: region, classification, owner; a third
    of the documents also carry a list-valued ``regions`` (one or two regions)."""
    h = hashlib.sha256(f"scifact-acl:{doc_id}".encode()).digest()
    meta: dict[str, Any] = {
        "region": REGIONS[h[0] % 3],
        "classification": CLASSIFICATIONS[h[1] % 3],
        "owner": TEAMS[h[2] % 6],
        "tier": 1 + h[6] % 3,  # a number: rules compare it by type as well as value
    }
    if h[3] % 3 == 0:
        listed = {REGIONS[h[4] % 3], REGIONS[h[5] % 3]}
        meta["regions"] = [r for r in REGIONS if r in listed]
    return meta


@dataclass(frozen=True)
class Persona:
    """A principal of the leak test and what it is meant to exercise."""

    id: str
    about: str
    groups: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def principal(self) -> Principal:
        return Principal(self.id, groups=self.groups, attributes=dict(self.attributes))


ALL_CLASSES = list(CLASSIFICATIONS)
# (grantee, where): READ rules on collection:scifact. None = every document.
GRANTS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("user:evaluator", {"classification": ALL_CLASSES}),
    ("user:eu_literal", {"region": "EU"}),
    ("user:us_public", {"region": "US", "classification": "public"}),
    ("user:apac_attr", {"region": ":region"}),
    ("user:multi_region_attr", {"region": ":region"}),
    ("user:team_attr", {"owner": ":team"}),
    ("user:union_two", {"region": "EU"}),
    ("user:union_two", {"owner": "genomics"}),
    ("user:union_three", {"classification": "public"}),
    ("user:union_three", {"region": ":region", "classification": "internal"}),
    ("user:union_three", {"owner": ["cardiology", "neurology"]}),
    ("user:class_list", {"classification": ["public", "internal"]}),
    ("user:regions_field", {"regions": "APAC"}),
    ("user:regions_attr", {"regions": ":home"}),
    ("user:lacks_attr", {"region": ":region"}),
    ("user:half_lacking", {"owner": ":team"}),
    ("user:half_lacking", {"classification": "public"}),
    ("group:eu_staff", {"region": "EU", "classification": ["public", "internal"]}),
    ("group:genomics_team", {"owner": "genomics"}),
    ("group:auditors", None),
    ("user:region_and_team", {"region": ":region", "owner": ":team"}),
    ("user:team_list_public", {"owner": ":team", "classification": "public"}),
    ("user:restricted_team", {"classification": "restricted", "owner": ":team"}),
    ("user:literal_or_attr", {"region": ["EU", ":region"]}),
    ("user:no_such_value", {"region": "LATAM"}),
    ("user:no_such_field", {"department": "radiology"}),
    ("user:user_plus_group", {"owner": "immunology"}),
    ("user:regions_and_class", {"regions": ["US", "APAC"], "classification": "internal"}),
    ("user:wrong_attr_name", {"region": ":region"}),
    ("group:regional_leads", {"region": ":region"}),
    ("user:lead_without_attr", {"classification": "restricted"}),
    ("user:tier_int", {"tier": [1, 2]}),
    ("user:tier_bool", {"tier": True}),
    ("user:tier_str", {"tier": "1"}),
    ("user:triple_and", {"region": "APAC", "classification": "internal",
                         "owner": ["immunology", "epidemiology"]}),
)  # fmt: skip
PERSONAS: tuple[Persona, ...] = (
    Persona("evaluator", "where classification in all three values (admits every document)"),
    Persona("eu_literal", "one literal rule"),
    Persona("us_public", "two fields ANDed"),
    Persona("apac_attr", "':region' bound to APAC", attributes={"region": "APAC"}),
    Persona("multi_region_attr", "':region' bound to a list", attributes={"region": ["EU", "US"]}),
    Persona("team_attr", "':team' bound", attributes={"team": "oncology"}),
    Persona("union_two", "union of two literal rules"),
    Persona("union_three", "union of three rules, one bound", attributes={"region": "US"}),
    Persona("class_list", "a list of values"),
    Persona("regions_field", "a rule on the list-valued field"),
    Persona("regions_attr", "list-valued field, ':home' bound", attributes={"home": ["EU"]}),
    Persona("lacks_attr", "its only rule needs ':region', which it lacks → denied"),
    Persona("no_rule", "no rule at all → denied"),
    Persona("half_lacking", "lacks ':team' for one rule; the other (public) still applies"),
    Persona("eu_member", "a group's rule", groups=("eu_staff",)),
    Persona("two_groups", "union of two groups' rules", groups=("eu_staff", "genomics_team")),
    Persona("auditor", "a group rule without where (every document)", groups=("auditors",)),
    Persona("region_and_team", "two attributes ANDed", attributes={"region": "EU", "team": "cardiology"}),  # noqa: E501
    Persona("team_list_public", "':team' bound to a list, ANDed with a literal",
            attributes={"team": ["oncology", "genomics"]}),
    Persona("restricted_team", "restricted, of one team", attributes={"team": "neurology"}),
    Persona("literal_or_attr", "a literal and ':region' in a list", attributes={"region": "APAC"}),
    Persona("no_such_value", "a value no document has: allowed, sees nothing"),
    Persona("no_such_field", "a field no document has: allowed, sees nothing"),
    Persona("user_plus_group", "its own rule and a group's", groups=("eu_staff",)),
    Persona("regions_and_class", "list-valued field with a list of values, ANDed"),
    Persona("wrong_attr_name", "has 'Region', the rule needs 'region' → denied",
            attributes={"Region": "EU"}),
    Persona("lead_without_attr", "group rule needs ':region' (lacking); own rule applies",
            groups=("regional_leads",)),
    Persona("lead_with_attr", "group rule with ':region' bound", groups=("regional_leads",),
            attributes={"region": "US"}),
    Persona("empty_group", "in a group no rule names → denied", groups=("interns",)),
    Persona("triple_and", "three fields ANDed, one a list"),
    Persona("tier_int", "numbers (tier 1 or 2)"),
    Persona("tier_bool", "tier True: not the number 1, sees nothing"),
    Persona("tier_str", "tier '1': not the number 1, sees nothing"),
)  # fmt: skip


def build_catalog() -> Catalog:
    catalog = Catalog()
    for to, where in GRANTS:
        catalog.grant("READ", on=f"collection:{COLLECTION}", to=to, where=where)
    return catalog


# --- the reference implementation of the document rules --------------------------------------
# Written from the rule semantics, not from the library: a rule applies to a principal it
# names (user:ID, group:NAME, *); ":attr" takes the principal's attribute (a list: any of
# them); a rule needing an attribute the principal lacks does not apply; the rules that
# apply are a union; no rule applies → denied. A document matches a clause when every
# field of the clause is in its metadata with an allowed value (a list: any element),
# equal and of the same type (True is not 1, 1 is not "1").

Clause = dict[str, set[Any]]


def reference_access(persona: Persona) -> tuple[bool, list[Clause] | None]:
    """(every document, clauses) for a persona; clauses None when it is denied."""
    names = {"*", f"user:{persona.id}", *(f"group:{g}" for g in persona.groups)}
    every = False
    clauses: list[Clause] = []
    applied = False
    for to, where in GRANTS:
        if to not in names:
            continue
        if where is None:
            every = applied = True
            continue
        clause: Clause = {}
        usable = True
        for key, raw in where.items():
            allowed: set[Any] = set()
            for value in raw if isinstance(raw, list) else [raw]:
                if isinstance(value, str) and value.startswith(":"):
                    bound = persona.attributes.get(value[1:])
                    if bound is None:
                        usable = False
                        break
                    allowed.update(bound if isinstance(bound, list | tuple) else [bound])
                else:
                    allowed.add(value)
            if not usable:
                break
            clause[key] = allowed
        if usable:
            clauses.append(clause)
            applied = True
    return every, (clauses if applied else None)


def reference_allows(every: bool, clauses: list[Clause], meta: Mapping[str, Any]) -> bool:
    if every:
        return True
    for clause in clauses:
        ok = True
        for key, allowed in clause.items():
            if key not in meta:
                ok = False
                break
            value = meta[key]
            values = value if isinstance(value, list) else [value]
            # equal and of the same type: True is not 1, 1 is not "1"
            if not any(type(v) is type(a) and v == a for v in values for a in allowed):
                ok = False
                break
        if ok:
            return True
    return False


# --- data ------------------------------------------------------------------------------------


@dataclass
class Data:
    corpus: list[dict[str, str]]  # _id, title, text in file order
    queries: dict[str, str]  # _id -> text (nothing else is read)
    qrels: dict[str, dict[str, dict[str, int]]]  # split -> query -> doc -> relevance
    corpus_sha256: str
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id<TAB>corpus-id<TAB>score`` with a header line (CRLF line endings)."""
    out: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows)
        for row in rows:
            if not row or not "".join(row).strip():
                continue
            qid, did, score = (x.strip() for x in row)
            out.setdefault(qid, {})[did] = int(score)
    return out


def load_data(root: Path, corpus_limit: int | None, limit: int | None) -> Data:
    corpus: list[dict[str, str]] = []
    digest = hashlib.sha256()
    with (root / "corpus.jsonl").open("rb") as handle:
        for raw in handle:
            digest.update(raw)
            if corpus_limit is not None and len(corpus) >= corpus_limit:
                continue
            obj = json.loads(raw)
            corpus.append({"_id": str(obj["_id"]), "title": obj["title"], "text": obj["text"]})
    queries: dict[str, str] = {}
    with (root / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                obj = json.loads(line)
                queries[str(obj["_id"])] = obj["text"]  # never obj["metadata"]: gold evidence
    data = Data(corpus, queries, {}, digest.hexdigest())
    ids = {d["_id"] for d in corpus}
    for split in ("test", "train"):
        qrels = read_qrels(root / "qrels" / f"{split}.tsv")
        if corpus_limit is not None:
            kept = {q: {d: s for d, s in rel.items() if d in ids} for q, rel in qrels.items()}
            kept = {q: rel for q, rel in kept.items() if rel}
            data.dropped[split] = len(qrels) - len(kept)
            qrels = kept
        if limit is not None:
            qrels = dict(list(qrels.items())[:limit])
        data.qrels[split] = qrels
    if corpus_limit is not None:
        data.notes.append(
            f"--corpus-limit {corpus_limit}: only the first {len(corpus)} documents; qrels "
            "restricted to them and queries without a relevant document left dropped "
            f"(test {data.dropped['test']}, train {data.dropped['train']})"
        )
    return data


def write_acl_corpus(data: Data, path: Path) -> None:
    """The corpus as JSONL with each document's synthetic access metadata."""
    with path.open("w", encoding="utf-8") as out:
        for doc in data.corpus:
            row = {**doc, "metadata": acl_metadata(doc["_id"])}
            out.write(json.dumps(row) + "\n")


def rss_mib() -> float | None:
    """This process's resident set size (VmRSS), MiB; None where /proc is not there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- indexes ---------------------------------------------------------------------------------


def chunk_key(index: DocumentIndex) -> str:
    """What the vectors depend on: every chunk's id, heading and text."""
    h = hashlib.sha256()
    for c in index.chunks():
        h.update(f"{c.chunk_id}\x1f{c.heading}\x1f{c.text}\x1e".encode())
    return h.hexdigest()


def dense_index(
    acl_corpus: Path,
    embedder: Embedder,
    key: dict[str, Any],
    cache: Path | None,
) -> tuple[DocumentIndex, dict[str, Any]]:
    """The index with vectors: loaded from ``cache`` when its key matches, else embedded
    (and saved there). The cache's metadata keeps the original embedding time."""
    info: dict[str, Any] = {"cache": str(cache) if cache else None}
    meta_file = cache / "benchmark.json" if cache else None
    if meta_file is not None and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("key") == key:
            assert cache is not None
            try:
                started = time.perf_counter()
                index = DocumentIndex.load(cache, embedder=embedder)
                load_s = time.perf_counter() - started
            except ConfigError as exc:
                info["cache_refused"] = str(exc)
            else:
                # this run's access metadata (the texts are unchanged: nothing re-embedded)
                index.add_jsonl(acl_corpus)
                embedded = index.build()
                info.update(
                    reused=True,
                    load_seconds=round(load_s, 2),
                    reembedded_chunks=embedded,
                    embedding=meta["embedding"],
                )
                return index, info
        else:
            info["cache_refused"] = "key differs (corpus, chunking or embedder changed)"
    index = DocumentIndex.from_jsonl(
        acl_corpus,
        id_field="_id",
        text_fields=["title", "text"],
        collection=COLLECTION,
        embedder=embedder,
    )
    index.search("warm up", k=1)  # the BM25 part, so that only embedding is timed below
    started = time.perf_counter()
    embedded = index.build()
    seconds = time.perf_counter() - started
    info.update(
        reused=False,
        reembedded_chunks=embedded,
        embedding={
            "seconds": round(seconds, 1),
            "chunks": embedded,
            "chunks_per_second": round(embedded / seconds, 1) if seconds else None,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
        },
    )
    if cache is not None:
        index.save(cache)
        meta_file = cache / "benchmark.json"
        meta_file.write_text(json.dumps({"key": key, "embedding": info["embedding"]}, indent=2))
    return index, info


def make_rag(
    indexes: dict[str, DocumentIndex],
    catalog: Catalog,
    mode: str,
    rrf_k: float = RRF_DEFAULT,
    llm: ScriptedLLM | None = None,
) -> RAG:
    """A RAG over the BM25-only index (bm25) or the one with vectors (dense, hybrid)."""
    index = indexes["bm25" if mode == "bm25" else "dense"]
    search = cast(SearchMode, mode)
    return RAG(index, catalog, audit=AuditLog.memory(), search=search, rrf_k=rrf_k, llm=llm)


# --- quality ---------------------------------------------------------------------------------


def evaluate(
    rag: RAG, principal: Principal, data: Data, split: str, qrels_eval: Any
) -> dict[str, Any]:
    """nDCG@10 and Recall@100 of ``rag`` on one split's queries (pytrec_eval)."""
    qrels = data.qrels[split]
    run: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    for qid in qrels:
        hits = rag.retrieve(data.queries[qid], principal, k=EVAL_K)
        ranking = list(dict.fromkeys(h.doc_id for h in hits))  # a document at its best chunk
        # scores from the rank, so that pytrec_eval keeps exactly this order
        run[qid] = {doc: float(len(ranking) - i) for i, doc in enumerate(ranking)}
    seconds = time.perf_counter() - started
    per_query = qrels_eval.evaluate(run)
    n = len(qrels)

    def mean(measure: str) -> float:
        return sum(per_query.get(q, {}).get(measure, 0.0) for q in qrels) / n if n else 0.0

    docs = [len(r) for r in run.values()]
    return {
        "queries": n,
        "ndcg_at_10": mean("ndcg_cut_10"),
        "recall_at_100": mean("recall_100"),
        "under_100_documents": sum(1 for d in docs if d < 100),
        "seconds": round(seconds, 2),
        "ms_per_query": round(1000 * seconds / n, 2) if n else None,
    }


def quality(
    indexes: dict[str, DocumentIndex], modes: Sequence[str], data: Data, catalog: Catalog
) -> dict[str, Any]:
    import pytrec_eval

    principal = Principal("evaluator")
    measures = {"ndcg_cut.10", "recall.100"}
    evaluators = {s: pytrec_eval.RelevanceEvaluator(data.qrels[s], measures) for s in data.qrels}

    def run(mode: str, split: str, rrf_k: float = RRF_DEFAULT) -> dict[str, Any]:
        rag = make_rag(indexes, catalog, mode, rrf_k)
        return evaluate(rag, principal, data, split, evaluators[split])

    out: dict[str, Any] = {"test": {}, "train": {}}
    for mode in modes:
        if mode == "hybrid":
            continue
        for split in ("train", "test"):
            out[split][mode] = run(mode, split)
            print(f"  {split:5s} {mode:6s} nDCG@10 {out[split][mode]['ndcg_at_10']:.4f}")
    if "hybrid" in modes:
        grid = {}
        for rrf_k in RRF_GRID:
            grid[rrf_k] = run("hybrid", "train", rrf_k)
            print(f"  train hybrid rrf_k={rrf_k:<3d} nDCG@10 {grid[rrf_k]['ndcg_at_10']:.4f}")
        # the best train nDCG@10; a tie goes to the larger constant (closer to the default)
        chosen = max(RRF_GRID, key=lambda k: (grid[k]["ndcg_at_10"], k))
        out["hybrid_rrf_k"] = {
            "grid": list(RRF_GRID),
            "chosen": chosen,
            "chosen_on": "train nDCG@10",
            "train": {str(k): v for k, v in grid.items()},
        }
        out["train"]["hybrid"] = grid[chosen]
        out["test"]["hybrid"] = test = run("hybrid", "test", chosen)
        print(f"  test  hybrid rrf_k={chosen:<3d} nDCG@10 {test['ndcg_at_10']:.4f}")
        if chosen != RRF_DEFAULT:
            out["test"]["hybrid_default"] = run("hybrid", "test")
        else:
            out["test"]["hybrid_default"] = out["test"]["hybrid"]
        out["train"]["hybrid_default"] = grid[RRF_DEFAULT]
    return out


def latency(
    indexes: dict[str, DocumentIndex],
    modes: Sequence[str],
    data: Data,
    catalog: Catalog,
    rrf_k: float,
) -> dict[str, Any]:
    """``RAG.retrieve`` at k=10 for every test query, per mode: p50, p99, mean (ms) for the
    evaluator (a ``where`` rule), for a principal whose rule has no ``where``, and for
    ``DocumentIndex.search`` without filter or audit (the ungoverned baseline). Also the
    nDCG@10 of the k=10 answers: ten chunks can be fewer than ten documents, and hybrid
    fuses rankings max(100, 5·k) deep, so its top 10 at k=10 need not be the quality
    pass's (k=1000)."""
    import pytrec_eval

    principal = Principal("evaluator")
    auditor = Principal("auditor", groups=["auditors"])  # a rule without where
    qrels = data.qrels["test"]
    texts = [data.queries[q] for q in qrels]
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})

    def timed(call: Any) -> tuple[list[float], list[Any]]:
        call(texts[0])  # warm-up
        samples, results = [], []
        for text in texts:
            started = time.perf_counter()
            results.append(call(text))
            samples.append(1000 * (time.perf_counter() - started))
        return samples, results

    def stats(samples: list[float]) -> dict[str, Any]:
        return {
            "p50_ms": round(percentile(samples, 50), 2),
            "p99_ms": round(percentile(samples, 99), 2),
            "mean_ms": round(sum(samples) / len(samples), 2) if samples else None,
        }

    out: dict[str, Any] = {}
    for mode in modes:
        rag = make_rag(indexes, catalog, mode, rrf_k)
        samples, results = timed(lambda q, r=rag: r.retrieve(q, principal, k=LATENCY_K))
        run: dict[str, dict[str, float]] = {}
        for qid, hits in zip(qrels, results, strict=True):
            ranking = list(dict.fromkeys(h.doc_id for h in hits))
            run[qid] = {doc: float(len(ranking) - i) for i, doc in enumerate(ranking)}
        per_query = evaluator.evaluate(run)
        all_docs, _ = timed(lambda q, r=rag: r.retrieve(q, auditor, k=LATENCY_K))
        index = indexes["bm25" if mode == "bm25" else "dense"]
        search = cast(SearchMode, mode)
        bare, _ = timed(lambda q, i=index, m=search: i.search(q, LATENCY_K, mode=m, rrf_k=rrf_k))
        out[mode] = {
            "queries": len(samples),
            "k": LATENCY_K,
            **stats(samples),
            "ndcg_at_10": sum(per_query.get(q, {}).get("ndcg_cut_10", 0.0) for q in qrels)
            / max(1, len(qrels)),
            "rule_without_where": stats(all_docs),
            "ungoverned_search": stats(bare),
        }
    return out


# --- leak test -------------------------------------------------------------------------------

LEAK_KS = (1, 10, 100, 1000)
_PASSAGE = re.compile(r"^\[\d+\] \(([^\s)›]+)[^\n]*\)\n", re.M)
_QUESTION = "\n\nQuestion: "


def prompt_passages(prompt: str) -> list[tuple[str, str]]:
    """``(document id, text)`` of each numbered passage in a RAG prompt."""
    heads = list(_PASSAGE.finditer(prompt))
    out = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else prompt.rfind(_QUESTION)
        out.append((head.group(1), prompt[head.end() : end].strip()))
    return out


def random_queries(data: Data, rng: random.Random) -> tuple[list[str], list[str]]:
    """SciFact query texts, and a vocabulary of title words for random combinations."""
    texts = list(data.queries.values())
    vocab = sorted(
        {w.lower() for d in data.corpus for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", d["title"])}
    )
    return texts, vocab


def pick_query(rng: random.Random, texts: list[str], vocab: list[str]) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.5:
        return "scifact", rng.choice(texts)
    if roll < 0.95:
        return "words", " ".join(rng.sample(vocab, rng.randint(1, 6)))
    letters = "bcdfghjklmnpqrstvwxz"
    return "gibberish", " ".join(
        "".join(rng.choice(letters) for _ in range(rng.randint(4, 8))) for _ in range(2)
    )


@dataclass
class Access:
    persona: Persona
    principal: Principal
    denied: bool
    allowed_docs: frozenset[str]
    allowed_chunks: int


def accesses(index: DocumentIndex) -> list[Access]:
    meta = {d.id: acl_metadata(d.id) for d in index.documents()}
    chunks_per_doc = Counter(c.doc_id for c in index.chunks())
    out = []
    for persona in PERSONAS:
        every, clauses = reference_access(persona)
        denied = clauses is None
        docs = frozenset(
            d for d, m in meta.items() if not denied and reference_allows(every, clauses or [], m)
        )
        out.append(
            Access(persona, persona.principal(), denied, docs, sum(chunks_per_doc[d] for d in docs))
        )
    return out


def leak_test(
    indexes: dict[str, DocumentIndex],
    modes: Sequence[str],
    data: Data,
    catalog: Catalog,
    n_queries: int,
    rrf_k: float,
    seed: int,
) -> dict[str, Any]:
    """Random queries over principals, modes and k; every hit checked by the reference."""
    rng = random.Random(f"leak:{seed}")
    texts, vocab = random_queries(data, rng)
    bm25_index = indexes["bm25"]
    people = accesses(bm25_index)
    meta = {d.id: acl_metadata(d.id) for d in bm25_index.documents()}
    rags = {m: make_rag(indexes, catalog, m, rrf_k) for m in modes}
    ranked_cache: dict[str, list[tuple[str, str]]] = {}
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    per_mode: Counter[str] = Counter()
    per_k: Counter[int] = Counter()
    examples: list[dict[str, Any]] = []
    started = time.perf_counter()
    for i in range(n_queries):
        who = people[i % len(people)]
        mode = rng.choice(list(modes))
        k = rng.choice(LEAK_KS)
        kind, query = pick_query(rng, texts, vocab)
        kinds[kind] += 1
        per_mode[mode] += 1
        per_k[k] += 1
        counts["queries"] += 1
        try:
            hits = rags[mode].retrieve(query, who.principal, k=k)
        except PolicyViolation:
            counts["denied"] += 1
            if not who.denied:
                counts["unexpected_denials"] += 1
            continue
        if who.denied:
            counts["unexpected_allowed"] += 1
        counts["hits_checked"] += len(hits)
        counts["empty_results"] += not hits
        for h in hits:
            bad = h.doc_id not in who.allowed_docs or h.collection != COLLECTION
            if bad:
                counts["leaks"] += 1
                if len(examples) < 10:
                    examples.append(
                        {
                            "principal": who.persona.id,
                            "mode": mode,
                            "k": k,
                            "query": query[:120],
                            "chunk": h.chunk_id,
                        }
                    )
            got = {key: v for key, v in h.metadata.items() if key != "collection"}
            if got != meta.get(h.doc_id):
                counts["metadata_mismatches"] += 1
        # completeness: the filter applies before ranking, so the k places are filled
        if mode == "bm25":
            ranked = ranked_cache.get(query)
            if ranked is None:
                found = bm25_index.search(query, k=len(bm25_index))  # ungoverned, every match
                ranked = ranked_cache[query] = [(c.chunk_id, c.doc_id) for c, _ in found]
                if len(ranked_cache) > 2000:
                    ranked_cache.clear()
            allowed = [c for c, d in ranked if d in who.allowed_docs][:k]
            counts["bm25_exact_checks"] += 1
            if allowed != [h.chunk_id for h in hits]:
                counts["bm25_mismatches"] += 1
        else:
            counts[f"{mode}_fill_checks"] += 1
            if len(hits) != min(k, who.allowed_chunks):
                counts[f"{mode}_fill_mismatches"] += 1
    seconds = time.perf_counter() - started
    return {
        "queries": counts["queries"],
        "principals": len(people),
        "principals_denied": sum(p.denied for p in people),
        "principals_seeing_nothing": sum(not p.denied and not p.allowed_docs for p in people),
        "hits_checked": counts["hits_checked"],
        "leaks": counts["leaks"],
        "denied": counts["denied"],
        "expected_denials": sum(
            1 for i in range(counts["queries"]) if people[i % len(people)].denied
        ),
        "unexpected_denials": counts["unexpected_denials"],
        "unexpected_allowed": counts["unexpected_allowed"],
        "empty_results": counts["empty_results"],
        "metadata_mismatches": counts["metadata_mismatches"],
        "bm25_exact_checks": counts["bm25_exact_checks"],
        "bm25_mismatches": counts["bm25_mismatches"],
        **{f"{m}_fill_checks": counts[f"{m}_fill_checks"] for m in modes if m != "bm25"},
        **{f"{m}_fill_mismatches": counts[f"{m}_fill_mismatches"] for m in modes if m != "bm25"},
        "by_mode": dict(per_mode),
        "by_k": {str(k): per_k[k] for k in LEAK_KS},
        "query_kinds": dict(kinds),
        "seconds": round(seconds, 1),
        "leak_examples": examples,
        "principal_list": [
            {
                "id": p.persona.id,
                "about": p.persona.about,
                "denied": p.denied,
                "documents": len(p.allowed_docs),
            }
            for p in people
        ],
    }


def llm_read_test(
    indexes: dict[str, DocumentIndex],
    modes: Sequence[str],
    data: Data,
    catalog: Catalog,
    n_asks: int,
    rrf_k: float,
    seed: int,
) -> dict[str, Any]:
    """``RAG.ask`` with a scripted model: no forbidden chunk id or text in any prompt."""
    rng = random.Random(f"read:{seed}")
    texts, vocab = random_queries(data, rng)
    bm25_index = indexes["bm25"]
    people = accesses(bm25_index)
    chunks = bm25_index.chunks()
    forbidden_texts: dict[str, list[str]] = {}
    for who in people:
        allowed = {c.text for c in chunks if c.doc_id in who.allowed_docs}
        forbidden_texts[who.persona.id] = sorted(
            {c.text for c in chunks if c.doc_id not in who.allowed_docs} - allowed
        )
    prompts: list[str] = []

    def reply(messages: list[Message]) -> str:
        prompts.append("\n".join(m.content for m in messages))
        return "The passages bear on the question [1]."

    llm = ScriptedLLM([reply] * n_asks)
    rags = {m: make_rag(indexes, catalog, m, rrf_k, llm) for m in modes}
    counts: Counter[str] = Counter()
    examples: list[dict[str, str]] = []
    started = time.perf_counter()
    for i in range(n_asks):
        who = people[(i * 7) % len(people)]
        mode = rng.choice(list(modes))
        _, question = pick_query(rng, texts, vocab)
        before = len(prompts)
        counts["asks"] += 1
        try:
            answer = rags[mode].ask(question, who.principal)
        except PolicyViolation:
            counts["denied"] += 1
            counts["unexpected_denials"] += not who.denied
            counts["llm_called_when_denied"] += len(prompts) > before
            continue
        except CannotAnswer:
            counts["cannot_answer"] += 1
            continue
        finally:
            new = prompts[before:]
            counts["prompts"] += len(new)
            for prompt in new:
                passages = prompt_passages(prompt)
                counts["passages_checked"] += len(passages)
                counts["forbidden_ids_read"] += sum(d not in who.allowed_docs for d, _ in passages)
                for text in forbidden_texts[who.persona.id]:
                    if text not in prompt:
                        continue
                    # boilerplate shared with a permitted document ("Please see later in
                    # the article for the Editors' Summary.") is that document's text
                    shared = any(text in body for d, body in passages if d in who.allowed_docs)
                    counts["forbidden_texts_shared" if shared else "forbidden_texts_read"] += 1
                    if not shared and len(examples) < 10:
                        examples.append({"principal": who.persona.id, "text": text[:200]})
        counts["answers"] += 1
        counts["unexpected_allowed"] += who.denied
        counts["sources_checked"] += len(answer.sources)
        counts["forbidden_sources"] += sum(s.doc_id not in who.allowed_docs for s in answer.sources)
    return {
        "asks": counts["asks"],
        "answers": counts["answers"],
        "cannot_answer": counts["cannot_answer"],
        "denied": counts["denied"],
        "unexpected_denials": counts["unexpected_denials"],
        "unexpected_allowed": counts["unexpected_allowed"],
        "llm_called_when_denied": counts["llm_called_when_denied"],
        "prompts": counts["prompts"],
        "passages_checked": counts["passages_checked"],
        "forbidden_ids_read": counts["forbidden_ids_read"],
        "forbidden_texts_read": counts["forbidden_texts_read"],
        "forbidden_texts_shared": counts["forbidden_texts_shared"],
        "read_examples": examples,
        "sources_checked": counts["sources_checked"],
        "forbidden_sources": counts["forbidden_sources"],
        "seconds": round(time.perf_counter() - started, 1),
    }


# --- needle test -----------------------------------------------------------------------------

NEEDLE_NS = (10, 50, 200)
POSITIONS = ("start", "middle", "end")
NAMES = ("Orion", "Vega", "Lyra", "Draco", "Carina", "Perseus", "Cygnus", "Hydra", "Auriga")
NEEDLE_READER = Persona("needle_reader", "may read public documents of the needle corpus")
NEEDLE_COUNTS = (
    "placements", "read_exact", "read_forbidden_documents", "llm_prompt_exact", "found",
    "cited", "cited_first", "forbidden_cited", "forbidden_asked", "forbidden_used",
    "forbidden_cannot_answer", "forbidden_answered_without_it", "llm_prompts",
    "llm_prompt_has_needle", "llm_prompt_forbidden_read", "over_budget_refused",
    "over_budget_answered",
)  # fmt: skip
_MARKER = re.compile(r"^=== \[\d+\] (\S+)", re.M)  # LongContext's document marker line
_BOUNDARY = re.compile(r"(?<=[.!?]) (?=[A-Z])")


def needle_sentence(name: str, code: int) -> str:
    return f"The calibration code for the {name} assay is {code}."


def needle_question(name: str) -> str:
    return f"What is the calibration code for the {name} assay?"


def hidden_sentence(name: str, code: int) -> str:
    """The forbidden needle: worded apart from the permitted one, so that nothing a
    principal may read matches its question."""
    return f"The lot number of the {name} reagent kit is {code}."


def hidden_question(name: str) -> str:
    return f"What is the lot number of the {name} reagent kit?"


def insert(text: str, sentence: str, position: str) -> str:
    if position == "start":
        return f"{sentence} {text}"
    if position == "end":
        return f"{text} {sentence}"
    cuts = [m.start() for m in _BOUNDARY.finditer(text)]
    cut = min(cuts, key=lambda c: abs(c - len(text) // 2)) if cuts else len(text) // 2
    return f"{text[:cut]} {sentence} {text[cut:].lstrip()}"


def fresh_code(rng: random.Random, used: set[int]) -> int:
    """A five-digit code not handed out before."""
    code = rng.randint(10_000, 99_999)
    while code in used:
        code = rng.randint(10_000, 99_999)
    used.add(code)
    return code


def needle_test(data: Data, trials: int, seed: int) -> dict[str, Any]:
    """Facts placed in permitted and forbidden documents of small sub-corpora."""
    rng = random.Random(f"needle:{seed}")
    catalog = Catalog()
    catalog.grant(
        "READ", on="collection:needle", to="user:needle_reader", where={"classification": "public"}
    )
    reader = NEEDLE_READER.principal()
    docs = [d for d in data.corpus if d["text"].strip()]  # abstracts with a body
    rows: dict[int, Counter[str]] = {}
    tokens: dict[int, list[int]] = {}
    failures: list[dict[str, Any]] = []
    used_codes: set[int] = set()
    started = time.perf_counter()
    for n in NEEDLE_NS:
        row = rows[n] = Counter()
        tokens[n] = []
        n_forbidden = max(2, n // 10)
        if n + n_forbidden > len(docs):
            row["skipped_too_few_documents"] += 1
            continue
        for position in POSITIONS:
            for _ in range(trials):
                picked = rng.sample(docs, n + n_forbidden)
                allowed, forbidden = picked[:n], picked[n:]
                target, hidden = rng.choice(allowed), rng.choice(forbidden)
                name, other = (f"{x}-{rng.randint(2, 99)}" for x in rng.sample(NAMES, 2))
                code, secret = fresh_code(rng, used_codes), fresh_code(rng, used_codes)
                index = DocumentIndex("needle")
                sub = allowed + forbidden
                rng.shuffle(sub)
                for d in sub:
                    text = f"{d['title'].strip()}\n\n{d['text'].strip()}"
                    if d is target:
                        text = insert(text, needle_sentence(name, code), position)
                    elif d is hidden:
                        text = insert(text, hidden_sentence(other, secret), position)
                    label = "restricted" if d in forbidden else "public"
                    index.add(d["_id"], text, {"classification": label})
                forbidden_ids = {d["_id"] for d in forbidden}
                lc = LongContext(index, catalog, budget_tokens=1_000_000, audit=AuditLog.memory())
                allowed_ids = {d["_id"] for d in allowed}
                row["placements"] += 1
                # the permitted needle: found (the code in the answer) and cited
                corpus_tokens = None
                try:
                    answer = lc.ask(needle_question(name), reader)
                except CannotAnswer as exc:
                    failures.append({"n": n, "position": position, "why": exc.reason})
                else:
                    # what the route says it read: exactly the N permitted documents
                    corpus_tokens = answer.tokens
                    tokens[n].append(corpus_tokens)
                    row["read_exact"] += set(answer.read) == allowed_ids
                    row["read_forbidden_documents"] += len(set(answer.read) & forbidden_ids)
                    found = str(code) in answer.text
                    cited = any(
                        s.doc_id == target["_id"] and str(code) in s.quote for s in answer.sources
                    )
                    first = bool(answer.sources) and answer.sources[0].doc_id == target["_id"]
                    row["found"] += found
                    row["cited"] += cited
                    row["cited_first"] += first
                    row["forbidden_cited"] += any(s.doc_id in forbidden_ids for s in answer.sources)
                    if not (found and cited) and len(failures) < 10:
                        failures.append(
                            {
                                "n": n,
                                "position": position,
                                "found": found,
                                "cited": cited,
                                "answer": answer.text[:300],
                            }
                        )
                # the forbidden needle: never used
                row["forbidden_asked"] += 1
                try:
                    answer = lc.ask(hidden_question(other), reader)
                except CannotAnswer:
                    row["forbidden_cannot_answer"] += 1
                else:
                    used = str(secret) in answer.text or any(
                        s.doc_id in forbidden_ids or str(secret) in s.quote for s in answer.sources
                    )
                    row["forbidden_used"] += used
                    row["forbidden_answered_without_it"] += not used
                # LLM mode: what the model reads holds the permitted needle, never the other
                prompts: list[str] = []

                def record(messages: list[Message], sink: list[str] = prompts) -> str:
                    sink.append("\n".join(m.content for m in messages))
                    return "NO_ANSWER"

                llm_lc = LongContext(
                    index,
                    catalog,
                    budget_tokens=1_000_000,
                    audit=AuditLog.memory(),
                    llm=ScriptedLLM([record]),
                )
                with contextlib.suppress(CannotAnswer):  # the scripted model says NO_ANSWER
                    llm_lc.ask(hidden_question(other), reader)
                for prompt in prompts:
                    # the documents in the prompt, by their markers: exactly the permitted ones
                    marked = set(_MARKER.findall(prompt))
                    row["llm_prompts"] += 1
                    row["llm_prompt_exact"] += marked == allowed_ids
                    row["llm_prompt_has_needle"] += needle_sentence(name, code) in prompt
                    hidden_read = hidden_sentence(other, secret) in prompt
                    hidden_read |= bool(marked & forbidden_ids)
                    hidden_read |= any(index.document(d).text in prompt for d in forbidden_ids)
                    row["llm_prompt_forbidden_read"] += hidden_read
                # over the budget: refused, with a reason
                if corpus_tokens is not None:
                    small = LongContext(
                        index,
                        catalog,
                        budget_tokens=max(1, corpus_tokens // 2),
                        audit=AuditLog.memory(),
                    )
                    try:
                        small.ask(needle_question(name), reader)
                    except CannotAnswer as exc:
                        row["over_budget_refused"] += exc.reason == "over the context budget"
                    else:
                        row["over_budget_answered"] += 1
    seconds = time.perf_counter() - started
    per_n = {}
    total: Counter[str] = Counter()
    for n, row in rows.items():
        counts = {k: row[k] for k in NEEDLE_COUNTS}
        total.update(counts)
        per_n[str(n)] = {
            **counts,
            "forbidden_documents": max(2, n // 10),
            "tokens_median": sorted(tokens[n])[len(tokens[n]) // 2] if tokens[n] else None,
            "skipped": bool(row["skipped_too_few_documents"]),
        }
    return {
        "trials_per_position": trials,
        "positions": list(POSITIONS),
        "per_n": per_n,
        "total": {k: total[k] for k in NEEDLE_COUNTS},
        "failures": failures[:10],
        "seconds": round(seconds, 1),
    }


# --- the run ---------------------------------------------------------------------------------


def measure(args: argparse.Namespace, modes: list[str], skipped: str | None) -> dict[str, Any]:
    data = load_data(args.data, args.corpus_limit, args.limit)
    catalog = build_catalog()
    result: dict[str, Any] = {
        "data": {
            "dir": str(args.data),
            "documents": len(data.corpus),
            "corpus_sha256": data.corpus_sha256,
            "test_queries": len(data.qrels["test"]),
            "train_queries": len(data.qrels["train"]),
            "test_pairs": sum(len(r) for r in data.qrels["test"].values()),
            "train_pairs": sum(len(r) for r in data.qrels["train"].values()),
            "limit": args.limit,
            "corpus_limit": args.corpus_limit,
            "notes": data.notes,
        },
        "modes": modes,
        "modes_skipped": skipped,
    }
    memory: dict[str, Any] = {"rss_start_mib": rss_mib()}
    build: dict[str, Any] = {}
    indexes: dict[str, DocumentIndex] = {}
    with tempfile.TemporaryDirectory(prefix="scifact-") as tmp:
        acl_corpus = Path(tmp) / "corpus-acl.jsonl"
        write_acl_corpus(data, acl_corpus)
        started = time.perf_counter()
        bm25 = DocumentIndex.from_jsonl(
            acl_corpus, id_field="_id", text_fields=["title", "text"], collection=COLLECTION
        )
        build["ingest_chunk_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        bm25.build()
        build["bm25_seconds"] = round(time.perf_counter() - started, 2)
        build["documents"], build["chunks"] = bm25.document_count, len(bm25)
        build["params"] = bm25.params
        memory["rss_after_bm25_mib"] = rss_mib()
        indexes["bm25"] = bm25
        print(f"BM25 index: {bm25!r}, {build['bm25_seconds']:.2f} s")
        embedder = None
        if {"dense", "hybrid"} & set(modes):
            from crossroads.connectors import SentenceTransformerEmbedder

            started = time.perf_counter()
            try:
                embedder = SentenceTransformerEmbedder()  # imports torch: part of the load
            except (MissingDependency, ConfigError) as exc:
                modes[:] = [m for m in modes if m == "bm25"]
                result["modes_skipped"] = f"dense and hybrid skipped: {exc}"
                print(result["modes_skipped"])
        if embedder is not None:
            build["model_load_seconds"] = round(time.perf_counter() - started, 2)
            build["embedder"] = embedder.name
            memory["rss_after_model_mib"] = rss_mib()
            key = {
                "chunks_sha256": chunk_key(bm25),
                "chunks": len(bm25),
                "params": bm25.params,
                "embedder": embedder.name,
                "dimension": embedder.dimension,
            }
            cache = None
            if not args.no_cache:
                cache = args.cache
                if args.corpus_limit is not None:
                    cache = cache.with_name(f"{cache.name}-first{args.corpus_limit}")
            dense, info = dense_index(acl_corpus, embedder, key, cache)
            build["dense"] = info
            memory["rss_after_dense_mib"] = rss_mib()
            memory["vectors_bytes"] = len(dense) * embedder.dimension * 4  # float32
            memory["vectors_shape"] = [len(dense), embedder.dimension]
            if cache is not None and (cache / "vectors.npy").exists():
                memory["vectors_file_bytes"] = (cache / "vectors.npy").stat().st_size
                memory["index_dir_bytes"] = sum(
                    f.stat().st_size for f in cache.rglob("*") if f.is_file()
                )
            indexes["dense"] = dense
            how = "reused from the cache" if info["reused"] else "embedded now"
            print(f"dense index: {dense!r}; vectors {how}")
    result["build"] = build
    result["memory"] = memory
    print("quality (RAG.retrieve, k=1000, documents by best chunk):")
    result["quality"] = quality(indexes, modes, data, catalog)
    rrf_k = result["quality"].get("hybrid_rrf_k", {}).get("chosen", RRF_DEFAULT)
    print("latency ...")
    result["latency"] = latency(indexes, modes, data, catalog, rrf_k)
    leak_modes = [m for m in ("bm25", "hybrid") if m in modes]
    print(f"leak test ({args.leak_queries} queries over {', '.join(leak_modes)}) ...")
    result["leak"] = leak_test(
        indexes, leak_modes, data, catalog, args.leak_queries, rrf_k, args.seed
    )
    print(f"LLM-mode read test ({args.llm_asks} asks) ...")
    result["leak"]["llm"] = llm_read_test(
        indexes, leak_modes, data, catalog, args.llm_asks, rrf_k, args.seed
    )
    print("needle test ...")
    result["needle"] = needle_test(data, args.needle_trials, args.seed)
    return result


# --- reporting -------------------------------------------------------------------------------


def f3(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def render(result: dict[str, Any]) -> str:
    """The summary tables (Markdown)."""
    q = result["quality"]
    test, train = q["test"], q["train"]
    chosen = q.get("hybrid_rrf_k", {}).get("chosen")
    lines = [
        "| retrieval (documents by best chunk) | test nDCG@10 | test Recall@100 | "
        "train nDCG@10 | train Recall@100 | target (test nDCG@10) |",
        "|---|---:|---:|---:|---:|---|",
    ]

    def verdict(mode: str) -> str:
        target = TARGETS.get(mode)
        if target is None:
            return "–"
        got = test[mode]["ndcg_at_10"]
        return f"≥ {target:.3f}: {'met' if got >= target else 'missed'}"

    labels = {
        "bm25": "**BM25** (bm25s, k1 1.5, b 0.75; the default)",
        "dense": "dense, all-MiniLM-L6-v2 (offline)",
        "hybrid": f"**hybrid** RRF of both, rrf_k {chosen} (chosen on train)",
        "hybrid_default": f"hybrid RRF, rrf_k {RRF_DEFAULT} (library default)",
    }
    for mode in ("bm25", "dense", "hybrid", "hybrid_default"):
        if mode in test:
            t, r = test[mode], train.get(mode)
            lines.append(
                f"| {labels[mode]} | {f3(t['ndcg_at_10'])} | {f3(t['recall_at_100'])} | "
                f"{f3(r and r['ndcg_at_10'])} | {f3(r and r['recall_at_100'])} | {verdict(mode)} |"
            )
    for mode, v in result["latency"].items():
        lines.append(
            f"| {mode}, one k={v['k']} call (10 chunks: ≤ 10 documents) | "
            f"{f3(v['ndcg_at_10'])} | – | – | – | – |"
        )
    for name, value in PUBLISHED.items():
        lines.append(f"| {name} (published) | {value:.3f} | – | – | – | – |")
    if "hybrid_rrf_k" in q:
        grid = q["hybrid_rrf_k"]["train"]
        lines += [
            "",
            "| hybrid rrf_k | " + " | ".join(grid) + " |",
            "|---|" + "---:|" * len(grid),
            "| train nDCG@10 | " + " | ".join(f3(v["ndcg_at_10"]) for v in grid.values()) + " |",
            "| train Recall@100 | "
            + " | ".join(f3(v["recall_at_100"]) for v in grid.values())
            + " |",
        ]
    b, mem, lat = result["build"], result["memory"], result["latency"]
    lines += ["", "| speed and memory | value |", "|---|---:|"]
    lines.append(
        f"| ingest + chunking ({b['documents']:,} documents → {b['chunks']:,} chunks) | "
        f"{b['ingest_chunk_seconds']:.2f} s |"
    )
    lines.append(f"| BM25 index build | {b['bm25_seconds']:.2f} s |")
    dense = b.get("dense")
    if dense:
        emb = dense["embedding"]
        how = (
            f"original run of {emb['date'][:10]}, reused from the cache"
            if dense["reused"]
            else "measured in this run"
        )
        lines.append(
            f"| embedding the chunks, MiniLM on CPU ({how}) | {emb['seconds']:,.0f} s "
            f"({emb['chunks_per_second']:.0f} chunks/s) |"
        )
        lines.append(f"| model load | {b['model_load_seconds']:.1f} s |")
        if dense["reused"]:
            lines.append(f"| cached index load | {dense['load_seconds']:.1f} s |")
    for mode, v in lat.items():
        w, bare = v["rule_without_where"], v["ungoverned_search"]
        lines += [
            f"| **`RAG.retrieve` latency, {mode}**, k={v['k']}, p50 / p99 ({v['queries']} test "
            f"queries; a `where` rule) | **{v['p50_ms']:.1f} / {v['p99_ms']:.1f} ms** |",
            f"| … a rule without `where` | {w['p50_ms']:.1f} / {w['p99_ms']:.1f} ms |",
            f"| … `DocumentIndex.search`, no filter, no audit (baseline) | "
            f"{bare['p50_ms']:.1f} / {bare['p99_ms']:.1f} ms |",
        ]
    for mode in ("bm25", "dense", "hybrid"):
        if mode in q["test"]:
            v = q["test"][mode]
            lines.append(
                f"| evaluation pass, {mode}, k={EVAL_K} ({v['queries']} test queries) | "
                f"{v['ms_per_query']:.1f} ms/query |"
            )

    def mib(x: float | None) -> str:
        return "–" if x is None else f"{x:,.0f} MiB"

    lines.append(
        f"| RSS before → after the BM25 index | {mib(mem['rss_start_mib'])} → "
        f"{mib(mem['rss_after_bm25_mib'])} |"
    )
    if "rss_after_model_mib" in mem:
        lines.append(
            f"| RSS after loading MiniLM (torch) → after the index with vectors | "
            f"{mib(mem['rss_after_model_mib'])} → {mib(mem['rss_after_dense_mib'])} |"
        )
        rows, dim = mem["vectors_shape"]
        lines.append(
            f"| chunk vectors ({rows:,} × {dim} float32) | {mem['vectors_bytes'] / 2**20:.1f} MiB |"
        )
    if "index_dir_bytes" in mem:
        lines.append(f"| saved index on disk | {mem['index_dir_bytes'] / 2**20:.1f} MiB |")
    leak, llm = result["leak"], result["leak"]["llm"]
    fills = ", ".join(
        f"{m} fill {leak[f'{m}_fill_checks'] - leak[f'{m}_fill_mismatches']}/"
        f"{leak[f'{m}_fill_checks']}"
        for m in ("hybrid",)
        if f"{m}_fill_checks" in leak
    )
    lines += [
        "",
        "| access-control leak test | value |",
        "|---|---:|",
        f"| principals (denied by design; allowed but matching no document) | "
        f"{leak['principals']} ({leak['principals_denied']}; "
        f"{leak['principals_seeing_nothing']}) |",
        f"| random queries (modes: {', '.join(f'{m} {n}' for m, n in leak['by_mode'].items())}; "
        f"k ∈ {{{', '.join(leak['by_k'])}}}) | {leak['queries']:,} |",
        f"| hits checked against the reference rules | {leak['hits_checked']:,} |",
        f"| **forbidden chunks returned** | **{leak['leaks']}** |",
        f"| denials (expected) | {leak['denied']:,} ({leak['expected_denials']:,}) |",
        f"| unexpected denials / unexpected access | {leak['unexpected_denials']} / "
        f"{leak['unexpected_allowed']} |",
        f"| BM25 results equal to the reference's filtered ranking | "
        f"{leak['bm25_exact_checks'] - leak['bm25_mismatches']:,} / {leak['bm25_exact_checks']:,}"
        + (f"; {fills}" if fills else "")
        + " |",
        f"| `RAG.ask`, LLM mode: asks (answers, denied, no answer) | {llm['asks']} "
        f"({llm['answers']}, {llm['denied']}, {llm['cannot_answer']}) |",
        f"| prompts checked (passages) | {llm['prompts']} ({llm['passages_checked']:,}) |",
        f"| **forbidden chunks read by the model** (ids / texts) | "
        f"**{llm['forbidden_ids_read']} / {llm['forbidden_texts_read']}** |",
        f"| forbidden chunk texts also in a permitted passage (boilerplate) | "
        f"{llm['forbidden_texts_shared']} |",
        f"| model called for a denied principal | {llm['llm_called_when_denied']} |",
    ]
    needle = result["needle"]
    lines += [
        "",
        "| needle test (LongContext, deterministic) | N=" + " | N=".join(needle["per_n"]) + " |",
        "|---|" + "---:|" * len(needle["per_n"]),
    ]

    def nrow(label: str, fmt: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(fmt(v) for v in needle["per_n"].values()) + " |")

    nrow("placements (start / middle / end)", lambda v: str(v["placements"]))
    nrow("forbidden documents per sub-corpus", lambda v: str(v["forbidden_documents"]))
    nrow(
        "read exactly the N permitted documents (`answer.read` / LLM prompt markers)",
        lambda v: f"{v['read_exact']} / {v['llm_prompt_exact']}",
    )
    nrow("permitted needle found (code in the answer)", lambda v: f"{v['found']}/{v['placements']}")
    nrow(
        "… and cited (a source of that document quoting it)",
        lambda v: f"{v['cited']}/{v['placements']}",
    )
    nrow("… cited first", lambda v: f"{v['cited_first']}/{v['placements']}")
    nrow("**forbidden needle used**", lambda v: f"**{v['forbidden_used']}**/{v['forbidden_asked']}")
    nrow(
        "forbidden asked: no answer / answered without it",
        lambda v: f"{v['forbidden_cannot_answer']} / {v['forbidden_answered_without_it']}",
    )
    nrow(
        "LLM mode: prompts holding the permitted needle",
        lambda v: f"{v['llm_prompt_has_needle']}/{v['llm_prompts']}",
    )
    nrow("LLM mode: prompts holding forbidden text", lambda v: str(v["llm_prompt_forbidden_read"]))
    nrow(
        "half the budget: refused with a reason",
        lambda v: f"{v['over_budget_refused']}/{v['placements']}",
    )
    nrow("corpus tokens (median, approximate counter)", lambda v: f"{v['tokens_median'] or 0:,}")
    return "\n".join(lines)


def speed_note(result: dict[str, Any]) -> str:
    """What the latency and memory rows mean, from this run's figures."""
    lat = result["latency"]
    parts = []
    bm25 = lat.get("bm25")
    if bm25:
        parts.append(
            f"- Latency: a BM25 `RAG.retrieve` (k=10) takes {bm25['p50_ms']:.1f} ms at p50 for "
            f"a principal with a `where` rule, {bm25['rule_without_where']['p50_ms']:.1f} ms "
            "for one whose rule has none, and the bare `DocumentIndex.search` "
            f"{bm25['ungoverned_search']['p50_ms']:.1f} ms: the governed path runs the tool "
            "runner (argument check, policy, three audit events) and calls the document "
            "filter in Python on every candidate chunk (for BM25 every chunk sharing a term "
            "with the query, often thousands for a SciFact claim; for dense and hybrid every "
            "chunk). Dense and hybrid are dominated by embedding the query on the CPU. One "
            "k=10 call returns 10 chunks, which can be fewer than 10 documents, and hybrid "
            "then fuses 100-deep rankings instead of 5,000-deep: hence the separate k=10 "
            "nDCG@10 rows.\n"
        )
    dense = result["build"].get("dense")
    if dense:
        how = (
            "loading the saved index"
            if dense["reused"]
            else "embedding the corpus in this process (torch's working memory included)"
        )
        parts.append(
            "- Memory: RSS is read from /proc/self/status. The MiniLM row is after importing "
            f"torch and loading the model; the next is after {how}; the vectors themselves "
            "are the size shown.\n"
        )
    return "".join(parts)


def results_section(result: dict[str, Any], table: str) -> str:
    m = result["machine"]
    d = result["data"]
    q = result["quality"]
    partial = ""
    if d["limit"] or d["corpus_limit"]:
        partial = (
            f" **A partial run** (--limit {d['limit']}, --corpus-limit {d['corpus_limit']}): "
            "not the full benchmark."
        )
    skipped = f" {result['modes_skipped']}" if result["modes_skipped"] else ""
    rrf = q.get("hybrid_rrf_k")
    rrf_note = (
        f"- Hybrid's `rrf_k` was chosen from {{{', '.join(map(str, rrf['grid']))}}} by nDCG@10 "
        f"on the {result['data']['train_queries']} *train* queries (train figures in the "
        f"second table): {rrf['chosen']}. "
        f"Test with the library default ({RRF_DEFAULT}) is shown too. BM25's k1/b are the "
        "library defaults (bm25s'), fixed before this run; nothing was tuned on test.\n"
        if rrf
        else ""
    )
    leak = result["leak"]
    dense = result["build"].get("dense")
    emb_note = ""
    if dense:
        emb = dense["embedding"]
        emb_note = (
            f"- Embedding: {emb['chunks']:,} chunks in {emb['seconds']:,.0f} s on this machine "
            f"({emb['date'][:10]}); "
            + (
                "this run reused the saved index with its vectors (`benchmarks/out/scifact-index`, "
                "keyed by every chunk's id and text, the chunking parameters and the embedder: "
                "a changed corpus or chunking re-embeds), re-embedding "
                f"{dense['reembedded_chunks']} chunks.\n"
                if dense["reused"]
                else "embedded in this run and saved to `benchmarks/out/scifact-index`.\n"
            )
        )
    return (
        f"{HEADING}\n\n"
        f"{result['date']}, {m['cpu_count']} CPUs, {m['implementation']} {m['python']}, "
        f"{m['platform']}; {result['seconds']:.0f} s in all (benchmarks/scifact.py).{partial}"
        f"{skipped} BEIR SciFact: {d['documents']:,} abstracts, {d['test_queries']} test "
        f"queries ({d['test_pairs']} relevant pairs), {d['train_queries']} train queries. Every "
        "query goes through the governed path `RAG.retrieve(query, principal, k=1000)` "
        "(document rules applied as a filter before ranking, audit log in memory) as a "
        "principal whose rule admits every document; chunks are folded into documents by "
        "their best chunk (a document ranks where its first chunk appears). nDCG@10 and "
        "Recall@100 from pytrec_eval (trec_eval's measures).\n\n"
        f"{table}\n\n"
        "Notes:\n\n"
        "- Only each query's `_id` and `text` are read; its `metadata` (the gold evidence) "
        "never is. `corpus.jsonl` is BEIR's file rebuilt byte for byte from the original "
        "SciFact release (same size and SHA-256, see `shared/bench/beir-scifact/SOURCE.md`); "
        "queries and qrels are BEIR's files.\n"
        "- Documents are cut into chunks of at most 1,000 characters (150 overlap); a "
        "document's score is its best chunk's. BEIR's systems score whole documents, so "
        "the comparison is close but not exact.\n"
        f"{rrf_note}"
        f"{emb_note}"
        "- Each document also carries synthetic access metadata (region, classification, "
        "owner, a numeric tier, and for a third a list-valued `regions`), assigned "
        "deterministically from its id; it does not change ranking.\n"
        f"{speed_note(result)}"
        f"- Leak test: {leak['principals']} principals with different READ rules (literal, "
        "`:attr`-bound, lists of values, a list-valued field, unions of 2–3 rules, group "
        'rules, a rule without `where`, numbers compared by type: `True` and `"1"` do not '
        f"match tier 1); {leak['principals_denied']} are denied by design (no rule, a group "
        "no rule names, a missing or misnamed attribute). Random queries (SciFact claims, "
        "random title words, gibberish) "
        "are spread over principals, BM25 and hybrid, and k ∈ {1, 10, 100, 1000}; every hit "
        "is checked against a reference implementation of the rule semantics written in the "
        "benchmark (not the library's `DocumentFilter`). BM25 results are also compared with "
        "the reference's own filtering of the unfiltered ranking (the filter applies before "
        "ranking, so the k places are filled from the allowed chunks). `RAG.ask` runs in LLM "
        "mode with a scripted model that records its prompt; every prompt is scanned for the "
        "ids and texts of chunks the principal may not read (a forbidden chunk's text that "
        "is also inside a permitted passage, such as PLoS's \"Please see later in the "
        "article for the Editors' Summary.\", is that permitted document's own text and is "
        "counted apart).\n"
        "- Needle test: sub-corpora of N random abstracts labelled `classification: public` "
        "(the principal's only rule) plus N/10 (at least 2) labelled `restricted`; a sentence "
        '"The calibration code for the NAME assay is CODE." is put at the start, middle '
        'or end of one random permitted abstract, and "The lot number of the NAME reagent '
        'kit is CODE." in a restricted one (worded apart, so that only the forbidden '
        "sentence matches its question). *Found*: the code is in the answer; *cited*: a "
        "source of that document quotes it. The forbidden needle is *used* if its code is "
        "in the answer or a forbidden document is cited. LLM mode (a scripted model that "
        "records its prompt) checks what the model would read; a budget of half the "
        "corpus's tokens must be refused with the reason `over the context budget`.\n\n"
        "Reproduce:\n\n```\npython benchmarks/scifact.py --results benchmarks/RESULTS.md\n```\n"
    )


def available_modes(requested: list[str]) -> tuple[list[str], str | None]:
    """The requested modes this environment can run, and why others were skipped."""
    if not {"dense", "hybrid"} & set(requested):
        return requested, None
    if importlib.util.find_spec("sentence_transformers") is None:  # not imported: torch is slow
        kept = [m for m in requested if m == "bm25"]
        return kept, (
            "dense and hybrid skipped: the dense extra is not installed "
            "(pip install 'crossroads[dense]')."
        )
    return requested, None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables, write JSON, optionally update RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact folder")
    parser.add_argument("--limit", type=int, help="only the first N test and N train queries")
    parser.add_argument("--corpus-limit", type=int, help="only the first N documents (smoke)")
    parser.add_argument(
        "--modes", default="bm25,dense,hybrid", help="comma-separated: bm25, dense, hybrid"
    )
    parser.add_argument("--leak-queries", type=int, default=5000, help="leak-test queries (5000)")
    parser.add_argument("--llm-asks", type=int, default=300, help="LLM-mode RAG.ask calls (300)")
    parser.add_argument("--needle-trials", type=int, default=4, help="placements per N × position")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the random tests")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="saved index with vectors"
    )
    parser.add_argument("--no-cache", action="store_true", help="embed again; do not save")
    parser.add_argument(
        "--json", "--out", dest="out", type=Path, default=DEFAULT_OUT, help="JSON output"
    )
    parser.add_argument("--results", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args(argv)
    if not (args.data / "corpus.jsonl").exists():
        print(f"no BEIR SciFact data at {args.data}: pass --data PATH", file=sys.stderr)
        return 2
    requested = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not requested or any(m not in MODES for m in requested):
        parser.error(f"--modes takes a comma-separated subset of {', '.join(MODES)}")
    if "bm25" not in requested:
        requested.insert(0, "bm25")  # the default route: always measured
    try:
        import pytrec_eval  # noqa: F401
    except ImportError:
        print("pytrec_eval is missing: pip install 'crossroads[bench]'", file=sys.stderr)
        return 2
    modes, skipped = available_modes(requested)
    if skipped:
        print(skipped)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    started = time.perf_counter()
    result = measure(args, modes, skipped)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine()
    result["date"] = datetime.now(UTC).date().isoformat()
    table = render(result)
    print(f"\nBEIR SciFact, {result['seconds']:.0f} s in all\n")
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    print(f"wrote {args.out}")
    if args.results is not None:
        update_results(args.results, HEADING, results_section(result, table))
        print(f"updated {args.results}")
    failed = result["leak"]["leaks"] + result["leak"]["llm"]["forbidden_ids_read"]
    failed += result["leak"]["llm"]["forbidden_texts_read"]
    failed += sum(v["forbidden_used"] for v in result["needle"]["per_n"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
