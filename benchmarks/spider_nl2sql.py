"""Deterministic NL→SQL on Spider dev: execution accuracy of ``GovernedSQL.ask``.

Each dev question whose database ships is asked, as a principal granted SELECT on
every table, of ``GovernedSQL(...).ask`` in deterministic mode (no model). Its rows are
compared with the gold query's rows from raw ``sqlite3`` (multiset equality; order kept
when the gold query orders), the usual *execution accuracy*. Three outcomes:

- **answered**: a query was built and ran; *correct* when its rows equal the gold rows;
- **refused**: ``CannotAnswer`` — the question had terms the planner could not place, so
  it said so instead of guessing (the router then falls back);
- **error**: the planned query was denied or failed in the database.

Nothing is tuned on these questions: the planner's cue words and rules are generic.

Run ``python benchmarks/spider_nl2sql.py`` (``--limit N``, ``--results
benchmarks/RESULTS.md`` to update the summary).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _report import REPO, SHARED_BENCH, machine, percentile, update_results
from spider_roundtrip import (
    database_file,
    full_access_catalog,
    raw_rows,
    same_rows,
    top_level_order,
)

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import CannotAnswer, CrossroadsError
from crossroads.policy import Principal
from crossroads.tools.sql import GovernedSQL

HEADING = "## Spider NL→SQL, deterministic (benchmarks/spider_nl2sql.py)"
DEFAULT_DATA = SHARED_BENCH / "spider"
DEFAULT_OUT = REPO / "benchmarks" / "out" / "spider_nl2sql.json"


def load_questions(data: Path, limit: int | None) -> tuple[list[dict[str, str]], int]:
    """Dev questions whose database ships (the first ``limit``), and how many have none."""
    items = json.loads((data / "dev.json").read_text(encoding="utf-8"))
    kept = [
        {"db": x["db_id"], "question": x["question"], "gold": x["query"]}
        for x in items
        if database_file(data, x["db_id"]).exists()
    ]
    missing = len(items) - len(kept)
    return (kept[:limit] if limit else kept), missing


def measure(data: Path, questions: Sequence[dict[str, str]]) -> dict[str, Any]:
    """Ask every question; tally outcomes, accuracy and latency."""
    principal = Principal("bench")
    catalog = full_access_catalog(principal)
    tools: dict[str, GovernedSQL] = {}
    outcomes: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    per_db: dict[str, Counter[str]] = {}
    latencies: list[float] = []
    examples: list[dict[str, Any]] = []
    for item in questions:
        db = item["db"]
        if db not in tools:
            tools[db] = GovernedSQL(
                SQLDatabase(f"sqlite:///{database_file(data, db)}"),
                catalog,
                audit=AuditLog.memory(),
                max_rows=100_000,
            )
            tools[db].lexicon(principal)  # the value index, built once per database
        gold_rows = raw_rows(database_file(data, db), item["gold"])
        started = time.perf_counter()
        try:
            answer = tools[db].ask(item["question"], principal)
        except CannotAnswer as exc:
            outcome = "refused"
            refusals[exc.reason] += 1
            detail = str(exc)
        except CrossroadsError as exc:
            outcome, detail = "error", f"{type(exc).__name__}: {exc}"
        else:
            ordered = top_level_order(item["gold"])
            correct = same_rows(gold_rows, answer.result.rows, ordered=ordered, tolerant=True)
            outcome = "correct" if correct else "wrong"
            detail = answer.sql
        latencies.append((time.perf_counter() - started) * 1000)
        outcomes[outcome] += 1
        per_db.setdefault(db, Counter())[outcome] += 1
        if len(examples) < 400 and outcome != "correct":
            examples.append({**item, "outcome": outcome, "detail": detail[:400]})
    for tool in tools.values():
        tool.db.close()
    total = len(questions)
    answered = outcomes["correct"] + outcomes["wrong"]
    return {
        "questions": total,
        "outcomes": dict(outcomes),
        "execution_accuracy": outcomes["correct"] / total if total else 0.0,
        "answered_share": answered / total if total else 0.0,
        "precision_when_answered": outcomes["correct"] / answered if answered else 0.0,
        "refusal_reasons": dict(refusals.most_common()),
        "per_database": {db: dict(c) for db, c in sorted(per_db.items())},
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
        },
        "not_correct_examples": examples,
    }


def render(result: dict[str, Any], missing: int) -> str:
    """The summary table."""
    o = result["outcomes"]
    rows = [
        ("questions asked", f"{result['questions']} ({missing} more have no database here)"),
        ("execution accuracy (correct / asked)", f"{result['execution_accuracy']:.1%}"),
        ("answered (a query ran)", f"{result['answered_share']:.1%}"),
        ("precision when answered (correct / answered)", f"{result['precision_when_answered']:.1%}"),  # noqa: E501
        ("correct · wrong · refused · error", f"{o.get('correct', 0)} · {o.get('wrong', 0)} · {o.get('refused', 0)} · {o.get('error', 0)}"),  # noqa: E501
        ("latency per question p50 / p99", f"{result['latency_ms']['p50']:.1f} / {result['latency_ms']['p99']:.1f} ms"),  # noqa: E501
    ]  # fmt: skip
    lines = ["| measure | value |", "|---|---:|", *(f"| {a} | {b} |" for a, b in rows)]
    reasons = result["refusal_reasons"]
    if reasons:
        lines += ["", "| refusal reason | questions |", "|---|---:|"]
        lines += [f"| {reason} | {n} |" for reason, n in reasons.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table, write JSON, optionally update RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Spider folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output")
    parser.add_argument("--results", type=Path, default=None, help="update this RESULTS.md")
    args = parser.parse_args(argv)
    if not (args.data / "dev.json").exists():
        print(f"no Spider data at {args.data}: pass --data PATH", file=sys.stderr)
        return 2
    questions, missing = load_questions(args.data, args.limit)
    started = time.perf_counter()
    result = measure(args.data, questions)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine()
    result["date"] = datetime.now(UTC).date().isoformat()
    table = render(result, missing)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")
    if args.results is not None:
        section = (
            f"{HEADING}\n\n{result['date']}, {result['machine']['cpu_count']} CPUs, Python "
            f"{result['machine']['python']}. Spider dev questions asked of "
            "`GovernedSQL.ask` with no model (deterministic schema and value linking), as a "
            "principal granted SELECT on every table; rows compared with the gold query's "
            "(execution accuracy). A refusal is the planner saying it cannot place part of "
            "the question, which the router treats as a fall-back, not an answer. Nothing "
            "was tuned on these questions.\n\n"
            f"{table}\n\nReproduce:\n\n```\npython benchmarks/spider_nl2sql.py "
            "--results benchmarks/RESULTS.md\n```\n"
        )
        update_results(args.results, HEADING, section)
        print(f"updated {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
