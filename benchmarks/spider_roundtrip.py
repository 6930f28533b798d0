"""Spider round trip: governed SQL must return exactly what the database returns.

Four measurements over the Spider dev gold queries (the 972 whose database ships):

a. **Round trip.** Each gold query through ``GovernedSQL.run`` as a principal granted
   SELECT on ``table:*`` with no filters or masks, against raw ``sqlite3`` on the same
   file. Agreement: the same rows as a multiset, in the same order when the gold query
   has a top-level ORDER BY.
b. **Random row filters.** Per database and round, every table gets a seeded random
   filter (``col <> v``, ``col >= median``, ``col = :attr``, ``col IN :attrs`` …, some
   bound through principal attributes). Each gold query runs governed on the original
   file and raw on a copy whose tables hold only the rows the filters allow.
c. **PostgreSQL.** The databases loaded into the local PostgreSQL (one schema each,
   column types from the values SQLite stores), the gold queries governed with
   ``dialect="sqlite"`` (read as SQLite, written as PostgreSQL), compared with SQLite.
d. **Latency** of ``GovernedSQL.govern`` over every gold query: p50, p90, p99.

Run ``python benchmarks/spider_roundtrip.py`` (``--limit N`` for the first N queries,
``--pg-url URL`` or ``$CROSSROADS_TEST_PG_URL`` for part c, ``--no-pg`` to skip it,
``--results benchmarks/RESULTS.md`` to update the summary, ``--profile`` to print where
``govern()`` spends its time).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import json
import math
import os
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _pg_load import load_into_postgres, pg_ident
from _report import REPO, SHARED_BENCH, machine, md_escape, percentile, sqlglot_info, update_results
from _rows import (
    REL_TOL,
    keyed_query,
    quote,
    raw_rows,
    read_only,
    same_rows,
    sample,
    subquery_tie,
    tables_and_columns,
    top_level_order,
    valid_under_ties,
)
from sqlglot import exp

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import CrossroadsError, PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.sql import GovernedSQL

HEADING = "## Spider round trip (benchmarks/spider_roundtrip.py)"
DEFAULT_DATA = SHARED_BENCH / "spider"
DEFAULT_OUT = REPO / "benchmarks" / "out" / "spider_roundtrip.json"
MAX_ROWS = 100_000
PRINCIPAL_ID = "bench"


# -- data --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gold:
    """One gold query: its line in dev_gold.sql (1-based), database, and SQL."""

    line: int
    db: str
    sql: str


def database_file(data: Path, db: str) -> Path:
    """The SQLite file of Spider database ``db``."""
    return data / "database" / db / f"{db}.sqlite"


def load_gold(data: Path, limit: int | None = None) -> tuple[list[Gold], int]:
    """Gold queries whose database ships (the first ``limit``), and how many have none."""
    golds: list[Gold] = []
    missing = 0
    with (data / "dev_gold.sql").open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            sql, _, db = line.rstrip("\n").rpartition("\t")
            if not database_file(data, db).exists():
                missing += 1
                continue
            golds.append(Gold(number, db, sql.strip()))
    return (golds[:limit] if limit else golds), missing


def full_access_catalog(principal: Principal) -> Catalog:
    """SELECT on every table to ``principal``; no filters, no masks."""
    catalog = Catalog()
    catalog.add_principal(principal)
    catalog.grant("SELECT", on="table:*", to=f"user:{principal.id}")
    return catalog


# -- a. the round trip -------------------------------------------------------------------------


@dataclass
class Tally:
    """Outcomes of one comparison run."""

    compared: int = 0
    agree: int = 0
    agree_by_ties: int = 0
    ambiguous: int = 0
    ordered: int = 0
    nonempty: int = 0
    raw_errors: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts and every case that did not agree."""
        return {
            "compared": self.compared,
            "agree": self.agree,
            "agree_pct": round(100 * self.agree / self.compared, 2) if self.compared else None,
            "agree_by_ties": self.agree_by_ties,
            "ambiguous_gold": self.ambiguous,
            "ordered": self.ordered,
            "nonempty": self.nonempty,
            "raw_errors": self.raw_errors,
            "refusals": self.refusals,
            "errors": self.errors,
            "mismatches": self.mismatches,
        }


def _case(gold: Gold, **extra: Any) -> dict[str, Any]:
    return {"line": gold.line, "db": gold.db, "sql": gold.sql, **extra}


def compare_one(
    tally: Tally,
    gold: Gold,
    reference: Path,
    governed: GovernedSQL,
    principal: Principal,
    *,
    tolerant: bool = False,
    extra: dict[str, Any] | None = None,
) -> None:
    """Run one gold query raw on the SQLite file ``reference`` and through ``governed``,
    and record the outcome in ``tally``.

    An ordered result that differs only in the order of rows whose sort keys tie (or in
    which of the tied rows a LIMIT kept) agrees, and is counted in ``agree_by_ties``.
    """
    extra = extra or {}
    try:
        want = raw_rows(reference, gold.sql)
    except sqlite3.Error as exc:  # the gold query does not run raw: not counted
        tally.raw_errors.append(_case(gold, reason=f"{type(exc).__name__}: {exc}", **extra))
        return
    tally.compared += 1
    ordered = top_level_order(gold.sql)
    tally.ordered += ordered
    try:
        result = governed.run(gold.sql, principal)
    except PolicyViolation as exc:
        tally.refusals.append(_case(gold, rule=exc.rule, reason=str(exc), **extra))
        return
    except CrossroadsError as exc:
        tally.errors.append(_case(gold, reason=f"{type(exc).__name__}: {exc}", **extra))
        return
    if result.truncated:
        tally.mismatches.append(_case(gold, reason="truncated at the row limit", **extra))
        return
    if same_rows(want, result.rows, ordered=ordered, tolerant=tolerant):
        tally.agree += 1
        tally.nonempty += bool(want)
        return
    keyed = keyed_query(gold.sql) if ordered else None
    if keyed is not None:
        try:
            keyed_rows = raw_rows(reference, keyed[0])
        except sqlite3.Error:
            keyed_rows = None
        if keyed_rows is not None and valid_under_ties(
            result.rows, keyed_rows, limited=keyed[1], tolerant=tolerant
        ):
            tally.agree += 1
            tally.agree_by_ties += 1
            tally.nonempty += bool(want)
            return
    unordered_ok = ordered and same_rows(want, result.rows, ordered=False, tolerant=tolerant)
    reason = "same rows, other order" if unordered_ok else "different rows"
    tie = subquery_tie(gold.sql, reference)
    if tie is not None:
        tally.ambiguous += 1
        reason = f"{reason}; {tie}"
    tally.mismatches.append(
        _case(
            gold,
            reason=reason,
            expected=sample(want),
            got=sample(result.rows),
            governed_sql=result.sql,
            **extra,
        )
    )


@contextlib.contextmanager
def governed_tools(
    data: Path, catalog_for: Callable[[str], Catalog], **kwargs: Any
) -> Iterator[Callable[[str], GovernedSQL]]:
    """``GovernedSQL`` per database (opened once), closed at the end."""
    tools: dict[str, GovernedSQL] = {}

    def tool(db: str) -> GovernedSQL:
        if db not in tools:
            url = f"sqlite:///{database_file(data, db)}"
            tools[db] = GovernedSQL(
                SQLDatabase(url, max_rows=MAX_ROWS),
                catalog_for(db),
                audit=AuditLog.memory(),
                max_rows=MAX_ROWS,
                **kwargs,
            )
        return tools[db]

    try:
        yield tool
    finally:
        for t in tools.values():
            close = getattr(t.db, "close", None)
            if callable(close):
                close()


def measure_roundtrip(data: Path, golds: Sequence[Gold]) -> dict[str, Any]:
    """a. Every gold query governed (full grants, no filters) against raw SQLite."""
    principal = Principal(PRINCIPAL_ID)
    catalog = full_access_catalog(principal)
    tally = Tally()
    with governed_tools(data, lambda db: catalog) as tool:
        for gold in golds:
            compare_one(tally, gold, database_file(data, gold.db), tool(gold.db), principal)
    return tally.summary()


# -- b. random row filters ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowFilterChoice:
    """The filter picked for one table."""

    table: str
    column: str
    kind: str
    where: str
    """The predicate as the policy states it (``:name`` bound to an attribute)."""
    attributes: dict[str, Any]


def _literal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return exp.Literal.string(str(value)).sql()
    return exp.Literal.number(value).sql()


def pick_filters(path: Path, rng: random.Random) -> list[RowFilterChoice]:
    """One random filter per non-empty table, on a column holding values."""
    con = read_only(path)
    try:
        choices: list[RowFilterChoice] = []
        for n, (table, columns) in enumerate(tables_and_columns(con)):
            candidates = columns[:]
            rng.shuffle(candidates)
            for column in candidates:
                values = [
                    r[0]
                    for r in con.execute(
                        f"SELECT {quote(column)} FROM {quote(table)} "
                        f"WHERE {quote(column)} IS NOT NULL"
                    )
                ]
                if values and all(isinstance(v, int | float | str) for v in values):
                    choices.append(_make_filter(table, column, values, rng, f"a{n}"))
                    break
        return choices
    finally:
        con.close()


def _make_filter(
    table: str, column: str, values: list[Any], rng: random.Random, attr: str
) -> RowFilterChoice:
    col = quote(column)
    numeric = all(isinstance(v, int | float) for v in values)
    kinds = ["ne", "eq_attr", "in_attr", "ge_median", "le_median"]
    kind = rng.choice(kinds)
    value = rng.choice(values)
    if kind in ("ge_median", "le_median"):
        ordered = sorted(values) if numeric else sorted(map(str, values))
        median = ordered[len(ordered) // 2]
        op = ">=" if kind == "ge_median" else "<="
        return RowFilterChoice(table, column, kind, f"{col} {op} {_literal(median)}", {})
    if kind == "ne":
        return RowFilterChoice(table, column, kind, f"{col} <> {_literal(value)}", {})
    if kind == "eq_attr":
        return RowFilterChoice(table, column, kind, f"{col} = :{attr}", {attr: value})
    distinct = sorted(set(values), key=str)
    picked = tuple(rng.sample(distinct, min(3, len(distinct))))
    return RowFilterChoice(table, column, kind, f"{col} IN :{attr}", {attr: picked})


def _filtered_copy(source: Path, target: Path, catalog: Catalog, principal: Principal) -> None:
    """Copy ``source`` to ``target`` keeping only the rows the principal's filters allow."""
    shutil.copyfile(source, target)
    con = sqlite3.connect(target)
    try:
        for table, _ in tables_and_columns(con):
            predicate = catalog.row_predicate(principal, table)
            if predicate is None:
                continue
            keep = predicate.sql(dialect="sqlite")
            con.execute(f"DELETE FROM {quote(table)} WHERE CASE WHEN ({keep}) THEN 0 ELSE 1 END")
        con.commit()
    finally:
        con.close()


def _always(catalog: Catalog) -> Callable[[str], Catalog]:
    return lambda _db: catalog


def _seed(*parts: object) -> int:
    text = "/".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def measure_row_filters(
    data: Path, golds: Sequence[Gold], rounds: int, seed: int
) -> dict[str, Any]:
    """b. Gold queries governed under random row filters against a filtered copy."""
    by_db: dict[str, list[Gold]] = {}
    for gold in golds:
        by_db.setdefault(gold.db, []).append(gold)
    tally = Tally()
    chosen: dict[str, list[list[dict[str, Any]]]] = {}
    kinds: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="spider-filters-") as tmp:
        for db, queries in by_db.items():
            source = database_file(data, db)
            for round_ in range(rounds):
                rng = random.Random(_seed(seed, db, round_))
                filters = pick_filters(source, rng)
                attributes: dict[str, Any] = {}
                for f in filters:
                    attributes.update(f.attributes)
                    kinds[f.kind] += 1
                principal = Principal(PRINCIPAL_ID, attributes=attributes)
                catalog = full_access_catalog(principal)
                for f in filters:
                    catalog.add_row_filter(f"table:{f.table}", f.where, to=f"user:{PRINCIPAL_ID}")
                chosen.setdefault(db, []).append(
                    [
                        {"table": f.table, "kind": f.kind, "where": f.where, **f.attributes}
                        for f in filters
                    ]
                )
                copy = Path(tmp) / f"{db}-{round_}.sqlite"
                _filtered_copy(source, copy, catalog, principal)
                with governed_tools(data, _always(catalog)) as tool:
                    for gold in queries:
                        extra = {"round": round_}
                        compare_one(tally, gold, copy, tool(db), principal, extra=extra)
    out = tally.summary()
    out["rounds"] = rounds
    out["seed"] = seed
    out["filter_kinds"] = dict(sorted(kinds.items()))
    out["filters"] = chosen
    return out


# -- c. PostgreSQL --------------------------------------------------------------------------


def measure_postgres(
    data: Path, golds: Sequence[Gold], pg_url: str, databases: Sequence[str] | None
) -> dict[str, Any]:
    """c. Gold queries read as SQLite, governed and run on PostgreSQL, against SQLite."""
    import psycopg
    from sqlalchemy.engine import make_url

    wanted = list(dict.fromkeys(g.db for g in golds))
    if databases:
        wanted = [db for db in wanted if db in databases]
    url = make_url(pg_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    run = uuid.uuid4().hex[:6]
    schemas = {db: f"xr_spider_{run}_{db}".lower() for db in wanted}
    tally = Tally()
    loaded: dict[str, Any] = {}
    principal = Principal(PRINCIPAL_ID)
    catalog = full_access_catalog(principal)
    with psycopg.connect(dsn) as conn:
        try:
            for db in wanted:
                loaded[db] = load_into_postgres(conn, schemas[db], database_file(data, db))
            for db in wanted:
                with SQLDatabase(pg_url, schema=schemas[db], max_rows=MAX_ROWS) as target:
                    tool = GovernedSQL(
                        target,
                        catalog,
                        audit=AuditLog.memory(),
                        dialect="sqlite",
                        max_rows=MAX_ROWS,
                    )
                    for gold in (g for g in golds if g.db == db):
                        reference = database_file(data, db)
                        compare_one(tally, gold, reference, tool, principal, tolerant=True)
        finally:
            conn.rollback()
            with conn.cursor() as cur:
                for schema in schemas.values():
                    cur.execute(f"DROP SCHEMA IF EXISTS {pg_ident(schema)} CASCADE")
            conn.commit()
    out = tally.summary()
    out["databases"] = loaded
    out["refusals_by_rule"] = dict(Counter(r["rule"] for r in tally.refusals).most_common())
    return out


# -- d. latency --------------------------------------------------------------------------------


def measure_latency(
    data: Path, golds: Sequence[Gold], repeats: int, profile: bool
) -> dict[str, Any]:
    """d. Milliseconds per ``govern()`` call, every gold query ``repeats`` times."""
    principal = Principal(PRINCIPAL_ID)
    catalog = full_access_catalog(principal)
    samples: list[float] = []
    refused = 0
    with governed_tools(data, lambda db: catalog) as tool:
        calls = [(tool(g.db), g.sql) for g in golds]
        for t, _ in calls:
            t.db.schema()  # reflect once, outside the measurement

        def govern_all(record: bool) -> None:
            nonlocal refused
            clock = time.perf_counter
            for t, sql in calls:
                start = clock()
                try:
                    t.govern(sql, principal)
                except PolicyViolation:
                    refused += record
                if record:
                    samples.append((clock() - start) * 1000)

        govern_all(record=False)  # warm-up
        for _ in range(repeats):
            govern_all(record=True)
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(govern_all, False)
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    return {
        "queries": len(golds),
        "repeats": repeats,
        "samples": len(samples),
        "refused": refused,
        "p50_ms": percentile(samples, 50),
        "p90_ms": percentile(samples, 90),
        "p99_ms": percentile(samples, 99),
        "mean_ms": statistics.fmean(samples) if samples else math.nan,
        "max_ms": max(samples, default=math.nan),
    }


# -- report ------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def render(results: dict[str, Any]) -> str:
    """The tables, as Markdown."""
    lines = [
        "| run | compared | agree | % | of which tied order | ordered | non-empty "
        "| refused | errors | mismatches (gold itself ambiguous) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "roundtrip": "a. SQLite, full grants, no filters",
        "row_filters": "b. SQLite, random row filters",
        "postgres": "c. PostgreSQL (read as SQLite)",
    }
    for key, label in labels.items():
        r = results.get(key)
        if not r or r.get("skipped"):
            why = (r or {}).get("skipped", "not run")
            lines.append(f"| {label} | skipped: {md_escape(why, 80)} | | | | | | | | |")
            continue
        if key == "row_filters":
            label += f" ({r['rounds']} rounds × every table)"
        lines.append(
            f"| {label} | {r['compared']} | {r['agree']} | {_pct(r['agree'], r['compared'])} | "
            f"{r['agree_by_ties']} | {r['ordered']} | {r['nonempty']} | {len(r['refusals'])} | "
            f"{len(r['errors'])} | {len(r['mismatches'])} ({r['ambiguous_gold']}) |"
        )
    lines += [
        "",
        "| `govern()` latency | sqlglot | calls | p50 ms | p90 ms | p99 ms | mean ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    runs = [(results["latency"], results["sqlglot"])]
    if "latency_other" in results:
        runs.append((results["latency_other"], results["latency_other"]["sqlglot"]))
    for lat, sg in runs:
        build = " + sqlglotc (compiled)" if sg["compiled"] else " (pure Python)"
        lines.append(
            f"| every gold query × {lat['repeats']} | {sg['version']}{build} | {lat['samples']} "
            f"| {lat['p50_ms']:.2f} | {lat['p90_ms']:.2f} | {lat['p99_ms']:.2f} "
            f"| {lat['mean_ms']:.2f} | {lat['max_ms']:.2f} |"
        )
    cases = []
    grouped: dict[tuple[str, str], list[str]] = {}
    for key, label in labels.items():
        r = results.get(key)
        if not r or r.get("skipped"):
            continue
        for c in r["errors"]:
            grouped.setdefault((label[:2], error_kind(c["reason"])), []).append(
                f"{c['db']}:{c['line']}"
            )
        for kind in ("refusals", "mismatches"):
            for c in r[kind]:
                cases.append(
                    f"| {label[:2]} | {'refused' if kind == 'refusals' else 'mismatch'} "
                    f"| {c['db']}:{c['line']} | {md_escape(c['sql'], 90)} "
                    f"| {md_escape(c.get('reason', ''), 240)} |"
                )
    if cases:
        lines += ["", "| run | outcome | db:line | gold SQL | reason |", "|---|---|---|---|---|"]
        lines += cases
    if grouped:
        lines += [
            "",
            "| run | error from the database (before anything ran) | queries | db:line |",
            "|---|---|---:|---|",
        ]
        for (run, kind), where in sorted(grouped.items(), key=lambda kv: -len(kv[1])):
            lines.append(
                f"| {run} | {md_escape(kind, 120)} | {len(where)} "
                f"| {md_escape(' '.join(where), 5000)} |"
            )
    return "\n".join(lines)


def error_kind(reason: str) -> str:
    """A database error without the names in it, to group like errors."""
    text = reason.split("could not run the statement: ", 1)[-1]
    text = text.split(" (hint", 1)[0].split(". Check the", 1)[0]
    return re.sub(r'"[^"]*"', "…", text)


def results_section(results: dict[str, Any]) -> str:
    """The RESULTS.md section: machine, tables, every case that did not agree, reproduce."""
    m = results["machine"]
    cfg = results["config"]
    pg = results.get("postgres") or {}
    pg_dbs = ", ".join(pg.get("databases", {})) if not pg.get("skipped") else "none"
    rounds = cfg["rounds"]
    kinds = ", ".join(
        f"{k} {n}" for k, n in (results.get("row_filters") or {}).get("filter_kinds", {}).items()
    )
    text = [
        HEADING,
        "",
        f"{results['date'][:10]}, {m['cpu_count']} CPUs, {m['implementation']} {m['python']}, "
        f"{m['platform']}; {cfg['queries']} Spider dev gold queries (those whose database "
        f"ships; {cfg['without_database']} wta_1 queries have none).",
        "",
        "**Agreement**: the rows the database returns for the gold query run raw, as a "
        "multiset, and in the same order when the gold query has a top-level ORDER BY — "
        "where rows whose sort keys tie may come in any order and a LIMIT may keep any of "
        "them (*of which tied order*: checked against the gold query re-run with its sort "
        "keys as extra columns). A refusal or an error counts as disagreement.",
        "",
        "- **a.** `GovernedSQL.run` as a principal with SELECT on `table:*`, no filters or "
        "masks, against raw `sqlite3` on the same file.",
        f"- **b.** {rounds} rounds per database, each giving every table a seeded random row "
        f"filter (kinds: {kinds}; `eq_attr`/`in_attr` bound through principal attributes); "
        "each gold query governed on the original file against raw SQLite on a copy whose "
        "tables hold only the rows the filters allow.",
        f"- **c.** databases {pg_dbs} loaded into PostgreSQL (a schema each; column types "
        "from the values SQLite stores, names lower-cased, primary keys where the data "
        "satisfies them), read through `SQLDatabase(url, schema=...)`, each gold query "
        '`GovernedSQL(db, catalog, dialect="sqlite")` against SQLite; numbers equal within '
        f"a relative {REL_TOL:g} (integers and floats of equal value agree, so float "
        "division and numeric averages do), text and NULL exactly. The errors are "
        "PostgreSQL refusing, while planning, SQLite-only meanings that sqlglot writes "
        "unchanged: bare columns in an aggregate query (SQLite takes them from an arbitrary "
        "row of the group), and Spider's numbers stored as TEXT compared with numbers or "
        "averaged (SQLite converts them by type affinity). No statement returned other "
        "rows than SQLite but the two whose gold query has several right answers.",
        "- **d.** `GovernedSQL.govern` on every gold query, after one warm-up pass; the "
        "compiled row runs the same measurement in an environment with "
        "`pip install 'crossroads[fast]'` (sqlglotc).",
        "",
        render(results),
        "",
        "Reproduce (PostgreSQL from `--pg-url` or `$CROSSROADS_TEST_PG_URL`; `FAST_VENV`: a "
        "venv with `pip install -e '.[fast]'`):",
        "",
        "```",
        results["command"],
        "```",
        "",
    ]
    return "\n".join(text)


def _command(argv: Sequence[str]) -> str:
    words = list(argv)
    for i, word in enumerate(words[:-1]):
        if word == "--also-python":
            words[i + 1] = "FAST_VENV/bin/python"  # a venv with crossroads[fast]
        if word == "--pg-url":
            words[i + 1] = "$CROSSROADS_TEST_PG_URL"
    return " ".join(["python benchmarks/spider_roundtrip.py", *words])


def latency_with(python: str, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The latency measurement run by another interpreter (this script, --latency-only)."""
    with tempfile.TemporaryDirectory(prefix="spider-latency-") as tmp:
        out = Path(tmp) / "latency.json"
        command = [python, str(Path(__file__).resolve()), "--latency-only", "--data", str(data)]
        command += ["--repeats", str(args.repeats), "--out", str(out)]
        if args.limit:
            command += ["--limit", str(args.limit)]
        subprocess.run(command, check=True)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Spider folder")
    parser.add_argument("--limit", type=int, help="only the first N gold queries")
    parser.add_argument("--rounds", type=int, default=3, help="row-filter rounds per db (3)")
    parser.add_argument("--seed", type=int, default=7, help="row-filter seed (7)")
    parser.add_argument("--repeats", type=int, default=3, help="latency passes (3)")
    parser.add_argument("--pg-url", default=os.environ.get("CROSSROADS_TEST_PG_URL"))
    parser.add_argument("--pg-db", action="append", help="PostgreSQL: only this database")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL run")
    parser.add_argument("--profile", action="store_true", help="cProfile one govern() pass")
    parser.add_argument(
        "--also-python",
        help="also measure govern() latency with this interpreter (e.g. a venv with sqlglotc)",
    )
    parser.add_argument("--latency-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output")
    parser.add_argument("--results", type=Path, help="update this RESULTS.md section")
    args = parser.parse_args(argv)
    data = args.data.resolve()
    if not (data / "dev_gold.sql").exists():
        parser.error(f"no dev_gold.sql in {data}; pass --data PATH/TO/spider")
    golds, missing = load_gold(data, args.limit)
    if args.latency_only:  # one measurement, for another interpreter's --also-python
        latency = measure_latency(data, golds, args.repeats, profile=False)
        latency["sqlglot"] = sqlglot_info()
        args.out.write_text(json.dumps(latency) + "\n")
        return 0

    results: dict[str, Any] = {
        "benchmark": "spider_roundtrip",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": _command(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "sqlglot": sqlglot_info(),
        "config": {
            "queries": len(golds),
            "without_database": missing,
            "rounds": args.rounds,
            "seed": args.seed,
            "repeats": args.repeats,
            "limit": args.limit,
        },
    }
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("roundtrip", lambda: measure_roundtrip(data, golds)),
        ("row_filters", lambda: measure_row_filters(data, golds, args.rounds, args.seed)),
    ]
    if args.no_pg or not args.pg_url:
        why = "--no-pg" if args.no_pg else "no --pg-url / $CROSSROADS_TEST_PG_URL"
        results["postgres"] = {"skipped": why}
    else:
        steps.append(("postgres", lambda: measure_postgres(data, golds, args.pg_url, args.pg_db)))
    steps.append(("latency", lambda: measure_latency(data, golds, args.repeats, args.profile)))
    if args.also_python:
        steps.append(("latency_other", lambda: latency_with(args.also_python, data, args)))
    for name, step in steps:
        start = time.perf_counter()
        results[name] = step()
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
        print(f"{name}: done in {results[name]['seconds']} s", file=sys.stderr)

    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out}")
    if args.results is not None:
        update_results(args.results, HEADING, results_section(results))
        print(f"updated {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
