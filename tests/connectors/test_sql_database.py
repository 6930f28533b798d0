"""SQLDatabase against real databases: SQLite (file and in-memory), PostgreSQL, MariaDB.

``TestSQLBackendConformance`` is the shared suite every SQLBackend must pass:
add a :class:`Backend` to ``BACKENDS`` to run it against another database.
The tests after it cover what is particular to one database.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool

from crossroads.connectors._sql import SQLDatabase
from crossroads.connectors._sql_engine import sqlglot_dialect
from crossroads.connectors._sql_guard_mysql import MySQLGuard
from crossroads.connectors._sql_guard_postgres import first_keyword
from crossroads.connectors._sql_guards import GenericGuard
from crossroads.connectors.base import QueryResult, SQLBackend
from crossroads.errors import (
    ConfigError,
    ConnectorError,
    MissingDependency,
    SQLError,
    SQLTimeout,
)

# --- the fixture database, written through a plain SQLAlchemy engine ---------------------

metadata = sa.MetaData()
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("region", sa.String(10)),
)
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("amount", sa.Numeric(10, 2)),
    sa.Column("status", sa.String(20)),
)
# A name that must be quoted everywhere: spaces and capitals.
line_items = sa.Table(
    "Line Items",
    metadata,
    sa.Column("Item Id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("Order Id", sa.Integer, sa.ForeignKey("orders.id")),
    sa.Column("Unit Price", sa.Numeric(10, 2)),
)
VIEW = "CREATE VIEW big_orders AS SELECT id, customer_id, amount FROM orders WHERE amount > 100"

CUSTOMERS = [(1, "Ada", "EU"), (2, "Bob", "US"), (3, "Cy", "EU")]
ORDERS = [
    (1, 1, Decimal("50.00"), "open"),
    (2, 1, Decimal("150.00"), "shipped"),
    (3, 2, Decimal("300.00"), "shipped"),
    (4, 3, Decimal("20.00"), None),
    (5, 3, Decimal("120.00"), "open"),
]
LINE_ITEMS = [(1, 2, Decimal("75.00")), (2, 2, Decimal("75.00")), (3, 3, Decimal("9.99"))]

# A billion rows if fetched to the end (a cross join of three 1000-row CTEs).
HUGE = (
    "WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 999) "
    "SELECT a.n * 1000000 + b.n * 1000 + c.n AS x FROM d a, d b, d c"
)
SQLITE_SLOW = (
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) "
    "SELECT count(*) FROM r"
)


def populate(writer: Engine) -> None:
    """(Re)create the fixture tables and view and fill them."""
    teardown(writer)
    metadata.create_all(writer)
    with writer.begin() as conn:
        conn.execute(
            customers.insert(),
            [dict(zip(("id", "name", "region"), r, strict=True)) for r in CUSTOMERS],
        )
        conn.execute(
            orders.insert(),
            [dict(zip(("id", "customer_id", "amount", "status"), r, strict=True)) for r in ORDERS],
        )
        conn.execute(
            line_items.insert(),
            [dict(zip(("Item Id", "Order Id", "Unit Price"), r, strict=True)) for r in LINE_ITEMS],
        )
        conn.execute(sa.text(VIEW))


def teardown(writer: Engine) -> None:
    """Drop the fixture objects (leaving whatever else the database holds)."""
    with writer.begin() as conn:
        conn.execute(sa.text("DROP VIEW IF EXISTS big_orders"))
    metadata.drop_all(writer)


def snapshot(writer: Engine) -> tuple[set[str], int, int]:
    """Table names and row counts, to show that nothing changed."""
    with writer.connect() as conn:
        n_customers = conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one()
        n_orders = conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one()
    return set(sa.inspect(writer).get_table_names()), n_customers, n_orders


# --- backends ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """How to stand up one database for the conformance suite."""

    id: str
    dialect: str
    slow_sql: str
    """A statement that runs for seconds unless cancelled."""
    make: Callable[[pytest.FixtureRequest, Path], tuple[Engine, str | Engine]]
    """Returns (writer engine, what to hand to SQLDatabase)."""
    lock: tuple[str, ...] = ()
    """Statements after which the writer's open transaction blocks readers of customers."""
    marks: tuple[pytest.MarkDecorator, ...] = ()


def _sqlite_file(request: pytest.FixtureRequest, tmp: Path) -> tuple[Engine, str | Engine]:
    url = f"sqlite:///{tmp / 'shop.db'}"
    return sa.create_engine(url), url


def _sqlite_memory(request: pytest.FixtureRequest, tmp: Path) -> tuple[Engine, str | Engine]:
    # One shared connection: the only way an in-memory database outlives a checkout.
    engine = sa.create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    return engine, engine


def _server(fixture: str) -> Callable[[pytest.FixtureRequest, Path], tuple[Engine, str]]:
    def make(request: pytest.FixtureRequest, tmp: Path) -> tuple[Engine, str]:
        url: str = request.getfixturevalue(fixture)
        return sa.create_engine(url), url

    return make


BACKENDS = [
    Backend("sqlite-file", "sqlite", SQLITE_SLOW, _sqlite_file, ("BEGIN EXCLUSIVE",)),
    Backend("sqlite-memory", "sqlite", SQLITE_SLOW, _sqlite_memory),
    Backend(
        "postgres",
        "postgres",
        "SELECT pg_sleep(5)",
        _server("pg_url"),
        ("BEGIN", "LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"),
        (pytest.mark.postgres,),
    ),
    Backend(
        "mariadb",
        "mysql",
        "SELECT SLEEP(5)",
        _server("mysql_url"),
        ("LOCK TABLES customers WRITE",),
        (pytest.mark.mysql,),
    ),
]


@dataclass(frozen=True)
class Env:
    """A populated database: the connector under test, and a writer to check it with."""

    db: SQLDatabase
    writer: Engine
    backend: Backend


@pytest.fixture(
    scope="module",
    params=[pytest.param(b, id=b.id, marks=b.marks) for b in BACKENDS],
)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    backend: Backend = request.param
    writer, target = backend.make(request, tmp_path_factory.mktemp(backend.id))
    try:
        populate(writer)
        db = SQLDatabase(target, max_rows=100, timeout_s=5.0)
        try:
            yield Env(db, writer, backend)
        finally:
            db.close()
        teardown(writer)
    finally:
        writer.dispose()


WRITES = {
    "insert": "INSERT INTO customers (id, name, region) VALUES (9, 'Eve', 'EU')",
    "update": "UPDATE customers SET region = 'XX'",
    "delete": "DELETE FROM orders",
    "create-table": "CREATE TABLE intruder (id INTEGER)",
    "drop-table": "DROP TABLE orders",
    "drop-view": "DROP VIEW big_orders",
    "create-index": "CREATE INDEX ix_region ON customers (region)",
}


class TestSQLBackendConformance:
    """What every SQLBackend does, checked on each backend in ``BACKENDS``."""

    def test_is_an_sql_backend(self, env: Env) -> None:
        assert isinstance(env.db, SQLBackend)
        assert env.db.dialect == env.backend.dialect

    def test_schema_has_tables_and_views(self, env: Env) -> None:
        schema = env.db.schema()
        assert {"customers", "orders", "line items", "big_orders"} <= set(schema.tables)
        orders_t = schema.table("ORDERS")
        assert orders_t is not None
        assert orders_t.column_names == ("id", "customer_id", "amount", "status")
        assert orders_t.primary_key == ("id",)
        by_name = {c.name: c for c in orders_t.columns}
        assert not by_name["id"].nullable
        assert not by_name["customer_id"].nullable
        assert by_name["status"].nullable
        assert by_name["amount"].type.startswith(("NUMERIC", "DECIMAL"))
        assert all(c.type == c.type.upper() for c in orders_t.columns)
        view = schema.table("big_orders")
        assert view is not None
        assert view.column_names == ("id", "customer_id", "amount")

    def test_schema_has_foreign_keys(self, env: Env) -> None:
        schema = env.db.schema()
        orders_t, items = schema.table("orders"), schema.table("line items")
        assert orders_t is not None
        assert items is not None
        [fk] = orders_t.foreign_keys
        assert (fk.columns, fk.ref_table, fk.ref_columns) == (
            ("customer_id",),
            "customers",
            ("id",),
        )
        assert [(f.columns, f.ref_table) for f in items.foreign_keys] == [(("Order Id",), "orders")]
        assert items.name == "Line Items"

    def test_schema_is_cached_until_refresh(self, env: Env) -> None:
        before = env.db.schema()
        assert env.db.schema() is before
        extra = sa.Table("added_later", sa.MetaData(), sa.Column("id", sa.Integer))
        extra.create(env.writer)
        try:
            assert "added_later" not in env.db.schema().tables
            env.db.refresh()
            assert "added_later" in env.db.schema().tables
        finally:
            extra.drop(env.writer)
            env.db.refresh()

    def test_select_returns_columns_and_tuples(self, env: Env) -> None:
        result = env.db.execute("SELECT id, name, region FROM customers ORDER BY id")
        assert isinstance(result, QueryResult)
        assert result.columns == ("id", "name", "region")
        assert result.rows == CUSTOMERS
        assert all(type(r) is tuple for r in result.rows)
        assert not result.truncated
        assert result.elapsed_ms > 0

    def test_aliases_and_empty_results_keep_column_names(self, env: Env) -> None:
        result = env.db.execute("SELECT name AS who, id FROM customers WHERE id < 0")
        assert result.columns == ("who", "id")
        assert result.rows == []
        assert not result.truncated

    def test_row_cap_sets_truncated(self, env: Env) -> None:
        sql = "SELECT id FROM orders ORDER BY id"
        capped = env.db.execute(sql, max_rows=2)
        assert capped.rows == [(1,), (2,)]
        assert capped.truncated
        exact = env.db.execute(sql, max_rows=5)
        assert len(exact.rows) == 5
        assert not exact.truncated

    def test_row_cap_defaults_to_constructor_value(self, env: Env) -> None:
        result = env.db.execute(HUGE)  # max_rows=100 from the fixture
        assert len(result.rows) == 100
        assert result.truncated

    def test_row_cap_does_not_fetch_everything(self, env: Env) -> None:
        start = time.perf_counter()
        result = env.db.execute(HUGE, max_rows=10, timeout_s=5)
        assert len(result.rows) == 10
        assert result.truncated
        assert time.perf_counter() - start < 2.0  # a billion rows would take far longer

    @pytest.mark.parametrize("sql", list(WRITES.values()), ids=list(WRITES))
    def test_writes_are_refused_by_the_database(self, env: Env, sql: str) -> None:
        before = snapshot(env.writer)
        with pytest.raises(SQLError, match="read-only") as info:
            env.db.execute(sql)
        assert not isinstance(info.value, SQLTimeout)
        assert info.value.sql == sql
        assert info.value.__cause__ is not None
        assert snapshot(env.writer) == before
        assert "big_orders" in sa.inspect(env.writer).get_view_names()

    def test_one_statement_per_call(self, env: Env) -> None:
        before = snapshot(env.writer)
        with pytest.raises(SQLError):
            env.db.execute("SELECT 1; DROP TABLE orders")
        with pytest.raises(SQLError):
            env.db.execute("COMMIT; DROP TABLE orders")
        assert snapshot(env.writer) == before

    def test_timeout_cancels_a_long_statement(self, env: Env) -> None:
        start = time.perf_counter()
        with pytest.raises(SQLTimeout, match=r"0\.3 s") as info:
            env.db.execute(env.backend.slow_sql, timeout_s=0.3)
        assert time.perf_counter() - start < 1.3
        assert "timeout_s" in str(info.value)  # says how to raise the limit
        assert isinstance(info.value, TimeoutError)
        # the connection went back to the pool in working order
        assert env.db.execute("SELECT 1 AS one").rows == [(1,)]

    def test_timeout_while_waiting_for_a_lock(self, env: Env) -> None:
        if not env.backend.lock:
            pytest.skip(f"{env.backend.id}: nothing else can lock this database")
        raw = env.writer.raw_connection()
        try:
            cur = raw.cursor()
            for statement in env.backend.lock:
                cur.execute(statement)
            start = time.perf_counter()
            with pytest.raises(SQLTimeout):
                env.db.execute("SELECT count(*) FROM customers", timeout_s=0.3)
            assert time.perf_counter() - start < 1.3
        finally:
            raw.rollback()
            if env.backend.id == "mariadb":
                raw.cursor().execute("UNLOCK TABLES")
            raw.close()
        assert env.db.execute("SELECT count(*) FROM customers").rows == [(3,)]

    def test_syntax_error(self, env: Env) -> None:
        with pytest.raises(SQLError) as info:
            env.db.execute("SELEC name FROM customers")
        assert not isinstance(info.value, SQLTimeout)
        assert info.value.sql == "SELEC name FROM customers"
        assert "SELEC name FROM customers" in str(info.value)

    def test_unknown_table(self, env: Env) -> None:
        with pytest.raises(SQLError, match=r"(?i)nosuch"):
            env.db.execute("SELECT * FROM nosuch")

    def test_usable_after_errors(self, env: Env) -> None:
        for sql in ("SELEC 1", WRITES["insert"], "SELECT * FROM nosuch"):
            with pytest.raises(SQLError):
                env.db.execute(sql)
        assert env.db.execute("SELECT count(*) FROM customers").rows == [(3,)]
        # nothing of the guard leaked into the writer's sessions either
        with env.writer.begin() as conn:
            conn.execute(sa.text("UPDATE customers SET region = region"))

    def test_validate(self, env: Env) -> None:
        env.db.validate(
            "SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id"
        )
        with pytest.raises(SQLError):
            env.db.validate("SELECT * FROM nosuch")
        with pytest.raises(SQLError):
            env.db.validate("SELEC 1")

    def test_validate_does_not_run_the_statement(self, env: Env) -> None:
        before = snapshot(env.writer)
        with suppress(SQLError):
            env.db.validate("DELETE FROM orders")
        assert snapshot(env.writer) == before

    def test_sample_values(self, env: Env) -> None:
        values = env.db.sample_values("customers", "region")
        assert sorted(values) == ["EU", "US"]
        assert len(env.db.sample_values("orders", "status", limit=1)) == 1
        assert None not in env.db.sample_values("orders", "status")

    def test_sample_values_quotes_identifiers(self, env: Env) -> None:
        values = env.db.sample_values("line items", "unit price")  # case-insensitive lookup
        # the driver's own values: Decimal from PostgreSQL and MariaDB, float from SQLite
        assert sorted(Decimal(str(v)) for v in values) == [Decimal("9.99"), Decimal("75")]

    def test_sample_values_did_you_mean(self, env: Env) -> None:
        with pytest.raises(SQLError, match="Did you mean 'customers'"):
            env.db.sample_values("custmers", "region")
        with pytest.raises(SQLError, match="Did you mean 'region'"):
            env.db.sample_values("customers", "regoin")

    def test_distinct_values_are_sorted_and_complete(self, env: Env) -> None:
        assert env.db.distinct_values("orders", "status") == ["open", "shipped"]
        assert env.db.distinct_values("customers", "name", limit=2) == ["Ada", "Bob"]

    def test_table_info_describes_tables_with_sample_rows(self, env: Env) -> None:
        info = env.db.table_info(["orders"])
        assert info.startswith("CREATE TABLE orders (")
        assert "FOREIGN KEY (customer_id) REFERENCES customers (id)" in info
        assert "3 rows from orders" in info


# --- construction and arguments ----------------------------------------------------------


def test_dialect_names_map_to_sqlglot() -> None:
    assert sqlglot_dialect("postgresql") == "postgres"
    assert sqlglot_dialect("mariadb") == "mysql"
    assert sqlglot_dialect("mysql") == "mysql"
    assert sqlglot_dialect("mssql") == "tsql"
    assert sqlglot_dialect("snowflake") == "snowflake"
    assert sqlglot_dialect("somethingnew") == "somethingnew"


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"max_rows": -1}, "max_rows"),
        ({"max_rows": True}, "max_rows"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": float("inf")}, "timeout_s"),
        ({"include_tables": "customers"}, "include_tables"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        SQLDatabase("sqlite://", **kwargs)
    assert info.value.key == key


def test_a_malformed_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        SQLDatabase("not a url")


def test_an_unknown_dialect_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nosuchdb"):
        SQLDatabase("nosuchdb://host/db")


def test_password_is_hidden() -> None:
    db = SQLDatabase("postgresql+psycopg://alice:s3cret@127.0.0.1:1/shop")
    try:
        assert "s3cret" not in repr(db)
        assert "s3cret" not in str(db.url)
        assert db.url.password == "s3cret"
        with pytest.raises(ConnectorError) as info:
            db.execute("SELECT 1")
        assert "s3cret" not in str(info.value)
    finally:
        db.close()


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("postgresql://u@127.0.0.1/db", "psycopg", "postgres"),
        ("mysql+pymysql://u@127.0.0.1/db", "pymysql", "mysql"),
    ],
)
def test_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingDependency, match=rf"pip install 'crossroads\[{extra}\]'"):
        SQLDatabase(url)


def test_a_bare_mysql_url_uses_pymysql() -> None:
    db = SQLDatabase("mysql://u@127.0.0.1:1/db")
    try:
        assert db.engine.dialect.driver == "pymysql"
        assert db.dialect == "mysql"
    finally:
        db.close()


def test_postgres_needs_psycopg_3() -> None:
    with pytest.raises(ConfigError, match=r"postgresql\+psycopg://"):
        SQLDatabase("postgresql+psycopg2://u@127.0.0.1/db")


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://root@127.0.0.1:1/test", "mysql+pymysql://root@127.0.0.1:1/test"]
)
def test_a_closed_port_is_a_connector_error(url: str) -> None:
    with SQLDatabase(url) as db:
        with pytest.raises(ConnectorError, match="cannot connect"):
            db.execute("SELECT 1")
        with pytest.raises(ConnectorError):
            db.schema()


def test_include_tables(tmp_path: Path) -> None:
    writer = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    populate(writer)
    writer.dispose()
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    with SQLDatabase(url, include_tables=["Customers", "big_orders"]) as db:
        assert set(db.schema().tables) == {"customers", "big_orders"}
        with pytest.raises(SQLError, match="include_tables"):
            db.sample_values("orders", "status")
    with (
        SQLDatabase(url, include_tables=["custmers"]) as db,
        pytest.raises(ConfigError, match="Did you mean 'customers'"),
    ):
        db.schema()


def test_closed_database_says_so(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "x.db").close()
    db = SQLDatabase(f"sqlite:///{tmp_path / 'x.db'}")
    db.close()
    with pytest.raises(ConnectorError, match="closed"):
        db.execute("SELECT 1")


# --- SQLite --------------------------------------------------------------------------------


def test_sqlite_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with SQLDatabase(f"sqlite:///{path}") as db:
        with pytest.raises(ConnectorError, match="never creates"):
            db.execute("SELECT 1")
        with pytest.raises(ConnectorError):
            db.schema()
    assert not path.exists()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    writer = sa.create_engine(f"sqlite:///{path}")
    populate(writer)
    writer.dispose()
    return path


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE '{dir}/attached.db' AS other",
        "VACUUM INTO '{dir}/copy.db'",
        "CREATE TEMP TABLE scratch (id INTEGER)",
        "PRAGMA query_only = OFF",
    ],
)
def test_sqlite_cannot_create_files_or_temp_objects(shop: Path, sql: str) -> None:
    with SQLDatabase(f"sqlite:///{shop}") as db, pytest.raises(SQLError, match="read-only"):
        db.execute(sql.format(dir=shop.parent))
    assert sorted(p.name for p in shop.parent.iterdir()) == ["shop.db"]


def test_sqlite_uri_url_is_opened_read_only(shop: Path) -> None:
    with SQLDatabase(f"sqlite:///file:{shop}?mode=rw&uri=true") as db:
        assert db.execute("SELECT count(*) FROM customers").rows == [(3,)]
        with pytest.raises(SQLError, match="read-only"):
            db.execute("DELETE FROM customers")


def test_sqlite_file_engine_gets_a_read_only_companion(shop: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{shop}")
    try:
        with SQLDatabase(engine) as db:
            assert db.engine is engine
            with pytest.raises(SQLError, match="read-only"):
                db.execute("DELETE FROM customers")
        # close() left the caller's engine alone
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM customers WHERE id = 3"))
            assert conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one() == 2
    finally:
        engine.dispose()


def test_sqlite_memory_query_only_is_restored_for_the_owner() -> None:
    engine = sa.create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    try:
        populate(engine)
        with SQLDatabase(engine) as db:
            with pytest.raises(SQLError, match="read-only"):
                db.execute("DELETE FROM customers")
            with engine.begin() as conn:  # the owner can still write
                conn.execute(sa.text("DELETE FROM customers WHERE id = 3"))
            assert db.execute("SELECT count(*) FROM customers").rows == [(2,)]
    finally:
        engine.dispose()


def test_generic_guard_cancels_and_rolls_back() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE t (a INTEGER)")
        conn.commit()
        guard = GenericGuard()
        start = time.perf_counter()
        with pytest.raises(SQLTimeout, match="cancelled by the driver"):
            guard.run(conn, SQLITE_SLOW, 10, 0.3)  # sqlite3 has interrupt()
        assert time.perf_counter() - start < 1.3
        guard.run(conn, "INSERT INTO t VALUES (1)", 10, 5.0)
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)  # rolled back
        fetched = guard.run(
            conn,
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
            3,
            5.0,
        )
        assert fetched.rows == [(1,), (2,), (3,)]
        assert fetched.truncated
    finally:
        conn.close()


def test_first_keyword_skips_comments_and_parentheses() -> None:
    assert first_keyword("  -- note\n /* block */ (SELECT 1)") == "select"
    assert first_keyword("WITH x AS (SELECT 1) SELECT * FROM x") == "with"
    assert first_keyword("explain select 1") == "explain"
    assert first_keyword("/* unterminated") == ""


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_autocommit_engine_is_still_read_only(pg_url: str) -> None:
    writer = sa.create_engine(pg_url)
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with writer.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS ac_probe (id INTEGER)"))
        with SQLDatabase(engine) as db:
            with pytest.raises(SQLError, match="read-only"):
                db.execute("INSERT INTO ac_probe VALUES (1)")
            assert db.execute("SELECT count(*) FROM ac_probe").rows == [(0,)]
        with engine.connect() as conn:  # the caller's engine is back in autocommit
            conn.execute(sa.text("INSERT INTO ac_probe VALUES (2)"))
        with writer.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM ac_probe")).scalar_one() == 1
    finally:
        with writer.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS ac_probe"))
        engine.dispose()
        writer.dispose()


@pytest.mark.postgres
def test_postgres_named_schema(pg_url: str) -> None:
    writer = sa.create_engine(pg_url)
    try:
        with writer.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS sales"))
            conn.execute(sa.text('CREATE TABLE sales."Deals" (id INTEGER PRIMARY KEY, stage TEXT)'))
            conn.execute(sa.text("INSERT INTO sales.\"Deals\" VALUES (1, 'won'), (2, 'lost')"))
        with SQLDatabase(pg_url, schema="sales") as db:
            deals = db.schema().table("deals")
            assert deals is not None
            assert deals.schema == "sales"
            assert deals.name == "Deals"
            assert db.distinct_values("deals", "stage") == ["lost", "won"]
    finally:
        with writer.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS sales CASCADE"))
        writer.dispose()


@pytest.mark.postgres
def test_postgres_non_query_statements(pg_url: str) -> None:
    with SQLDatabase(pg_url) as db:
        plan = db.execute("EXPLAIN SELECT 1")
        assert plan.columns == ("QUERY PLAN",)
        assert plan.rows
        # the guard's SET LOCAL, seen from inside its transaction
        assert db.execute("SHOW statement_timeout").rows == [("30s",)]
        assert db.execute("SET search_path = nowhere").rows == []


# --- MySQL / MariaDB -----------------------------------------------------------------------


@pytest.mark.mysql
def test_mysql_session_is_reset_for_a_shared_engine(mysql_url: str) -> None:
    engine = sa.create_engine(mysql_url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS shared_probe (id INTEGER)"))
        with SQLDatabase(engine) as db:
            with pytest.raises(SQLError, match="read-only"):
                db.execute("INSERT INTO shared_probe VALUES (1)")
            db.execute("SELECT 1", max_rows=1)
        with engine.begin() as conn:  # the same pooled connection: writable, no row cap
            conn.execute(sa.text("INSERT INTO shared_probe VALUES (1), (2), (3)"))
            assert len(conn.execute(sa.text("SELECT * FROM shared_probe")).all()) == 3
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS shared_probe"))
        engine.dispose()


@pytest.mark.mysql
def test_mysql_kill_query_backstop(mysql_url: str) -> None:
    with SQLDatabase(mysql_url) as db:
        guard = MySQLGuard(db.engine, server_timer=False)
        raw = db.engine.raw_connection()
        try:
            start = time.perf_counter()
            with pytest.raises(SQLTimeout, match="KILL QUERY"):
                guard.run(raw.dbapi_connection, "SELECT SLEEP(5)", 10, 0.2)
            assert time.perf_counter() - start < 1.5
        finally:
            raw.close()
        assert db.execute("SELECT 1").rows == [(1,)]
