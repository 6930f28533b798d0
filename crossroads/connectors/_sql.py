"""The SQL connector: any SQLAlchemy database, read-only, time-limited and row-capped.

::

    db = SQLDatabase("sqlite:///shop.db", max_rows=1_000, timeout_s=10)
    db.schema().table("orders").column_names
    db.execute("SELECT region, count(*) FROM orders GROUP BY region").rows

Read-only is enforced by the database, not by inspecting the SQL: every
statement runs on a read-only connection or in a read-only transaction that is
rolled back (see :mod:`._sql_guards` for exactly what each dialect gets).
Governance (which tables, which rows, which columns) is not this class's job:
it runs behind the governed SQL tool, which rewrites statements before they
arrive here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from crossroads.connectors._sql_engine import (
    is_sqlite_memory,
    open_engines,
    sqlglot_dialect,
    sqlite_path,
)
from crossroads.connectors._sql_errors import connect_error, driver_message, statement_error
from crossroads.connectors._sql_guards import Fetched, guard_for
from crossroads.connectors._sql_schema import (
    did_you_mean,
    distinct_sql,
    reflect,
    render_table,
    sample_sql,
)
from crossroads.connectors.base import Column, QueryResult, Schema, Table
from crossroads.errors import ConfigError, ConnectorError, SQLError

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIModule

__all__ = ["SQLDatabase"]

# How each dialect is asked for a plan without running the statement.
_EXPLAIN = {"sqlite": "EXPLAIN QUERY PLAN", "oracle": "EXPLAIN PLAN FOR"}
_PLAN_ROWS = 1_000


class SQLDatabase:
    """A SQL database reached through SQLAlchemy, read-only by construction.

    ``url_or_engine`` is a SQLAlchemy URL (``sqlite:///shop.db``,
    ``postgresql+psycopg://user@host/db``, ``mysql+pymysql://…``) or an Engine
    you built. Nothing connects until the first call. A SQLite file is opened
    read-only and must exist; an Engine you pass stays yours (``close()`` does
    not dispose it).

    ``max_rows`` and ``timeout_s`` are the defaults for :meth:`execute`;
    ``schema`` picks a database schema (namespace) other than the default one;
    ``include_tables`` limits :meth:`schema` to those tables and views (it does
    not restrict :meth:`execute`: which tables a principal may query is the
    policy catalog's job; a name that does not exist raises ConfigError on the
    first :meth:`schema` call);
    ``sample_rows`` is how many example rows :meth:`table_info` shows per table.
    """

    def __init__(
        self,
        url_or_engine: str | URL | Engine,
        *,
        max_rows: int = 10_000,
        timeout_s: float = 30.0,
        schema: str | None = None,
        include_tables: Sequence[str] | None = None,
        sample_rows: int = 3,
    ) -> None:
        self._max_rows = _check_rows("max_rows", max_rows)
        self._timeout_s = _check_timeout(timeout_s)
        self._sample_rows = _check_rows("sample_rows", sample_rows)
        if isinstance(include_tables, str):
            raise ConfigError(
                "include_tables must be a list of table names, not one string; "
                f"write include_tables=[{include_tables!r}]",
                key="include_tables",
            )
        self._include = None if include_tables is None else tuple(include_tables)
        self._db_schema = schema
        self._engines = open_engines(url_or_engine)
        reader = self._engines.reader
        self._memory = reader.dialect.name == "sqlite" and is_sqlite_memory(reader.url)
        self._guard = guard_for(reader, memory=self._memory)
        self._cache: Schema | None = None
        self._lock = threading.Lock()
        self._closed = False

    # --- what it is ----------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """The sqlglot dialect name (``sqlite``, ``postgres``, ``mysql``, ``tsql`` …)."""
        return sqlglot_dialect(self._engines.engine.dialect.name)

    @property
    def url(self) -> URL:
        """The database URL; rendering it (``str``, ``repr``) hides the password."""
        return self._engines.engine.url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine given, or the one built from the URL.

        For a SQLite file passed as an Engine, statements run through a separate
        read-only engine on the same file; this property still returns yours.
        """
        return self._engines.engine

    @property
    def max_rows(self) -> int:
        """Default row cap of :meth:`execute`."""
        return self._max_rows

    @property
    def timeout_s(self) -> float:
        """Default time limit of :meth:`execute`, in seconds."""
        return self._timeout_s

    def __repr__(self) -> str:
        return f"SQLDatabase({self.url.render_as_string(hide_password=True)!r})"

    # --- schema --------------------------------------------------------------------------

    def schema(self) -> Schema:
        """Tables and views with columns, keys and foreign keys (cached; see :meth:`refresh`)."""
        with self._lock:
            if self._cache is None:
                self._cache = self._reflect()
            return self._cache

    def refresh(self) -> None:
        """Forget the cached schema; the next :meth:`schema` call reads it again."""
        with self._lock:
            self._cache = None

    def _reflect(self) -> Schema:
        reader = self._engines.reader
        self._check_open()
        try:
            conn = reader.connect()
        except Exception as exc:
            if not self._is_driver_error(exc):
                raise
            raise self._connect_error(exc) from exc
        with conn:
            try:
                return reflect(conn, schema=self._db_schema, include=self._include)
            except DBAPIError as exc:
                raise SQLError(
                    f"could not read the database schema: {driver_message(exc)}. Check "
                    "that the account may read the catalog"
                    + (f" and that schema {self._db_schema!r} exists." if self._db_schema else ".")
                ) from exc

    def table_info(self, tables: Sequence[str] | None = None) -> str:
        """A ``CREATE TABLE`` sketch per table with ``sample_rows`` example rows (for prompts)."""
        chosen = (
            list(self.schema().tables.values())
            if tables is None
            else [self._table(name) for name in tables]
        )
        parts = []
        for table in chosen:
            sample = None
            if self._sample_rows:
                query = sample_sql(self._engines.reader, table, limit=self._sample_rows)
                try:
                    sample = self.execute(query, max_rows=self._sample_rows)
                except SQLError:  # a broken view still gets its description
                    sample = None
            parts.append(render_table(table, sample))
        return "\n\n".join(parts)

    # --- statements ----------------------------------------------------------------------

    def execute(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> QueryResult:
        """Run one statement read-only; cancel it past ``timeout_s``; cap rows at ``max_rows``.

        At most ``max_rows + 1`` rows are fetched; ``truncated`` says whether more
        existed. A write is refused by the database (SQLError saying so), a
        cancelled statement raises SQLTimeout, an unreachable database
        ConnectorError, anything else the database refuses SQLError.
        """
        cap = self._max_rows if max_rows is None else _check_rows("max_rows", max_rows)
        limit = self._timeout_s if timeout_s is None else _check_timeout(timeout_s)
        start = time.perf_counter()
        fetched = self._run(sql, cap, limit)
        elapsed_ms = (time.perf_counter() - start) * 1000
        return QueryResult(fetched.columns, fetched.rows, fetched.truncated, elapsed_ms)

    def validate(self, sql: str, *, timeout_s: float | None = None) -> None:
        """Ask the database to plan ``sql`` (``EXPLAIN``) without running it.

        Raises SQLError when the database refuses it: bad syntax, unknown tables
        or columns, type errors. Planning is not running: whether a write would be
        refused is only known by :meth:`execute`, which refuses it. Planning can
        still be costly (PostgreSQL folds constant expressions such as
        ``repeat('x', 1e9)``), so it runs under the same time limit as ``execute``.
        """
        prefix = _EXPLAIN.get(self.dialect, "EXPLAIN")
        limit = self._timeout_s if timeout_s is None else _check_timeout(timeout_s)
        self._run(f"{prefix} {sql}", _PLAN_ROWS, limit)

    def sample_values(self, table: str, column: str, *, limit: int = 5) -> list[Any]:
        """Up to ``limit`` distinct non-null values of ``table.column`` (in no set order)."""
        return self._distinct(table, column, limit=limit, ordered=False)

    def distinct_values(self, table: str, column: str, *, limit: int = 1000) -> list[Any]:
        """Up to ``limit`` distinct non-null values of ``table.column``, sorted (value linking)."""
        return self._distinct(table, column, limit=limit, ordered=True)

    def _distinct(self, table: str, column: str, *, limit: int, ordered: bool) -> list[Any]:
        limit = _check_rows("limit", limit)
        found = self._table(table)
        col = _column(found, column)
        sql = distinct_sql(self._engines.reader, found, col.name, limit=limit, ordered=ordered)
        return [row[0] for row in self._run(sql, limit, self._timeout_s).rows]

    def _table(self, name: str) -> Table:
        schema = self.schema()
        found = schema.table(name)
        if found is None:
            known = [t.name for t in schema.tables.values()]
            raise SQLError(
                f"no table or view {name!r} in the database"
                + (" (or it is not in include_tables)" if self._include is not None else "")
                + f".{did_you_mean(name, known)} Check the name against schema().",
            )
        return found

    def _run(self, sql: str, max_rows: int, timeout_s: float) -> Fetched:
        raw = self._checkout()
        try:
            return self._guard.run(raw.dbapi_connection, sql, max_rows, timeout_s)
        except Exception as exc:
            if not self._is_driver_error(exc):
                raise  # crossroads errors from the guard, or a bug
            dialect = self._engines.reader.dialect
            if dialect.is_disconnect(cast("DBAPIModule.Error", exc), raw.dbapi_connection, None):
                raw.invalidate(exc)
                raise self._connect_error(exc) from exc
            raise statement_error(sql, self.dialect, exc) from exc
        finally:
            raw.close()

    def _checkout(self) -> PoolProxiedConnection:
        self._check_open()
        try:
            return self._engines.reader.raw_connection()
        except Exception as exc:
            if not self._is_driver_error(exc):
                raise
            raise self._connect_error(exc) from exc

    def _is_driver_error(self, exc: BaseException) -> bool:
        """A driver error, raw or wrapped by SQLAlchemy (a creator's errors come raw)."""
        dbapi = self._engines.reader.dialect.loaded_dbapi
        return isinstance(exc, DBAPIError | dbapi.Error)

    def _connect_error(self, exc: BaseException) -> ConnectorError:
        url = self._engines.reader.url
        sqlite_file = None
        if url.get_backend_name() == "sqlite" and not self._memory:
            sqlite_file = sqlite_path(url)
        return connect_error(url, exc, sqlite_file=sqlite_file)

    # --- lifetime ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectorError(
                f"{self!r} is closed; create a new SQLDatabase to query the database again"
            )

    def close(self) -> None:
        """Close the connections this object opened (an Engine you passed stays usable)."""
        self._closed = True
        self._engines.dispose()

    def __enter__(self) -> SQLDatabase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _column(table: Table, name: str) -> Column:
    found = table.column(name)
    if found is None:
        raise SQLError(
            f"table {table.name!r} has no column {name!r}."
            f"{did_you_mean(name, table.column_names)} Check the name against schema()."
        )
    return found


def _check_rows(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a whole number ≥ 0, got {value!r}", key=name)
    return value


def _check_timeout(value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(
            f"timeout_s must be a number of seconds > 0, got {value!r}", key="timeout_s"
        )
    return float(value)
