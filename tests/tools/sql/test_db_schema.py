"""A connection that reads a named schema (``SQLDatabase(url, schema=...)``): governed
statements read its tables there, and never a table of the same name elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.sql import GovernedSQL

pytestmark = pytest.mark.postgres

WHO = Principal("analyst", attributes={"region": "EU"})


@pytest.fixture(scope="module")
def schemas(pg_url: str) -> Iterator[tuple[str, str]]:
    """Two tenants' schemas with a ``sales`` table each; the second holds other rows."""
    mine, other = (f"tenant_{uuid.uuid4().hex[:8]}" for _ in range(2))
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        for schema, rows in ((mine, "(1, 'EU'), (2, 'EU'), (3, 'US')"), (other, "(9, 'EU')")):
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            conn.execute(text(f"CREATE TABLE {schema}.sales (id INTEGER, region TEXT)"))
            conn.execute(text(f"INSERT INTO {schema}.sales VALUES {rows}"))
    try:
        yield mine, other
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {mine} CASCADE"))
            conn.execute(text(f"DROP SCHEMA {other} CASCADE"))
        engine.dispose()


def _catalog(filtered: bool) -> Catalog:
    catalog = Catalog()
    catalog.add_principal(WHO)
    catalog.grant("SELECT", on="table:sales", to="user:analyst")
    if filtered:
        catalog.add_row_filter("table:sales", "region = :region")
    return catalog


@pytest.mark.parametrize("filtered", [False, True], ids=["plain", "row-filtered"])
def test_the_schema_read_is_the_one_named(
    pg_url: str, schemas: tuple[str, str], filtered: bool
) -> None:

    mine, _ = schemas
    with SQLDatabase(pg_url, schema=mine) as db:
        governed = GovernedSQL(db, _catalog(filtered), audit=AuditLog.memory())
        result = governed.run("SELECT COUNT(*) FROM sales", WHO)
        assert result.rows == [(2 if filtered else 3,)]
        assert f'"{mine}"."sales"' in result.sql
        named = governed.run(f"SELECT COUNT(*) FROM {mine}.sales", WHO)
        assert named.rows == result.rows


def test_a_table_of_another_schema_is_refused(pg_url: str, schemas: tuple[str, str]) -> None:

    mine, other = schemas
    with SQLDatabase(pg_url, schema=mine) as db:
        governed = GovernedSQL(db, _catalog(False), audit=AuditLog.memory())
        with pytest.raises(PolicyViolation) as info:
            governed.run(f"SELECT * FROM {other}.sales", WHO)
        assert info.value.rule == "sql.unknown_table"
        assert "outside the schema" in str(info.value)
