"""The PostgreSQL guard (psycopg 3): a read-only transaction with server-side timeouts.

``SET TRANSACTION READ ONLY`` with ``SET LOCAL statement_timeout`` and
``lock_timeout``, always rolled back. The statement itself goes over the
extended protocol, which runs exactly one statement, so ``COMMIT; DROP …``
cannot escape the transaction. Queries run through a server-side cursor
(``DECLARE`` / ``FETCH``), other statements (EXPLAIN, SHOW …) stream row by
row: neither pulls the whole result to the client. The time limit applies to
each server statement (``DECLARE`` plans, ``FETCH`` runs).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from contextlib import closing
from typing import TYPE_CHECKING, Any, cast

from crossroads.connectors._sql_errors import read_only_error, timeout_error
from crossroads.connectors._sql_guards import Fetched, fetch, then

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresGuard", "first_keyword"]


_PG_QUERY_CANCELED, _PG_LOCK_NOT_AVAILABLE = "57014", "55P03"
_PG_READ_ONLY, _PG_NOT_SUPPORTED = "25006", "0A000"
_QUERY_KEYWORDS = frozenset({"select", "with", "values", "table"})
_SKIP = re.compile(r"(?:\s+|\(|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))", re.DOTALL)
_WORD = re.compile(r"[A-Za-z]+")


def first_keyword(sql: str) -> str:
    """The first keyword of ``sql``, lower-cased, after comments, spaces and ``(``."""
    pos = 0
    while m := _SKIP.match(sql, pos):
        if m.end() == pos:
            break
        pos = m.end()
    word = _WORD.match(sql, pos)
    return word.group(0).lower() if word else ""


class PostgresGuard:
    """Read-only transaction with server-side statement and lock timeouts (psycopg 3)."""

    __slots__ = ()

    def run(
        self, conn: psycopg.Connection[Any], sql: str, max_rows: int, timeout_s: float
    ) -> Fetched:
        """Run ``sql`` in a read-only transaction that is always rolled back."""
        import psycopg

        autocommit = conn.autocommit
        if autocommit:  # an AUTOCOMMIT engine: a transaction is needed for SET LOCAL
            conn.autocommit = False

        def restore() -> None:
            if autocommit:
                conn.autocommit = True

        with then(conn.rollback, restore):
            try:
                return self._run(conn, sql, max_rows, timeout_s)
            except psycopg.Error as exc:
                state = exc.sqlstate
                if state == _PG_QUERY_CANCELED:
                    raise timeout_error(sql, timeout_s, "statement_timeout") from exc
                if state == _PG_LOCK_NOT_AVAILABLE:
                    raise timeout_error(sql, timeout_s, "waiting for a lock") from exc
                if state == _PG_READ_ONLY or (
                    state == _PG_NOT_SUPPORTED and "data-modifying" in str(exc)
                ):
                    raise read_only_error(sql, exc) from exc
                if (
                    state is None
                    and isinstance(exc, psycopg.ProgrammingError)
                    and "didn't produce a result" in str(exc)
                ):
                    # psycopg's own complaint that a streamed statement returned no
                    # rows (SET, COMMIT …): no result set, not a failure.
                    return Fetched((), [], False)
                raise

    @staticmethod
    def _run(conn: psycopg.Connection[Any], sql: str, max_rows: int, timeout_s: float) -> Fetched:
        ms = max(1, round(timeout_s * 1000))
        with conn.cursor() as setup:  # our own fixed text: the simple protocol is fine
            setup.execute(
                "SET TRANSACTION READ ONLY; "
                f"SET LOCAL statement_timeout = {ms}; SET LOCAL lock_timeout = {ms}"
            )
        if first_keyword(sql) in _QUERY_KEYWORDS:
            with conn.cursor(name="crossroads_read") as cur:
                cur.execute(sql)
                return fetch(cur, max_rows)
        with conn.cursor() as cur:
            return _stream(cur, sql, max_rows)


def _stream(cur: psycopg.Cursor[Any], sql: str, max_rows: int) -> Fetched:
    """Stream a non-query statement (EXPLAIN, SHOW …) row by row, stopping after the cap."""
    rows: list[tuple[Any, ...]] = []
    # A generator underneath: closing it cancels what still runs server-side.
    stream = cast("Generator[Any, None, None]", cur.stream(sql))
    with closing(stream):
        for row in stream:
            rows.append(tuple(row))
            if len(rows) > max_rows:
                break
    columns = tuple(d.name for d in cur.description or ())
    return Fetched(columns, rows[:max_rows], len(rows) > max_rows)
