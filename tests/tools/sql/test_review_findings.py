"""Regression tests for the findings of the first security review of governed SQL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import ConfigError, PolicyViolation, SQLError
from crossroads.policy import Catalog, Principal
from crossroads.tools import ToolRunner
from crossroads.tools.sql import GovernedSQL

ANA = Principal("ana", groups=["analysts"])


@pytest.fixture
def db(tmp_path: Path) -> SQLDatabase:
    path = tmp_path / "r.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE staff (id INTEGER PRIMARY KEY, name TEXT, salary INTEGER);"
        "INSERT INTO staff VALUES (1, 'x', 99999);"
    )
    con.commit()
    con.close()
    return SQLDatabase(f"sqlite:///{path}", timeout_s=2)


@pytest.fixture
def catalog() -> Catalog:
    cat = Catalog()
    cat.grant("SELECT", on="table:staff", to="group:analysts")
    return cat


def test_mysql_user_variables_are_refused(db: SQLDatabase, catalog: Catalog) -> None:
    governed = GovernedSQL(db, catalog, audit=AuditLog.memory(), dialect="mysql")
    for sql in (
        "SELECT @leak := GROUP_CONCAT(name) FROM staff",
        "SELECT @leak",
        "SELECT @@version",
    ):
        with pytest.raises(PolicyViolation) as info:
            governed.govern(sql, ANA)
        assert info.value.rule == "sql.variables"


def test_a_denied_dry_run_is_audited(db: SQLDatabase, catalog: Catalog) -> None:
    audit = AuditLog.memory()
    governed = GovernedSQL(db, catalog, audit=audit)
    with pytest.raises(PolicyViolation):
        governed.govern("SELECT secret FROM nowhere", Principal("eve"))
    (event,) = audit.events()
    assert event.name == "sql.govern"
    assert event.decision is not None
    assert not event.decision.allowed


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT printf('%.*c', 2000000000, 'x')",
        "SELECT printf('%5000d', 1)",
        "SELECT printf(name, 1) FROM staff",
    ],
)
def test_printf_bombs_are_refused(db: SQLDatabase, catalog: Catalog, sql: str) -> None:
    governed = GovernedSQL(db, catalog, audit=AuditLog.memory())
    with pytest.raises(PolicyViolation, match="no timeout can interrupt"):
        governed.run(sql, ANA)


@pytest.mark.parametrize(
    "sql", ["SELECT length(zeroblob(1000000000))", "SELECT length(hex(randomblob(100000000)))"]
)
def test_blob_bombs_stop_at_the_length_limit(db: SQLDatabase, sql: str) -> None:
    started = time.monotonic()
    with pytest.raises(SQLError, match="longer than"):
        db.execute(sql)
    assert time.monotonic() - started < 2


def test_the_runner_must_share_the_catalog(db: SQLDatabase, catalog: Catalog) -> None:
    other = ToolRunner(Catalog(), audit=AuditLog.memory())
    with pytest.raises(ConfigError, match="one catalog"):
        GovernedSQL(db, catalog, runner=other)


def test_passes_must_start_with_parsing(db: SQLDatabase, catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="parse_single_statement"):
        GovernedSQL(db, catalog, passes=())


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT id FROM staff WHERE " + " OR ".join(f"name = 'x{i}'" for i in range(2000)),
         "nesting deeper"),
        ("SELECT id FROM staff WHERE id IN (" + ",".join(map(str, range(30_000))) + ")",
         "parse-tree nodes"),
    ],
    ids=["2000-term OR chain", "30000-value IN list"],
)  # fmt: skip
def test_statements_too_large_to_check_quickly_are_refused(
    db: SQLDatabase, catalog: Catalog, sql: str, why: str
) -> None:
    """Governance runs before the statement timeout: a 2,000-term OR took 4.5 s to check."""
    audit = AuditLog.memory()
    governed = GovernedSQL(db, catalog, audit=audit)
    started = time.monotonic()
    with pytest.raises(PolicyViolation, match=why) as info:
        governed.run(sql, ANA)
    assert info.value.rule == "sql.size"
    assert time.monotonic() - started < 2
    assert audit.events()[-1].stage == "error"


def test_a_long_but_reasonable_in_list_still_runs(db: SQLDatabase, catalog: Catalog) -> None:
    governed = GovernedSQL(db, catalog, audit=AuditLog.memory())
    sql = "SELECT name FROM staff WHERE id IN (" + ",".join(map(str, range(5_000))) + ")"
    assert governed.run(sql, ANA).rows == [("x",)]


def test_exact_rewrites_are_reported_and_audited(db: SQLDatabase, catalog: Catalog) -> None:
    """A PostgreSQL statement run on SQLite: LIKE is case-sensitive there, GLOB here."""
    audit = AuditLog.memory()
    governed = GovernedSQL(db, catalog, audit=audit, dialect="postgres")
    query = governed.govern("SELECT name FROM staff WHERE name LIKE 'x%'", ANA)
    assert query.rewrites
    assert any("GLOB" in r for r in query.rewrites)
    assert "GLOB" in query.sql
    governed.run("SELECT name FROM staff WHERE name LIKE 'x%'", ANA)
    decision = next(e for e in audit.events() if e.stage == "decision")
    assert decision.policy is not None
    assert decision.policy["rewrites"] == list(query.rewrites)
