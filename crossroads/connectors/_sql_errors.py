"""What the SQL connector tells the user when the database says no.

Drivers raise their own exceptions (``sqlite3.OperationalError``,
``psycopg.errors.ReadOnlySqlTransaction``, ``pymysql.err.OperationalError``),
sometimes wrapped by SQLAlchemy. They are turned into crossroads errors here,
each message saying what happened, why, and what to do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.exc import StatementError

from crossroads.errors import ConnectorError, SQLError, SQLTimeout

__all__ = [
    "connect_error",
    "driver_message",
    "read_only_error",
    "statement_error",
    "timeout_error",
]

_SHOWN_SQL = 500


def driver_message(exc: BaseException) -> str:
    """The database's own words for ``exc`` (unwrapping SQLAlchemy's wrapper)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    diag = getattr(exc, "diag", None)  # psycopg: the server's fields, without the echo
    primary = getattr(diag, "message_primary", None)  # of our DECLARE wrapper and caret
    if primary:
        hint = getattr(diag, "message_hint", None)
        return f"{primary} (hint: {hint})" if hint else str(primary)
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    # pymysql / mysqlclient: args == (errno, message)
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"({args[0]}) {args[1]}"
    return str(exc).strip() or type(exc).__name__


def _shown(sql: str) -> str:
    sql = sql.strip()
    return sql if len(sql) <= _SHOWN_SQL else sql[:_SHOWN_SQL] + " …"


def read_only_error(sql: str, exc: BaseException) -> SQLError:
    """The database refused a write because the connector reads only."""
    return SQLError(
        "the database refused the statement because the SQL connector is read-only: "
        "every statement runs in a read-only transaction (or on a read-only "
        "connection), so INSERT, UPDATE, DELETE, DDL and similar changes are "
        f"refused. The database said: {driver_message(exc)}. Send a query (SELECT); "
        f"change data through your own connection, not this one.\n  SQL: {_shown(sql)}",
        sql=sql,
    )


def timeout_error(sql: str, timeout_s: float, detail: str | None = None) -> SQLTimeout:
    """The statement ran past its time limit and was cancelled."""
    why = f" ({detail})" if detail else ""
    return SQLTimeout(
        f"the statement ran past its {timeout_s:g} s time limit and was cancelled{why}. "
        "Make it cheaper (filter earlier, aggregate, select fewer rows) or raise the "
        "limit: GovernedSQL(..., timeout_s=...) for governed SQL, "
        f"SQLDatabase(..., timeout_s=...) for direct calls.\n  SQL: {_shown(sql)}",
        sql=sql,
    )


def statement_error(sql: str, dialect: str, exc: BaseException) -> SQLError:
    """The database could not run the statement (syntax, unknown name, type error …)."""
    return SQLError(
        f"the database could not run the statement: {driver_message(exc)}. Check the "
        f"table and column names against schema() and the syntax against the {dialect} "
        f"dialect.\n  SQL: {_shown(sql)}",
        sql=sql,
    )


def connect_error(
    url: URL, exc: BaseException, *, sqlite_file: str | None = None
) -> ConnectorError:
    """The database could not be reached (or, for SQLite, its file does not exist)."""
    shown = url.render_as_string(hide_password=True)
    if sqlite_file is not None:
        return ConnectorError(
            f"cannot open the SQLite database {sqlite_file!r} ({driver_message(exc)}): "
            "the file does not exist or cannot be read. The SQL connector opens "
            "databases read-only and never creates one; check the path (relative paths "
            "are resolved from the current directory) or create the database first."
        )
    return ConnectorError(
        f"cannot connect to {shown}: {driver_message(exc)}. Check that the server is "
        "running and reachable, and that the URL's host, port, database and "
        "credentials are right."
    )
