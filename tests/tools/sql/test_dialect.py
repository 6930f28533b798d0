"""Pass 8 across dialects: what has an exact equivalent is written with it, what does not
is refused — and the claims behind each entry of the table hold on the real engines.

The governed statements are read in one dialect and run on another (``GovernedSQL(...,
dialect=source)`` on a database of the target dialect). The differential tests run the
source statement on its own engine (PostgreSQL, MySQL/MariaDB when their URLs are set)
and the governed one on the target, and compare the rows.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.sql import GovernedSQL, faithful, unfaithful

NAMES = ["Alpha", "alpha", "ALPHA x", "a%b", "a_b", "a*b", "a[b", "a\\b", "Émile", "émile", None]
STAMPS = [
    "2012-03-05 14:07:09",
    "1999-12-31 23:59:59",
    "2024-02-29 00:00:00",
    "2001-01-01 09:05:00",
]
SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, d TEXT, x REAL)"
ROWS = [(i + 1, name, STAMPS[i % len(STAMPS)], (i * 1.7) - 3.0) for i, name in enumerate(NAMES)]
WHO = Principal("analyst")


def _catalog() -> Catalog:
    catalog = Catalog()
    catalog.add_principal(WHO)
    catalog.grant("SELECT", on="table:*", to="user:analyst")
    return catalog


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "t.sqlite"
    con = sqlite3.connect(path)
    con.execute(SCHEMA)
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def _load(url: str, schema_sql: str) -> Iterator[str]:
    """The table in a schema of its own on a server; the URL reaches it by default."""
    engine = create_engine(url)
    name = f"dialect_{uuid.uuid4().hex[:8]}"
    backend = engine.dialect.name
    with engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(text(f"CREATE SCHEMA {name}"))
            conn.execute(text(f"SET search_path TO {name}"))
        conn.execute(text(schema_sql))
        conn.execute(
            text("INSERT INTO t VALUES (:id, :name, :d, :x)"),
            [{"id": r[0], "name": r[1], "d": r[2], "x": r[3]} for r in ROWS],
        )
    if backend == "postgresql":
        target = make_url(url).update_query_dict({"options": f"-csearch_path={name}"})
        yield target.render_as_string(hide_password=False)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
    else:
        yield url
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE t"))
    engine.dispose()


@pytest.fixture(scope="module")
def pg_t(pg_url: str) -> Iterator[str]:
    yield from _load(pg_url, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, d DATE, x REAL)")


@pytest.fixture(scope="module")
def mysql_t(mysql_url: str) -> Iterator[str]:
    yield from _load(
        mysql_url,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20) CHARACTER SET utf8mb4 "
        "COLLATE utf8mb4_bin, d DATETIME, x DOUBLE)",
    )


def _raw(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql.replace(":", "\\:")))]
    finally:
        engine.dispose()


@contextmanager
def _governed(url: str, dialect: str) -> Iterator[GovernedSQL]:
    with SQLDatabase(url) as db:
        yield GovernedSQL(db, _catalog(), audit=AuditLog.memory(), dialect=dialect)


def _norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        out.append(tuple(round(float(v), 6) if isinstance(v, int | float) else v for v in row))
    return out


# --- the table, statement by statement -------------------------------------------------------

TO_SQLITE: list[tuple[str, str, str, str, str]] = [
    # (name, source dialect, statement, "sql" or "refuse", substring of the SQL or message)
    (
        "date_format year-month",
        "mysql",
        "SELECT DATE_FORMAT(d, '%Y-%m') FROM t",
        "sql",
        "STRFTIME('%Y-%m'",
    ),
    ("date_format weekday", "mysql", "SELECT DATE_FORMAT(d, '%w') FROM t", "sql", "STRFTIME('%w'"),
    (
        "date_format month name",
        "mysql",
        "SELECT DATE_FORMAT(d, '%M') FROM t",
        "refuse",
        "date format %B",
    ),
    ("date_format week", "mysql", "SELECT DATE_FORMAT(d, '%u') FROM t", "refuse", "date format"),
    (
        "date_format fraction",
        "mysql",
        "SELECT DATE_FORMAT(d, '%f') FROM t",
        "refuse",
        "date format",
    ),
    (
        "to_char date",
        "postgres",
        "SELECT TO_CHAR(d, 'YYYY-MM-DD') FROM t",
        "sql",
        "STRFTIME('%Y-%m-%d'",
    ),
    ("to_char month name", "postgres", "SELECT TO_CHAR(d, 'Mon') FROM t", "refuse", "date format"),
    ("to_char day of week", "postgres", "SELECT TO_CHAR(d, 'D') FROM t", "refuse", "date format"),
    (
        "cast a real to int",
        "postgres",
        "SELECT CAST(x AS INT) FROM t",
        "refuse",
        "CAST to an integer rounds",
    ),
    (
        "cast a real to signed",
        "mysql",
        "SELECT CAST(x AS SIGNED) FROM t",
        "refuse",
        "CAST to an integer rounds",
    ),
    ("cast text to int", "postgres", "SELECT CAST(name AS INT) FROM t", "sql", "CAST("),
    (
        "cast a count to int",
        "postgres",
        "SELECT CAST(COUNT(*) AS INT) FROM t",
        "sql",
        "CAST(COUNT(*) AS INTEGER)",
    ),
    ("cast an integer column", "postgres", "SELECT CAST(id AS INT) FROM t", "sql", "CAST("),
    (
        "cast to decimal(10,2)",
        "mysql",
        "SELECT CAST(x AS DECIMAL(10, 2)) FROM t",
        "refuse",
        "CAST to DECIMAL rounds",
    ),
    (
        "mysql decimal rounds to 0",
        "mysql",
        "SELECT CAST(x AS DECIMAL) FROM t",
        "refuse",
        "default scale, 0",
    ),
    (
        "decimal of a count",
        "mysql",
        "SELECT CAST(COUNT(*) AS DECIMAL) FROM t",
        "sql",
        "CAST(COUNT(*)",
    ),
    ("numeric without scale", "postgres", "SELECT CAST(x AS NUMERIC) FROM t", "sql", "CAST("),
    (
        "cast to interval",
        "postgres",
        "SELECT CAST(name AS INTERVAL) FROM t",
        "refuse",
        "no type INTERVAL",
    ),
    (
        "cast to boolean",
        "postgres",
        "SELECT CAST(name AS BOOLEAN) FROM t",
        "refuse",
        "no type BOOLEAN",
    ),
    (
        "cast to varchar(3)",
        "postgres",
        "SELECT CAST(name AS VARCHAR(3)) FROM t",
        "refuse",
        "VARCHAR(3)",
    ),
    ("cast to char(3)", "mysql", "SELECT CAST(name AS CHAR(3)) FROM t", "refuse", "CHAR(3)"),
    ("cast to text", "postgres", "SELECT CAST(x AS TEXT) FROM t", "sql", "CAST("),
    (
        "like is case-sensitive",
        "postgres",
        "SELECT id FROM t WHERE name LIKE 'Al%'",
        "sql",
        "GLOB 'Al*'",
    ),
    (
        "not like",
        "postgres",
        "SELECT id FROM t WHERE name NOT LIKE 'a\\_b'",
        "sql",
        'NOT "t"."name" GLOB \'a_b\'',
    ),
    ("ilike ascii", "postgres", "SELECT id FROM t WHERE name ILIKE 'al%'", "sql", "LIKE 'al%'"),
    (
        "ilike non-ascii",
        "postgres",
        "SELECT id FROM t WHERE name ILIKE 'é%'",
        "refuse",
        "ILIKE ignores the case of every",
    ),
    (
        "like a column",
        "postgres",
        "SELECT id FROM t WHERE name LIKE d",
        "refuse",
        "only a literal pattern",
    ),
    ("extract year", "postgres", "SELECT EXTRACT(YEAR FROM d) FROM t", "sql", "CAST(STRFTIME('%Y'"),
    ("mysql year()", "mysql", "SELECT YEAR(d) FROM t", "sql", "CAST(STRFTIME('%Y'"),
    ("right", "postgres", "SELECT RIGHT(name, 2) FROM t", "sql", 'SUBSTRING("t"."name", -2)'),
    ("left", "mysql", "SELECT LEFT(name, 2) FROM t", "sql", 'SUBSTRING("t"."name", 1, 2)'),
    (
        "mysql length is bytes",
        "mysql",
        "SELECT LENGTH(name) FROM t",
        "sql",
        'LENGTH(CAST("t"."name" AS BLOB))',
    ),
    (
        "mysql names ignore case",
        "mysql",
        "SELECT `Name` FROM `t` WHERE `ID` = 1",
        "sql",
        '"t"."name"',
    ),
]

TO_POSTGRES: list[tuple[str, str, str, str]] = [
    ("like ignores ascii case", "SELECT id FROM t WHERE name LIKE 'al%'", "sql", "ILIKE 'al%'"),
    ("like without escape", "SELECT id FROM t WHERE name LIKE 'a\\b'", "sql", "ESCAPE ''"),
    (
        "like non-ascii",
        "SELECT id FROM t WHERE name LIKE 'é%'",
        "refuse",
        "only a literal ASCII pattern",
    ),
    (
        "like a column",
        "SELECT id FROM t WHERE name LIKE d",
        "refuse",
        "only a literal ASCII pattern",
    ),
    (
        "cast a real to int",
        "SELECT CAST(x AS INT) FROM t",
        "refuse",
        "CAST to an integer truncates",
    ),
    ("scalar max", "SELECT max(x, id) FROM t", "refuse", "GREATEST returns NULL for NULL"),
    ("negative substr", "SELECT substr(name, -2) FROM t", "refuse", "negative start"),
]


def _check(governed: GovernedSQL, sql: str, expect: str, fragment: str) -> None:
    if expect == "refuse":
        with pytest.raises(PolicyViolation) as info:
            governed.govern(sql, WHO)
        assert info.value.rule == "sql.transpile", str(info.value)
        assert fragment in str(info.value)
    else:
        assert fragment in governed.govern(sql, WHO).sql


@pytest.mark.parametrize(
    ("source", "sql", "expect", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in TO_SQLITE],
)
def test_written_for_sqlite(
    sqlite_url: str, source: str, sql: str, expect: str, fragment: str
) -> None:
    with _governed(sqlite_url, source) as governed:
        _check(governed, sql, expect, fragment)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "expect", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in TO_POSTGRES]
)
def test_written_for_postgres(pg_t: str, sql: str, expect: str, fragment: str) -> None:
    with _governed(pg_t, "sqlite") as governed:
        _check(governed, sql, expect, fragment)


@pytest.mark.parametrize(
    ("source", "target", "sql", "refused"),
    [
        ("postgres", "mysql", "SELECT GREATEST(a, b) FROM t", True),
        ("postgres", "mysql", "SELECT GREATEST(1, 2) FROM t", False),
        ("sqlite", "postgres", "SELECT max(a, b) FROM t", True),
        ("postgres", "sqlite", "SELECT GREATEST(a, b) FROM t", False),  # sqlglot adds COALESCE
        ("mysql", "postgres", "SELECT LEAST(a, b) FROM t", True),
    ],
)
def test_greatest_and_null_arguments(source: str, target: str, sql: str, refused: bool) -> None:
    tree = faithful(sqlglot.parse_one(sql, read=source), source, target)
    problem = unfaithful(tree, target, source=source)
    assert (problem is not None) is refused, problem


def test_a_policy_expression_is_checked_whatever_its_source() -> None:
    mask = sqlglot.parse_one("SUBSTR(ssn, -4)")
    assert unfaithful(mask, "postgres") is not None
    assert unfaithful(mask, "sqlite") is None


# --- the claims, on the engines --------------------------------------------------------------

PATTERNS = ["Al%", "al%", "%x", "a\\%b", "a\\_b", "a*b", "a[b", "_lpha", "%lph%", "a\\\\b"]


@pytest.mark.postgres
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("op", ["LIKE", "NOT LIKE", "ILIKE"])
def test_postgres_like_means_the_same_on_sqlite(
    pg_t: str, sqlite_url: str, op: str, pattern: str
) -> None:
    sql = f"SELECT id FROM t WHERE name {op} '{pattern}' ORDER BY id"
    want = _raw(pg_t, sql)
    with _governed(sqlite_url, "postgres") as governed:
        got = governed.run(sql, WHO)
    assert got.rows == want, got.sql


@pytest.mark.postgres
@pytest.mark.parametrize("pattern", [*PATTERNS, "%LPHA%", "émile"])
@pytest.mark.parametrize("op", ["LIKE", "NOT LIKE"])
def test_sqlite_like_means_the_same_on_postgres(
    pg_t: str, sqlite_url: str, op: str, pattern: str
) -> None:
    sql = f"SELECT id FROM t WHERE name {op} '{pattern}' ORDER BY id"
    want = _raw(sqlite_url, sql)
    with _governed(pg_t, "sqlite") as governed:
        if not pattern.isascii():
            with pytest.raises(PolicyViolation):
                governed.run(sql, WHO)
            return
        got = governed.run(sql, WHO)
    assert got.rows == want, got.sql


@pytest.mark.postgres
@pytest.mark.parametrize(
    "expression",
    [
        "EXTRACT(YEAR FROM d)",
        "EXTRACT(MONTH FROM d)",
        "EXTRACT(DAY FROM d)",
        "RIGHT(name, 2)",
        "LEFT(name, 3)",
        "TO_CHAR(d, 'YYYY-MM-DD')",
        "TO_CHAR(d, 'YYYY/MM')",
        "CAST(CAST(id * 7 AS TEXT) AS INT)",
    ],
)
def test_postgres_functions_mean_the_same_on_sqlite(
    pg_t: str, sqlite_url: str, expression: str
) -> None:
    sql = f"SELECT id, {expression} FROM t ORDER BY id"
    want = _raw(pg_t, sql)
    with _governed(sqlite_url, "postgres") as governed:
        got = governed.run(sql, WHO)
    assert _norm(got.rows) == _norm(want), got.sql


@pytest.mark.mysql
@pytest.mark.parametrize(
    "expression",
    [
        "DATE_FORMAT(d, '%Y-%m-%d %H:%i:%s')",
        "DATE_FORMAT(d, '%j %w %T')",
        "YEAR(d)",
        "MONTH(d)",
        "LENGTH(name)",
        "RIGHT(name, 2)",
        "LEFT(name, 2)",
        "CAST(COUNT(*) AS DECIMAL)",
    ],
)
def test_mysql_functions_mean_the_same_on_sqlite(
    mysql_t: str, sqlite_url: str, expression: str
) -> None:
    group = " GROUP BY id" if "COUNT" in expression else ""
    sql = f"SELECT id, {expression} FROM t{group} ORDER BY id"
    want = _raw(mysql_t, sql)
    with _governed(sqlite_url, "mysql") as governed:
        got = governed.run(sql, WHO)
    assert _norm(got.rows) == _norm(want), got.sql


@pytest.mark.postgres
@pytest.mark.mysql
def test_the_refusals_guard_real_differences(pg_t: str, mysql_t: str, sqlite_url: str) -> None:
    sqlite_rows = _raw(sqlite_url, "SELECT CAST(3.7 AS INT), max(1, NULL), substr('abcdef', -2)")
    assert sqlite_rows == [(3, None, "ef")]
    pg_rows = _raw(pg_t, "SELECT CAST(3.7 AS INT), GREATEST(1, NULL), substr('abcdef', -2)")
    assert pg_rows == [(4, 1, "abcdef")]
    my_rows = _raw(
        mysql_t, "SELECT CAST(3.7 AS SIGNED), DATE_FORMAT('2012-03-05', '%M'), LENGTH('é')"
    )
    assert my_rows == [(4, "March", 2)]
    lite = _raw(
        sqlite_url, "SELECT strftime('%B', '2012-03-05'), length('é'), CAST('1:2' AS INTERVAL)"
    )
    assert lite == [(None, 1, 1)]


@pytest.mark.postgres
def test_a_row_filter_keeps_its_meaning_whatever_the_statement_dialect(pg_t: str) -> None:
    catalog = _catalog()
    catalog.add_row_filter("table:t", "name LIKE 'A%'")
    with SQLDatabase(pg_t) as db:
        governed = GovernedSQL(db, catalog, audit=AuditLog.memory(), dialect="sqlite")
        result = governed.run("SELECT id FROM t WHERE name LIKE 'a%' ORDER BY id", WHO)
    assert result.rows == [(1,), (3,)]  # the statement's LIKE ignores case; the filter's not
    assert "name LIKE 'A%'" in result.sql
