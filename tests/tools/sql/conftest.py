"""A tiny real database — SQLite, and PostgreSQL when CROSSROADS_TEST_PG_URL is set — and
the governance policy for the SQL tool tests."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crossroads.audit import AuditLog

SCHEMA = [
    "CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT, ssn TEXT, region TEXT)",
    "CREATE TABLE sales (id INTEGER PRIMARY KEY, region TEXT, "
    "patient_id INTEGER REFERENCES patients(id), amount REAL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT)",
    "CREATE TABLE ssn_lookup (ssn TEXT PRIMARY KEY, note TEXT)",
    "INSERT INTO patients VALUES (1, 'Ann', '123-45-1111', 'EU'), (2, 'Bo', '987-65-2222', 'US'),"
    " (3, 'Cy', '555-55-3333', 'APAC')",
    "INSERT INTO sales VALUES (1, 'EU', 1, 10.0), (2, 'EU', 2, 20.0), (3, 'EU', NULL, 30.0),"
    " (4, 'US', 2, 40.0), (5, 'US', NULL, 50.0), (6, 'APAC', 3, 50.0)",
    "INSERT INTO orders VALUES (1, 'EU'), (2, 'US'), (3, 'APAC'), (4, 'US')",
    "INSERT INTO ssn_lookup VALUES ('123-45-1111', 'Ann')",
]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "gov.sqlite"
    con = sqlite3.connect(path)
    for statement in SCHEMA:
        con.execute(statement)
    con.commit()
    con.close()
    return path


@pytest.fixture(scope="module")
def pg_gov_url(pg_url: str) -> Iterator[str]:
    """The fixture tables in a schema of their own, reached through search_path."""
    schema = f"gov_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"SET search_path TO {schema}"))
        for statement in SCHEMA:
            conn.execute(text(statement))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('db_path')}"
    return str(request.getfixturevalue("pg_gov_url"))


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog.memory()
