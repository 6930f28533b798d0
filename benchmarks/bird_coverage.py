"""BIRD mini-dev coverage: how much real-world SQL governance parses, governs and
transpiles to SQLite, in each of BIRD's three dialects.

The 500 mini-dev gold queries exist in SQLite, MySQL and PostgreSQL form (the same
questions). BIRD ships no data here, so each query is governed against EMPTY SQLite
tables built from ``dev_tables.json``, as a principal granted SELECT on ``table:*``,
with ``GovernedSQL(..., dialect=<the gold's dialect>)``; the SQLite dialect is the target.
Per dialect, the funnel:

1. **parse**: sqlglot reads it in its dialect;
2. **govern**: every governance pass accepts it, including the last one, which writes it
   in SQLite or refuses it as unfaithful (``sql.transpile``: a construct that would mean
   something else in SQLite, e.g. MySQL ``DATE_FORMAT(d, '%M')``);
3. **runs on SQLite**: SQLite plans the governed statement (``EXPLAIN`` on the empty
   tables), so names, syntax and functions exist there.

Results are not compared (no data); the Spider benchmark does that.

Run ``python benchmarks/bird_coverage.py`` (``--limit N`` for the first N queries per
dialect, ``--results benchmarks/RESULTS.md`` to update the summary).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlglot
from _report import REPO, SHARED_BENCH, machine, md_escape, sqlglot_info, update_results

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import CrossroadsError, PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.sql import GovernedSQL, faithful_rewrites

HEADING = "## BIRD mini-dev coverage (benchmarks/bird_coverage.py)"
DEFAULT_DATA = SHARED_BENCH / "bird-minidev"
DEFAULT_OUT = REPO / "benchmarks" / "out" / "bird_coverage.json"
DIALECTS = {"sqlite": "sqlite", "mysql": "mysql", "postgresql": "postgres"}
"""BIRD's file suffix → sqlglot's dialect name."""
_SQLITE_TYPES = {"integer": "INTEGER", "real": "REAL", "text": "TEXT", "date": "DATE"}


@dataclass(frozen=True, slots=True)
class Gold:
    """One gold query: its line in the dialect's gold file (1-based), database, SQL."""

    line: int
    db: str
    sql: str


def load_gold(data: Path, suffix: str, limit: int | None) -> list[Gold]:
    """The gold queries of one dialect (the first ``limit``)."""
    golds: list[Gold] = []
    path = data / f"mini_dev_{suffix}_gold.sql"
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                sql, _, db = line.rstrip("\n").rpartition("\t")
                golds.append(Gold(number, db.strip(), sql.strip()))
    return golds[:limit] if limit else golds


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_empty_databases(data: Path, into: Path) -> dict[str, Path]:
    """One empty SQLite file per BIRD database: tables, columns, types, keys."""
    schemas = json.loads((data / "dev_tables.json").read_text(encoding="utf-8"))
    files: dict[str, Path] = {}
    for schema in schemas:
        db = schema["db_id"]
        path = into / f"{db}.sqlite"
        tables = schema["table_names_original"]
        columns: dict[int, list[str]] = {i: [] for i in range(len(tables))}
        pk_columns: set[int] = set()
        for key in schema["primary_keys"]:
            pk_columns.update(key if isinstance(key, list) else [key])
        by_table_pk: dict[int, list[str]] = {i: [] for i in range(len(tables))}
        for i, ((table, name), kind) in enumerate(
            zip(schema["column_names_original"], schema["column_types"], strict=True)
        ):
            if table < 0:
                continue
            sql_type = _SQLITE_TYPES.get(kind, "DATETIME" if kind == "datetime" else "")
            columns[table].append(f"{_quote(name)} {sql_type}".rstrip())
            if i in pk_columns:
                by_table_pk[table].append(_quote(name))
        con = sqlite3.connect(path)
        try:
            for i, table in enumerate(tables):
                cols = list(columns[i])
                if by_table_pk[i]:
                    cols.append(f"PRIMARY KEY ({', '.join(by_table_pk[i])})")
                con.execute(f"CREATE TABLE {_quote(table)} ({', '.join(cols)})")
            con.commit()
        finally:
            con.close()
        files[db] = path
    return files


def _short(exc: BaseException) -> str:
    return str(exc).split("\n  SQL:", 1)[0].strip()


def measure_dialect(
    suffix: str, golds: Sequence[Gold], files: dict[str, Path], catalog: Catalog, who: Principal
) -> dict[str, Any]:
    """The funnel for one dialect's gold queries, and every query that left it."""
    dialect = DIALECTS[suffix]
    counts = Counter[str]()
    rewrites = Counter[str]()
    cases: list[dict[str, Any]] = []
    tools: dict[str, GovernedSQL] = {}
    try:
        for gold in golds:
            counts["queries"] += 1
            base = {"line": gold.line, "db": gold.db, "sql": gold.sql}
            try:
                tree = sqlglot.parse_one(gold.sql, read=dialect)
            except sqlglot.errors.SqlglotError as exc:
                cases.append({**base, "stage": "parse", "reason": _short(exc)})
                continue
            counts["parsed"] += 1
            rewritten = faithful_rewrites(tree, dialect, "sqlite")
            if gold.db not in tools:
                tools[gold.db] = GovernedSQL(
                    SQLDatabase(f"sqlite:///{files[gold.db]}"),
                    catalog,
                    audit=AuditLog.memory(),
                    dialect=dialect,
                )
            tool = tools[gold.db]
            try:
                governed = tool.govern(gold.sql, who)
            except PolicyViolation as exc:
                stage = "unfaithful" if exc.rule == "sql.transpile" else "refused"
                cases.append({**base, "stage": stage, "rule": exc.rule, "reason": _short(exc)})
                continue
            counts["governed"] += 1
            if rewritten:
                counts["rewritten"] += 1
                rewrites.update(set(rewritten))
            try:
                tool.db.validate(governed.sql)
            except CrossroadsError as exc:
                cases.append(
                    {**base, "stage": "sqlite", "reason": _short(exc), "governed_sql": governed.sql}
                )
                continue
            counts["runs_on_sqlite"] += 1
    finally:
        for t in tools.values():
            close = getattr(t.db, "close", None)
            if callable(close):
                close()
    stages = Counter(c["stage"] for c in cases)
    rules = Counter(c.get("rule", c["stage"]) for c in cases if c["stage"] == "refused")
    return {
        "dialect": dialect,
        "queries": counts["queries"],
        "parsed": counts["parsed"],
        "governed": counts["governed"],
        "rewritten": counts["rewritten"],
        "rewrites": dict(rewrites.most_common()),
        "runs_on_sqlite": counts["runs_on_sqlite"],
        "unfaithful": stages["unfaithful"],
        "refused": stages["refused"],
        "refused_by_rule": dict(rules.most_common()),
        "sqlite_errors": stages["sqlite"],
        "cases": cases,
    }


# -- report ------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _reason_kind(case: dict[str, Any]) -> str:
    """A short label grouping similar reasons (for the summary table)."""
    reason = str(case["reason"])
    if case["stage"] == "sqlite":
        for marker in ("no such function: ", "no such column: ", "near "):
            if marker in reason:
                return marker + reason.split(marker, 1)[1].split(":")[0].split(" ")[0].strip(".")
        return reason[:60]
    if case["stage"] == "unfaithful":
        text = reason.split("faithfully in sqlite: ", 1)[-1]
        return text.split(";")[0][:90]
    return f"{case.get('rule', case['stage'])}: {reason[:70]}"


def render(results: dict[str, Any]) -> str:
    """The tables, as Markdown."""
    lines = [
        "| gold dialect | queries | parsed | governed | of which needed an exact rewrite "
        "| refused as unfaithful | other refusals | runs on SQLite (EXPLAIN) | errors on SQLite |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["dialects"].values():
        n = r["queries"]
        lines.append(
            f"| {r['dialect']} | {n} | {r['parsed']} ({_pct(r['parsed'], n)}) "
            f"| {r['governed']} ({_pct(r['governed'], n)}) | {r['rewritten']} | {r['unfaithful']} "
            f"| {r['refused']} | {r['runs_on_sqlite']} ({_pct(r['runs_on_sqlite'], n)}) "
            f"| {r['sqlite_errors']} |"
        )
    lines += ["", "| gold dialect | stage | why | queries |", "|---|---|---|---:|"]
    for r in results["dialects"].values():
        for label, count in r["rewrites"].items():
            lines.append(f"| {r['dialect']} | exact rewrite | {md_escape(label)} | {count} |")
        kinds = Counter((c["stage"], _reason_kind(c)) for c in r["cases"])
        for (stage, kind), count in sorted(kinds.items(), key=lambda kv: (kv[0][0], -kv[1])):
            lines.append(f"| {r['dialect']} | {stage} | {md_escape(kind, 120)} | {count} |")
    return "\n".join(lines)


def results_section(results: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    m = results["machine"]
    sg = results["sqlglot"]
    return "\n".join(
        [
            HEADING,
            "",
            f"{results['date'][:10]}, {m['implementation']} {m['python']}, sqlglot "
            f"{sg['version']}{' (compiled)' if sg['compiled'] else ''}. The 500 BIRD mini-dev "
            "gold queries in each of their three dialects, governed (`dialect=` the gold's "
            "dialect, full grants) against empty SQLite tables built from `dev_tables.json`, "
            "then planned by SQLite (`EXPLAIN`). *Needed an exact rewrite*: sqlglot alone would "
            "have written a construct that means something else in SQLite (or that SQLite "
            "lacks), and governance wrote its exact equivalent instead (PostgreSQL's "
            "case-sensitive `LIKE` as `GLOB`, `EXTRACT(YEAR FROM d)` as "
            "`CAST(STRFTIME('%Y', d) AS INTEGER)`, MySQL's byte `LENGTH` as the length of a "
            "BLOB …). *Refused as unfaithful*: the last pass found a construct with no exact "
            "equivalent, which sqlglot would write with another meaning. *Errors "
            "on SQLite*: governed and written, but SQLite cannot plan it (a function it "
            "lacks, such as MySQL's `YEAR()` or PostgreSQL's `EXTRACT`, `SPLIT_PART`, `AGE`, "
            "`RIGHT`): refused by the database before anything runs. Results are not "
            "compared: BIRD's data is not here.",
            "",
            render(results),
            "",
            "Reproduce:",
            "",
            "```",
            results["command"],
            "```",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BIRD mini-dev folder")
    parser.add_argument("--limit", type=int, help="only the first N queries per dialect")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output")
    parser.add_argument("--results", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args(argv)
    data = args.data.resolve()
    if not (data / "dev_tables.json").exists():
        parser.error(f"no dev_tables.json in {data}; pass --data PATH/TO/bird-minidev")

    who = Principal("bench")
    catalog = Catalog()
    catalog.add_principal(who)
    catalog.grant("SELECT", on="table:*", to="user:bench")
    results: dict[str, Any] = {
        "benchmark": "bird_coverage",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": (
            "python benchmarks/bird_coverage.py "
            + " ".join(argv if argv is not None else sys.argv[1:])
        ).strip(),
        "machine": machine(),
        "sqlglot": sqlglot_info(),
        "config": {"limit": args.limit},
        "dialects": {},
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bird-empty-") as tmp:
        files = build_empty_databases(data, Path(tmp))
        for suffix in DIALECTS:
            golds = load_gold(data, suffix, args.limit)
            results["dialects"][suffix] = measure_dialect(suffix, golds, files, catalog, who)
    results["seconds"] = round(time.perf_counter() - start, 2)

    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    if args.results is not None:
        update_results(args.results, HEADING, results_section(results))
        print(f"updated {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
