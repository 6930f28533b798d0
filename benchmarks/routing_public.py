"""Routing on public data sets the router was never fitted on.

    python benchmarks/routing_public.py [--data DIR] [--limit N] [--json F] [--results F]

One app over three public corpora at once — a Spider database (SQL), the MetaQA movie
knowledge graph, and the BEIR SciFact abstracts (documents) — governed by a policy that
grants one analyst everything, routed by the *default* model (its rows come from the
pharma example only). Each benchmark's own questions carry their gold route: Spider dev
questions on that database → ``sql``; MetaQA 1/2/3-hop test questions (entity brackets
removed) → ``graph``; SciFact test claims → ``rag``. Nothing is fitted on them: this is
how the signals generalise to data of another shape and domain. The long-context route
is left out (5,183 abstracts are far over any context budget), so the router must also
know it is unavailable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import (
    SHARED_BENCH,
    machine,
    md_escape,
    percentile,
    publish,
)

HEADING = "## Routing on public data (never fitted)"
ROUTES = ("sql", "graph", "rag", "long_context")
POLICY = """\
version: 1
principals:
  ana: {groups: [analysts]}
grants:
  - {to: "group:analysts", privilege: SELECT, on: "table:*"}
documents:
  - {to: "group:analysts", on: "collection:*"}
graph:
  - {to: "group:analysts", on: "graph:default"}
"""


def questions(data: Path, db: str, limit: int, split: str) -> list[tuple[str, str, str]]:
    """(source, question, gold route); ``split`` is ``test`` (MetaQA test, SciFact test)
    or ``dev`` (MetaQA dev, SciFact train: for looking at misses without touching the
    reported splits)."""
    out: list[tuple[str, str, str]] = []
    spider = json.loads((data / "spider" / "dev.json").read_text(encoding="utf-8"))
    out += [("spider", q["question"], "sql") for q in spider if q["db_id"] == db][:limit]
    for hop in (1, 2, 3):
        path = data / "metaqa" / f"{hop}-hop" / "vanilla" / f"qa_{split}.txt"
        with path.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle):
                if n >= limit:
                    break
                q = line.split("\t", 1)[0].replace("[", "").replace("]", "")
                out.append((f"metaqa-{hop}hop", q.strip(), "graph"))
    test = {
        line.split("\t")[0]
        for line in (
            data / "beir-scifact" / "qrels" / f"{'test' if split == 'test' else 'train'}.tsv"
        )
        .read_text()
        .splitlines()[1:]
    }
    with (data / "beir-scifact" / "queries.jsonl").open(encoding="utf-8") as handle:
        claims = [json.loads(line) for line in handle if line.strip()]
    out += [("scifact", c["text"], "rag") for c in claims if str(c["_id"]) in test][:limit]
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build the app, route every question, tally."""
    import crossroads as xr
    from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase

    data: Path = args.data
    policy = args.work / "policy.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(POLICY, encoding="utf-8")
    t0 = time.perf_counter()
    db = SQLDatabase(f"sqlite:///{data / 'spider' / 'database' / args.db / (args.db + '.sqlite')}")
    graph = NetworkXGraph.from_triples(data / "metaqa" / "kb.txt", sep="|")
    docs = DocumentIndex.from_jsonl(data / "beir-scifact" / "corpus.jsonl", collection="abstracts")
    app = xr.Crossroads(
        catalog=xr.Catalog.from_yaml(policy),
        sql=db,
        graph=graph,
        documents=docs,
        audit=xr.AuditLog.memory(),
    )
    ana = app.principal("ana")
    app.route("warm up the linker and the value index", principal=ana)
    build_s = time.perf_counter() - t0
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[dict[str, str]] = []
    times: list[float] = []
    for source, question, gold in questions(data, args.db, args.limit, args.split):
        start = time.perf_counter()
        decision = app.route(question, principal=ana)
        times.append((time.perf_counter() - start) * 1000)
        confusion[gold][decision.route] += 1
        by_source[source]["questions"] += 1
        by_source[source]["correct"] += decision.route == gold
        if decision.route != gold and len(misses) < 30:
            misses.append(
                {"source": source, "question": question, "routed": decision.route,
                 "reasons": "; ".join(decision.reasons)}
            )  # fmt: skip
    total = sum(sum(c.values()) for c in confusion.values())
    correct = sum(confusion[g][g] for g in confusion)
    db.close()
    return {
        "spider_db": args.db,
        "split": args.split,
        "limit_per_source": args.limit,
        "build_seconds": round(build_s, 2),
        "graph": {"nodes": sum(1 for _ in graph.nodes()), "relations": len(graph.relations())},
        "documents": docs.document_count,
        "questions": total,
        "accuracy": round(correct / total, 4),
        "by_source": {
            s: {**c, "accuracy": round(c["correct"] / c["questions"], 4)}
            for s, c in by_source.items()
        },
        "confusion": {g: dict(confusion[g]) for g in confusion},
        "route_latency_ms": {
            "p50": round(percentile(times, 50), 3),
            "p99": round(percentile(times, 99), 3),
        },
        "misses": misses,
        "machine": machine(),
    }


def table(result: dict[str, Any]) -> str:
    """The Markdown summary."""
    lines = [
        f"One app over Spider `{result['spider_db']}` (SQL), the MetaQA KB "
        f"({result['graph']['nodes']:,} nodes) and BEIR SciFact ({result['documents']:,} "
        "abstracts); default model (pharma rows only), nothing fitted on these data; "
        f"{result['limit_per_source']} questions per source at most.",
        "",
        f"**Accuracy {result['accuracy']:.1%}** over {result['questions']} questions; "
        f"`route()` p50 {result['route_latency_ms']['p50']:.2f} ms, p99 "
        f"{result['route_latency_ms']['p99']:.2f} ms on this larger data (built in "
        f"{result['build_seconds']:.1f} s).",
        "",
        "| source | gold route | questions | routed right |",
        "|---|---|---:|---:|",
    ]
    gold = {"spider": "sql", "scifact": "rag"}
    for source, c in result["by_source"].items():
        lines.append(
            f"| {source} | {gold.get(source, 'graph')} | {c['questions']} | {c['accuracy']:.1%} |"
        )
    if result["misses"]:
        lines += ["", "Some misroutes:", ""]
        for m in result["misses"][:8]:
            lines.append(f"- {m['source']} → `{m['routed']}`: {md_escape(m['question'])}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_BENCH, help="the bench folder")
    parser.add_argument("--db", default="world_1", help="Spider database (world_1)")
    parser.add_argument("--limit", type=int, default=100, help="questions per source (100)")
    parser.add_argument(
        "--split",
        choices=("test", "dev"),
        default="test",
        help="test (reported) or dev (MetaQA dev, SciFact train: to study misses)",
    )
    parser.add_argument(
        "--work", type=Path, default=Path("benchmarks/out/routing-public"), help="scratch folder"
    )
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--results", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args(argv)
    result = measure(args)
    publish(result, table(result), heading=HEADING, json_path=args.json, results=args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
