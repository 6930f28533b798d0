"""Reading SQLite files and comparing result rows: multisets, order, and ties.

A governed result agrees with the database's own when it has the same rows, in the same
order if the statement orders them. Rows whose sort keys tie may come in any order, and
a LIMIT may keep any of them: :func:`valid_under_ties` accepts exactly those answers.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

REL_TOL = 1e-6
"""Relative tolerance when numbers are compared across engines."""


def quote(name: str) -> str:
    """``name`` as a double-quoted identifier."""
    return exp.to_identifier(name, quoted=True).sql()


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a SQLite file."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def raw_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """What SQLite itself returns for ``sql``."""
    con = read_only(path)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def top_level_order(sql: str) -> bool:
    """Whether the statement orders its result (ORDER BY on the outermost query)."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return False
    return tree.args.get("order") is not None


def tables_and_columns(con: sqlite3.Connection) -> list[tuple[str, list[str]]]:
    """Every table of the SQLite database (by name) with its column names."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return [(t, [r[1] for r in con.execute(f"PRAGMA table_info({quote(t)})")]) for t in tables]


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _cell_equal(a: Any, b: Any, tolerant: bool) -> bool:
    a, b = _norm(a), _norm(b)
    if a is None or b is None:
        return a is None and b is None
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        if not tolerant:
            return a == b
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9)
    return bool(a == b)


def rows_equal(a: Sequence[Any], b: Sequence[Any], tolerant: bool) -> bool:
    return len(a) == len(b) and all(_cell_equal(x, y, tolerant) for x, y in zip(a, b, strict=True))


def _sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for value in row:
        v = _norm(value)
        if v is None:
            out.append((0, 0))
        elif isinstance(v, int | float):
            out.append((1, round(float(v), 6)))
        else:
            out.append((2, str(v)))
    return tuple(out)


def same_rows(
    expected: Sequence[Sequence[Any]],
    got: Sequence[Sequence[Any]],
    *,
    ordered: bool,
    tolerant: bool = False,
) -> bool:
    """Equal as lists when ``ordered``, else as multisets; ``tolerant`` compares numbers
    with a relative tolerance (and integers equal to floats of the same value)."""
    if len(expected) != len(got):
        return False
    if not tolerant:
        if ordered:
            return [tuple(r) for r in expected] == [tuple(r) for r in got]
        return Counter(map(tuple, expected)) == Counter(map(tuple, got))
    if not ordered:
        expected, got = sorted(expected, key=_sort_key), sorted(got, key=_sort_key)
    return all(rows_equal(a, b, tolerant) for a, b in zip(expected, got, strict=True))


def sample(rows: Sequence[Sequence[Any]], n: int = 3) -> str:
    return repr([tuple(_norm(v) for v in r) for r in rows[:n]]) + (
        f" … ({len(rows)} rows)" if len(rows) > n else ""
    )


def keyed_query(sql: str) -> tuple[str, bool] | None:
    """The gold query with its ORDER BY keys appended to the select list and without its
    LIMIT (and whether it had one), or None when that cannot be done without changing its
    rows (set operations, DISTINCT, OFFSET)."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return None
    order = tree.args.get("order")
    if not isinstance(tree, exp.Select) or order is None or tree.args.get("distinct"):
        return None
    if tree.args.get("offset") is not None:
        return None
    projections = tree.expressions
    aliases = {p.alias.lower(): p.this for p in projections if isinstance(p, exp.Alias)}
    keys: list[exp.Expr] = []
    for ordered in order.expressions:
        key = ordered.this
        if isinstance(key, exp.Literal) and key.is_int:
            position = int(key.this)
            if not 0 < position <= len(projections) or projections[position - 1].is_star:
                return None
            key = projections[position - 1].unalias()
        elif isinstance(key, exp.Column) and not key.table and key.name.lower() in aliases:
            key = aliases[key.name.lower()]
        keys.append(key.copy())
    limited = tree.args.get("limit") is not None
    keyed = tree.copy()
    keyed.set("limit", None)
    keyed.select(*keys, copy=False)
    return keyed.sql(dialect="sqlite"), limited


def valid_under_ties(
    got: Sequence[Sequence[Any]],
    keyed_rows: Sequence[Sequence[Any]],
    *,
    limited: bool,
    tolerant: bool,
) -> bool:
    """Whether ``got`` is one of the answers the ORDER BY allows: ``keyed_rows`` are every
    row (in order) with its sort keys appended; rows whose keys tie may come in any order,
    and a LIMIT may cut a tie anywhere."""
    if not got:
        return not keyed_rows
    width = len(got[0])
    groups: list[tuple[Sequence[Any], list[Sequence[Any]]]] = []
    for row in keyed_rows:
        key, values = row[width:], row[:width]
        if groups and rows_equal(groups[-1][0], key, tolerant=True):
            groups[-1][1].append(values)
        else:
            groups.append((key, [values]))
    i = 0
    for _, rows in groups:
        if i >= len(got):
            break
        take = min(len(rows), len(got) - i)
        chunk, pool = list(got[i : i + take]), list(rows)
        for row in chunk:
            match = next((j for j, r in enumerate(pool) if rows_equal(r, row, tolerant)), None)
            if match is None:
                return False
            pool.pop(match)
        i += take
    return i == len(got) and (limited or i == len(keyed_rows))


def subquery_tie(sql: str, reference: Path) -> str | None:
    """Why the gold query itself has more than one right answer, if it does: a subquery
    whose ORDER BY … LIMIT cuts through rows whose sort keys tie (run on its own)."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return None
    for select in tree.find_all(exp.Select):
        limit = select.args.get("limit")
        if select is tree or select.args.get("order") is None or limit is None:
            continue
        count = limit.expression
        if not (isinstance(count, exp.Literal) and count.is_int):
            continue
        keyed = keyed_query(select.sql(dialect="sqlite"))
        if keyed is None:
            continue
        try:
            rows = raw_rows(reference, keyed[0])
        except sqlite3.Error:
            continue  # correlated: it cannot run on its own
        width, n = len(select.expressions), int(count.this)
        if len(rows) > n > 0 and rows[n - 1][width:] == rows[n][width:]:
            return (
                f"the gold query has several right answers: its subquery "
                f"{select.sql(dialect='sqlite')[:80]!r} keeps {n} of rows whose sort keys tie"
            )
    return None
