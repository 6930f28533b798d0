"""Attacks on governed SQL end refused, stopped or harmless — audited, the database unchanged.

A fast, representative subset of ``benchmarks/sql_attacks.py``: stacked statements,
comments, unicode tricks, ATTACH, PRAGMA, extensions and files, system tables, VACUUM,
savepoints, writes of every kind, DDL, injected WHERE clauses, reads past the grants,
and bombs — on SQLite, the most dangerous also on PostgreSQL.

Each attack runs as a region-filtered analyst on two twin databases that differ only in
what the analyst may not see (the hidden part of each ``ssn``, other regions' rows,
``employees.salary``, the ``secrets`` table). The invariants:

- the outcome is one the attack allows: refused (``PolicyViolation`` naming a rule),
  stopped (``SQLError`` / ``SQLTimeout``, soon after the time limit) or harmless;
- the twins answer alike, and no hidden marker shows in any cell, name or message;
- the call wrote ``start``, ``decision`` (deny for a refusal) and ``end`` / ``error``,
  and the JSONL audit chain verifies;
- the database is unchanged: SQLite file sha256 and directory listing, PostgreSQL
  relations and row digests of the schema.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crossroads.audit import AuditEvent, AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import PolicyViolation, SQLError, SQLTimeout
from crossroads.policy import Catalog
from crossroads.tools.sql import GovernedSQL

TIMEOUT_S = 0.5
LATE_S = TIMEOUT_S * 1.5 + 1.0
"""A statement still running this long after governance let it through outlived its limit."""

SCHEMA = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, region TEXT)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL, region TEXT)",
    "CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT, ssn TEXT, region TEXT)",
    "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT, dept TEXT, salary INTEGER)",
    "CREATE TABLE secrets (id INTEGER PRIMARY KEY, token TEXT)",
)
POLICY = {
    "version": 1,
    "principals": {"analyst": {"groups": ["analysts"], "attributes": {"region": "EU"}}},
    "grants": [
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:users"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:orders"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:patients"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "column:employees.id"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "column:employees.name"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "column:employees.dept"},
    ],
    "row_filters": [
        {"on": f"table:{t}", "where": "region = :region"} for t in ("users", "orders", "patients")
    ],
    "column_masks": [{"on": "column:patients.ssn", "mask": "'***-**-' || SUBSTR(ssn, 8, 4)"}],
}
MARKERS = ("731-94", "914-27", "USONLY", "TOPSECRET", "268-05", "356-81", "OTHER-TENANT")


def twin_rows(twin: str) -> dict[str, list[tuple[Any, ...]]]:
    """Twin ``a`` or ``b``: identical wherever the analyst may look."""
    a = twin == "a"
    hidden = 2 if a else 3
    seen, other = ("731-94", "914-27") if a else ("268-05", "356-81")
    salary = (lambda i: 40_000 + 1_000 * i) if a else (lambda i: 40_000 + 1_000 * ((5 * i) % 13))
    return {
        "users": [(i, f"user-{i}", f"user-{i}@eu.example", "EU") for i in range(1, 11)]
        + [(100 + i, f"USONLY-{twin}-{i}", f"us-{i}@us.example", "US") for i in range(hidden)],
        "orders": [(i, 1 + i % 10, float(i % 50), "EU") for i in range(1, 121)]
        + [(1000 + i, 100, 9000.0 + i, "US") for i in range(hidden)],
        "patients": [(i, f"patient-{i}", f"{seen}-{i:04d}", "EU") for i in range(1, 6)]
        + [(100 + i, f"USONLY-{twin}-p{i}", f"{other}-{i:04d}", "US") for i in range(hidden)],
        "employees": [
            (i, f"employee-{i}", ("sales", "it")[i % 2], salary(i)) for i in range(1, 13)
        ],
        "secrets": [(i, f"TOPSECRET-{twin}-{i}") for i in range(hidden)],
    }


# --- attacks ------------------------------------------------------------------------------

REFUSED = frozenset({"refused"})
HARMLESS = frozenset({"harmless"})
ANY = frozenset({"refused", "stopped", "harmless"})
BOMB = ANY


@dataclass(frozen=True, slots=True)
class Attack:
    """One attack and the outcomes it may have."""

    sql: str
    expect: frozenset[str]
    twins: bool = True
    """Also run on twin b and compare (bombs only need to stop: one run)."""


SQLITE_ATTACKS: dict[str, Attack] = {
    # stacked statements and comments
    "stacked drop": Attack("SELECT id FROM users; DROP TABLE users", REFUSED),
    "stacked read of secrets": Attack("SELECT 1; SELECT token FROM secrets", REFUSED),
    "line comment hides nothing": Attack("SELECT 1 -- \n; DELETE FROM orders", REFUSED),
    "block comment before a write": Attack("/* SELECT 1 */ DROP TABLE users", REFUSED),
    "comment closer inside a line comment": Attack(
        "SELECT 1 -- */ UNION SELECT token FROM secrets",
        HARMLESS,
    ),
    "savepoint around a delete": Attack("SAVEPOINT a; DELETE FROM orders; RELEASE a", REFUSED),
    # unicode
    "fullwidth keywords": Attack("ＳＥＬＥＣＴ token ＦＲＯＭ secrets", REFUSED),
    "homoglyph table name": Attack("SELECT * FROM sеcrets", REFUSED),
    "zero-width space in a keyword": Attack("SEL\u200bECT token FROM secrets", REFUSED),
    "zero-width space before a stacked drop": Attack(
        "SELECT id FROM users\u200b; DROP TABLE users",
        REFUSED,
    ),
    "right-to-left override": Attack(
        "SELECT id FROM users WHERE name = '\u202e' || (SELECT token FROM secrets)",
        REFUSED,
    ),
    "right-to-left text is data": Attack("SELECT '\u202e;ELBAT PORD' AS x", HARMLESS),
    "nul byte before a stacked drop": Attack("SELECT 1\x00; DROP TABLE users", REFUSED),
    # ATTACH, PRAGMA, extensions, files
    "attach a new file": Attack("ATTACH DATABASE '{dir}/evil.db' AS evil", REFUSED),
    "detach main": Attack("DETACH DATABASE main", REFUSED),
    "pragma writable_schema": Attack("PRAGMA writable_schema = 1", REFUSED),
    "pragma query_only off": Attack("PRAGMA query_only = 0", REFUSED),
    "pragma journal_mode wal": Attack("PRAGMA journal_mode = WAL", REFUSED),
    "pragma user_version": Attack("PRAGMA user_version = 7", REFUSED),
    "pragma table-valued function": Attack("SELECT * FROM pragma_table_info('secrets')", REFUSED),
    "load_extension": Attack("SELECT load_extension('/tmp/evil.so')", REFUSED),
    "quoted load_extension": Attack("SELECT \"load_extension\"('/tmp/evil.so')", REFUSED),
    "readfile": Attack("SELECT readfile('/etc/passwd')", REFUSED),
    "writefile": Attack("SELECT writefile('{dir}/dropped.txt', 'x')", REFUSED),
    # system tables: no grant names them
    "sqlite_master": Attack("SELECT * FROM sqlite_master", REFUSED),
    "sqlite_schema": Attack("SELECT sql FROM sqlite_schema", REFUSED),
    "sqlite_temp_master": Attack("SELECT * FROM sqlite_temp_master", REFUSED),
    "sqlite_master in a union": Attack(
        "SELECT id, name, email FROM users UNION SELECT 1, name, sql FROM sqlite_master",
        REFUSED,
    ),
    "sqlite_master behind a nested cte of its name": Attack(
        "SELECT m.sql FROM sqlite_master AS m, (WITH sqlite_master AS (SELECT 1 AS x) SELECT x "
        "FROM sqlite_master) AS q",
        REFUSED,
    ),
    # VACUUM, transactions, SELECT INTO
    "vacuum": Attack("VACUUM", REFUSED),
    "vacuum into a file": Attack("VACUUM INTO '{dir}/copy.db'", REFUSED),
    "savepoint": Attack("SAVEPOINT s1", REFUSED),
    "begin immediate": Attack("BEGIN IMMEDIATE", REFUSED),
    "select into": Attack("SELECT * INTO stolen FROM users", REFUSED),
    # writes and DDL
    "data-modifying cte": Attack(
        "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d",
        REFUSED,
    ),
    "insert select": Attack("INSERT INTO users SELECT * FROM users", REFUSED),
    "replace into": Attack("REPLACE INTO users VALUES (1, 'x', 'x', 'EU')", REFUSED),
    "upsert": Attack(
        "INSERT INTO users VALUES (1, 'x', 'x', 'EU') ON CONFLICT(id) DO UPDATE SET name = "
        "excluded.name",
        REFUSED,
    ),
    "update from secrets": Attack("UPDATE users SET name = (SELECT token FROM secrets)", REFUSED),
    "create trigger": Attack(
        "CREATE TRIGGER t AFTER INSERT ON users BEGIN DELETE FROM users; END",
        REFUSED,
    ),
    "create view": Attack("CREATE VIEW v AS SELECT * FROM secrets", REFUSED),
    "create temp table": Attack("CREATE TEMP TABLE t AS SELECT * FROM secrets", REFUSED),
    # reads past the grants
    "ungranted table": Attack("SELECT * FROM secrets", REFUSED),
    "ungranted table in a union": Attack(
        "SELECT id, name, email FROM users UNION SELECT id, token, token FROM secrets",
        REFUSED,
    ),
    "ungranted table behind a nested cte of its name": Attack(
        "SELECT s.token FROM secrets AS s WHERE EXISTS (WITH secrets AS (SELECT 1 AS x) SELECT "
        "x FROM secrets)",
        REFUSED,
    ),
    "ungranted column": Attack("SELECT salary FROM employees", REFUSED),
    "ungranted column behind a nested cte": Attack(
        "SELECT e.salary FROM employees AS e, (WITH employees AS (SELECT 1 AS x) SELECT x FROM "
        "employees) AS q",
        REFUSED,
    ),
    # what a naive application builds: harmless within the grants
    "injected or into a where string": Attack(
        "SELECT id, name, ssn FROM patients WHERE name = '' OR '1'='1'",
        HARMLESS,
    ),
    "injected or with a comment": Attack(
        "SELECT id, name, ssn FROM patients WHERE name = '' OR 1=1 --'",
        HARMLESS,
    ),
    "injected union of secrets into a where string": Attack(
        "SELECT id, name, ssn FROM patients WHERE name = '' UNION SELECT id, token, token FROM "
        "secrets --'",
        REFUSED,
    ),
    "appended or": Attack("SELECT id, name, email FROM users WHERE id = 1 OR 1=1", HARMLESS),
    "appended stacked drop": Attack(
        "SELECT id, name, email FROM users WHERE id = 1; DROP TABLE users --",
        REFUSED,
    ),
    "other region asked for": Attack("SELECT * FROM users WHERE region = 'US'", HARMLESS),
    "masked column sorted": Attack("SELECT id, ssn FROM patients ORDER BY ssn DESC", HARMLESS),
    "granted columns of a narrowed table": Attack("SELECT * FROM employees", HARMLESS),
    "ORDER BY through an alias named like a hidden column": Attack(
        "SELECT id AS salary FROM employees ORDER BY salary + 0",
        HARMLESS,
    ),
    "parentheses nested 60 deep": Attack("SELECT " + "(" * 60 + "1" + ")" * 60, ANY),
    # bombs: stopped by the timeout, the row cap or the value-size limit
    "recursive cte count": Attack(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
        BOMB,
        twins=False,
    ),
    "recursive cte rows": Attack(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c",
        BOMB,
        twins=False,
    ),
    "recursive string doubling": Attack(
        "WITH RECURSIVE c(x, s) AS (SELECT 1, 'a' UNION ALL SELECT x+1, s || s FROM c) SELECT "
        "max(length(s)) FROM c",
        BOMB,
        twins=False,
    ),
    "cross join": Attack(
        "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e",
        BOMB,
        twins=False,
    ),
    "zeroblob": Attack("SELECT zeroblob(1000000000)", BOMB, twins=False),
    "hex of zeroblob": Attack("SELECT replace(hex(zeroblob(1e9)), '00', 'x')", BOMB, twins=False),
    "randomblob": Attack("SELECT randomblob(1000000000)", BOMB, twins=False),
    "printf width": Attack("SELECT printf('%.*c', 1000000000, 'x')", BOMB, twins=False),
}

PG_ATTACKS: dict[str, Attack] = {
    "stacked drop": Attack("SELECT id FROM users; DROP TABLE users", REFUSED),
    "data-modifying cte": Attack(
        "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d",
        REFUSED,
    ),
    "copy to a program": Attack("COPY (SELECT * FROM secrets) TO PROGRAM 'id'", REFUSED),
    "do block": Attack("DO $$ BEGIN DELETE FROM orders; END $$", REFUSED),
    "set read-write": Attack("SET default_transaction_read_only = off", REFUSED),
    "set role": Attack("SET ROLE postgres", REFUSED),
    "set_config": Attack(
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        REFUSED,
    ),
    "pg_read_file": Attack("SELECT pg_read_file('/etc/passwd')", REFUSED),
    "lo_import": Attack("SELECT lo_import('/etc/passwd')", REFUSED),
    "dblink": Attack("SELECT dblink('host=127.0.0.1', 'DELETE FROM orders')", REFUSED),
    "pg_sleep": Attack("SELECT pg_sleep(10)", REFUSED),
    "row locks": Attack("SELECT * FROM users FOR UPDATE", REFUSED),
    "lock table": Attack("LOCK TABLE users", REFUSED),
    "truncate": Attack("TRUNCATE orders", REFUSED),
    "prepare a delete": Attack("PREPARE p AS DELETE FROM orders", REFUSED),
    "select into": Attack("SELECT * INTO stolen FROM users", REFUSED),
    "create temp table": Attack("CREATE TEMP TABLE t AS SELECT * FROM secrets", REFUSED),
    "ungranted table": Attack("SELECT * FROM secrets", REFUSED),
    "pg_authid": Attack("SELECT * FROM pg_catalog.pg_authid", REFUSED),
    "pg_authid behind a nested cte of its name": Attack(
        "SELECT a.rolname, a.rolpassword FROM pg_authid AS a, (WITH pg_authid AS (SELECT 1 AS "
        "y) SELECT y FROM pg_authid) AS q",
        REFUSED,
    ),
    "same table in another schema": Attack("SELECT * FROM {other}.patients", REFUSED),
    "query_to_xml": Attack("SELECT query_to_xml('SELECT * FROM secrets', true, true, '')", REFUSED),
    "cast error shows only the mask": Attack(
        "SELECT CAST(ssn AS INT) FROM patients",
        frozenset({"stopped"}),
    ),
    "injected or into a where string": Attack(
        "SELECT id, name, ssn FROM patients WHERE name = '' OR '1'='1'",
        HARMLESS,
    ),
    "ORDER BY through an alias named like a hidden column": Attack(
        "SELECT id AS salary FROM employees ORDER BY salary + 0",
        HARMLESS,
    ),
    "whole-row reference to a narrowed table": Attack("SELECT e FROM employees AS e", ANY),
    "field of a whole-row reference": Attack("SELECT (e).salary FROM employees AS e", ANY),
    "whole row as text in WHERE": Attack(
        "SELECT id FROM employees AS e WHERE e::text LIKE '%,41000)' ORDER BY id", ANY
    ),
    "column alias list on a narrowed table": Attack(
        "SELECT * FROM employees AS e(a, b, c, d)", ANY
    ),
    "DISTINCT ON through an alias named like a hidden column": Attack(
        "SELECT DISTINCT ON (salary + 0) id AS salary FROM employees", ANY
    ),
    "recursive cte count": Attack(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
        BOMB,
        twins=False,
    ),
    "generate_series": Attack(
        "SELECT count(*) FROM (SELECT generate_series(1, 100000000000)) AS g",
        BOMB,
        twins=False,
    ),
    "cross join": Attack(
        "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e",
        BOMB,
        twins=False,
    ),
}


def _params(backend: str, attacks: dict[str, Attack]) -> list[Any]:
    params = []
    for name, attack in attacks.items():
        marks = [pytest.mark.postgres] if backend == "postgres" else []
        params.append(pytest.param(attack, id=name, marks=marks))
    return params


# --- the databases -------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """What one call did."""

    kind: str
    detail: str
    message: str = ""
    columns: tuple[str, ...] = ()
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    seconds: float = 0.0
    events: list[AuditEvent] = field(default_factory=list)

    def answer(self, home: str) -> tuple[Any, ...]:
        """What must be the same on both twins (the twin's own directory left out)."""
        if self.kind == "harmless":
            return (self.columns, [tuple(repr(v) for v in r) for r in self.rows])
        words = self.message.split("\n  SQL:", 1)[0].replace(home, "<dir>")
        return (self.kind, self.detail, words)


@dataclass(slots=True)
class Twin:
    """A twin database: how to reach it, and how to tell whether it changed."""

    url: str
    fingerprint: Callable[[], Any]
    home: str
    """The SQLite file's directory, or the PostgreSQL schema."""


class Governed:
    """The governed tool on one twin, with a JSONL audit log."""

    def __init__(self, twin: Twin, audit_path: Path) -> None:
        self.twin = twin
        self.audit = AuditLog(audit_path, durability="flush")
        self.db = SQLDatabase(twin.url, timeout_s=TIMEOUT_S)
        catalog = Catalog.from_dict(POLICY)
        self.tool = GovernedSQL(self.db, catalog, audit=self.audit, timeout_s=TIMEOUT_S)
        self.principal = catalog.principal("analyst")

    def run(self, sql: str) -> Outcome:
        before = len(self.audit.events())
        start = time.perf_counter()
        try:
            res = self.tool.run(sql, self.principal)
        except PolicyViolation as exc:
            out = Outcome("refused", exc.rule or "", str(exc))
        except SQLError as exc:
            out = Outcome("stopped", type(exc).__name__, str(exc))
        except Exception as exc:  # the invariants say what went wrong
            out = Outcome("crash", type(exc).__name__, repr(exc))
        else:
            out = Outcome("harmless", "", "", tuple(res.columns), list(res.rows))
        out.seconds = time.perf_counter() - start
        out.events = self.audit.events()[before:]
        return out

    def close(self) -> None:
        self.db.close()
        self.audit.close()


def _sqlite_fingerprint(path: Path) -> Callable[[], Any]:
    def fingerprint() -> Any:
        return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(os.listdir(path.parent))

    return fingerprint


@pytest.fixture(scope="module")
def sqlite_twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Twin]:
    twins = {}
    for name in ("a", "b"):
        home = tmp_path_factory.mktemp(f"twin-{name}")
        path = home / "shop.sqlite"
        con = sqlite3.connect(path)
        for statement in SCHEMA:
            con.execute(statement)
        for table, rows in twin_rows(name).items():
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        con.commit()
        con.close()
        twins[name] = Twin(f"sqlite:///{path}", _sqlite_fingerprint(path), str(home))
    return twins


def _pg_fingerprint(pg_url: str, schema: str) -> Callable[[], Any]:
    def fingerprint() -> Any:
        engine = create_engine(pg_url)
        try:
            with engine.connect() as conn:
                relations = conn.execute(
                    text(
                        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE n.nspname = :s ORDER BY 1"
                    ),
                    {"s": schema},
                ).all()
                digest = "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t"
                digests = [
                    conn.execute(text(digest.format(f"{schema}.{r}"))).scalar()
                    for r, kind in relations
                    if kind == "r"
                ]
        finally:
            engine.dispose()
        return relations, digests

    return fingerprint


@pytest.fixture(scope="module")
def pg_twins(pg_url: str) -> Iterator[dict[str, Twin]]:
    prefix = f"attacks_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url)
    twins = {}
    try:
        for name in ("a", "b", "other"):
            schema = f"{prefix}_{name}"
            with engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
                conn.execute(text(f"SET LOCAL search_path TO {schema}"))
                for statement in SCHEMA:
                    conn.execute(text(statement.replace(" REAL", " DOUBLE PRECISION")))
                rows = twin_rows("a" if name == "other" else name)
                if name == "other":
                    rows["patients"] = [(1, "OTHER-TENANT", "OTHER-TENANT-SSN", "EU")]
                for table, values in rows.items():
                    marks = ", ".join(f":c{i}" for i in range(len(values[0])))
                    conn.execute(
                        text(f"INSERT INTO {table} VALUES ({marks})"),
                        [{f"c{i}": v for i, v in enumerate(row)} for row in values],
                    )
            url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
            twins[name] = Twin(
                url.render_as_string(hide_password=False), _pg_fingerprint(pg_url, schema), schema
            )
        yield twins
    finally:
        with engine.begin() as conn:
            for name in ("a", "b", "other"):
                conn.execute(text(f"DROP SCHEMA IF EXISTS {prefix}_{name} CASCADE"))
        engine.dispose()


# --- the invariants ------------------------------------------------------------------------


def _check(out: Outcome, attack: Attack, sql: str, twin: str) -> None:
    where = f"twin {twin}: {out.kind} {out.detail} {out.message[:300]}"
    assert out.kind in attack.expect, where
    want = ["start", "decision", "end" if out.kind == "harmless" else "error"]
    assert [e.stage for e in out.events] == want, where
    decision = out.events[1].decision
    assert decision is not None
    assert decision.allowed is (out.kind != "refused"), where
    if out.kind == "refused":
        assert out.detail, where
        assert decision.rule == out.detail
    if out.kind == "stopped":
        assert out.message.strip(), where
    governance_s = (out.events[1].latency_ms or 0) / 1000
    assert out.seconds - governance_s < LATE_S, f"{where}: took {out.seconds:.1f} s"
    shown = "\n".join(
        [out.message, *out.columns, *(str(v) for row in out.rows for v in row)]
    ).lower()
    leaked = [m for m in MARKERS if m.lower() in shown and m.lower() not in sql.lower()]
    assert not leaked, f"{where}: hidden values shown: {leaked}"


def _attack(twins: dict[str, Twin], attack: Attack, tmp_path: Path) -> None:
    names = ("a", "b") if attack.twins else ("a",)
    before = {n: twins[n].fingerprint() for n in names}
    outcomes = {}
    for name in names:
        governed = Governed(twins[name], tmp_path / f"audit-{name}.jsonl")
        try:
            sql = attack.sql.replace("{dir}", twins[name].home)
            if "other" in twins:
                sql = sql.replace("{other}", twins["other"].home)
            outcomes[name] = governed.run(sql)
            _check(outcomes[name], attack, sql, name)
            assert governed.audit.verify().ok
        finally:
            governed.close()
    if attack.twins:
        a, b = (outcomes[n].answer(twins[n].home) for n in ("a", "b"))
        assert a == b, "the answer depends on data the analyst may not see"
    for name in names:
        assert twins[name].fingerprint() == before[name], f"twin {name} changed"


@pytest.mark.parametrize("attack", _params("sqlite", SQLITE_ATTACKS))
def test_sqlite_attack(sqlite_twins: dict[str, Twin], attack: Attack, tmp_path: Path) -> None:
    _attack(sqlite_twins, attack, tmp_path)


@pytest.mark.parametrize("attack", _params("postgres", PG_ATTACKS))
def test_postgres_attack(pg_twins: dict[str, Twin], attack: Attack, tmp_path: Path) -> None:
    _attack(pg_twins, attack, tmp_path)


def test_sqlite_timeout_holds_when_each_row_is_expensive(
    sqlite_twins: dict[str, Twin], tmp_path: Path
) -> None:
    """Each row costs a 16 MB hex(): the progress handler alone let this run 5-7 s past
    a 2 s limit; a watchdog interrupts the connection at the deadline."""
    governed = Governed(sqlite_twins["a"], tmp_path / "audit.jsonl")
    try:
        out = governed.run(
            "SELECT sum(length(hex(zeroblob(8000000 + id)))) FROM orders WHERE id <= 80"
        )
    finally:
        governed.close()
    assert out.kind == "stopped", f"returned {out.rows} after {out.seconds:.1f} s"
    assert out.detail == SQLTimeout.__name__
    assert out.seconds < TIMEOUT_S + 0.5


@pytest.mark.postgres
def test_postgres_timeout_bounds_the_validation_too(
    pg_twins: dict[str, Twin], tmp_path: Path
) -> None:
    """PostgreSQL folds constants while planning: the EXPLAIN that validates a statement
    must run under the governed limit too, not the connector's default."""
    catalog = Catalog.from_dict(POLICY)
    audit = AuditLog(tmp_path / "audit.jsonl", durability="flush")
    with SQLDatabase(pg_twins["a"].url) as db:  # the connector's default time limit
        governed = GovernedSQL(db, catalog, audit=audit, timeout_s=TIMEOUT_S)
        start = time.perf_counter()
        with pytest.raises(SQLTimeout):
            governed.run("SELECT length(repeat('x', 200000000))", catalog.principal("analyst"))
        seconds = time.perf_counter() - start
    assert seconds < TIMEOUT_S + 1.0, f"stopped after {seconds:.1f} s"
