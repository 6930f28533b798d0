"""Running one statement read-only, under a time limit, with a row cap — per dialect.

Each guard receives a DBAPI connection checked out for this one statement and
returns at most ``max_rows`` rows (fetching ``max_rows + 1`` to tell whether
more existed). It turns the refusals it understands (a write in a read-only
transaction, a cancelled statement) into crossroads errors and lets every
other driver error through to the caller, which translates it.

What each dialect guarantees (details in each guard's module):

- **SQLite** (:mod:`._sql_guard_sqlite`): a read-only file connection, or
  ``PRAGMA query_only`` in memory; an authorizer against ``ATTACH``, ``VACUUM
  INTO`` and temporary objects; a progress handler interrupts at the deadline.
- **PostgreSQL** (:mod:`._sql_guard_postgres`): a read-only transaction, always
  rolled back, with server-side ``statement_timeout`` and ``lock_timeout``;
  exactly one statement per call (psycopg's extended protocol).
- **MySQL / MariaDB** (:mod:`._sql_guard_mysql`): a read-only session and
  transaction, always rolled back; server-side row cap and statement timer, and
  a ``KILL QUERY`` backstop.
- **Any other dialect** (:class:`GenericGuard`): the driver's implicit
  transaction, always rolled back, and a watchdog that calls the driver's
  ``cancel()`` / ``interrupt()`` at the limit when it has one. That undoes DML
  on transactional engines but does not stop DDL or engines without
  transactions: give such targets a database account that can only read.

None of this replaces least privilege: a read-only account remains the
strongest guarantee; the guards make a wrong statement fail even without one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Engine

from crossroads.connectors._sql_errors import timeout_error

__all__ = ["Fetched", "GenericGuard", "Guard", "Watchdog", "fetch", "guard_for", "then"]


@dataclass(frozen=True, slots=True)
class Fetched:
    """Column names and at most ``max_rows`` rows; ``truncated`` if more existed."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool


class Guard(Protocol):
    """Runs one statement on a DBAPI connection, read-only and under a time limit."""

    def run(self, conn: Any, sql: str, max_rows: int, timeout_s: float) -> Fetched:
        """Run ``sql``; raise SQLTimeout / SQLError for refusals, let driver errors through."""
        ...


def guard_for(engine: Engine, *, memory: bool) -> Guard:
    """The guard for ``engine``'s dialect (``memory``: an in-memory SQLite database)."""
    # One module per dialect, imported when that dialect is used.
    name = engine.dialect.name
    if name == "sqlite":
        from crossroads.connectors._sql_guard_sqlite import SQLiteGuard

        return SQLiteGuard(memory=memory)
    if name == "postgresql":
        from crossroads.connectors._sql_guard_postgres import PostgresGuard

        return PostgresGuard()
    if name in ("mysql", "mariadb"):
        from crossroads.connectors._sql_guard_mysql import MySQLGuard

        return MySQLGuard(engine)
    return GenericGuard()


def fetch(cursor: Any, max_rows: int) -> Fetched:
    """Fetch at most ``max_rows + 1`` rows (never the whole result) as plain tuples."""
    description = cursor.description
    if description is None:  # the statement produced no result set
        return Fetched((), [], False)
    columns = tuple(str(d[0]) for d in description)
    want = max_rows + 1
    rows: list[tuple[Any, ...]] = []
    while len(rows) < want:
        batch = cursor.fetchmany(want - len(rows))
        if not batch:
            break
        rows.extend(tuple(r) for r in batch)
    return Fetched(columns, rows[:max_rows], len(rows) > max_rows)


@contextmanager
def then(*steps: Callable[[], object]) -> Iterator[None]:
    """Run ``steps`` after the block, all of them; their errors surface only if it succeeded.

    When the block fails, its error is the one worth reporting; a connection left
    unusable by a failed clean-up is invalidated by the pool when it is returned.
    """
    try:
        yield
    except BaseException:
        for step in steps:
            with suppress(Exception):
                step()
        raise
    first: Exception | None = None
    for step in steps:
        try:
            step()
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first


class Watchdog:
    """Calls ``cancel`` from a timer thread if the ``with`` block outlives ``delay_s``."""

    __slots__ = ("_cancel", "_delay_s", "_timer", "fired")

    def __init__(self, delay_s: float, cancel: Callable[[], object] | None) -> None:
        self._delay_s = delay_s
        self._cancel = cancel
        self._timer: threading.Timer | None = None
        self.fired = False

    def _fire(self) -> None:
        self.fired = True
        if self._cancel is not None:
            with suppress(Exception):  # best effort: the statement may have just ended
                self._cancel()

    def __enter__(self) -> Watchdog:
        if self._cancel is not None:
            self._timer = threading.Timer(self._delay_s, self._fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()  # a cancel in flight finishes before the connection is reused


# --- anything else -------------------------------------------------------------------------


class GenericGuard:
    """The driver's implicit transaction, always rolled back; a watchdog calls cancel()."""

    __slots__ = ()

    def run(self, conn: Any, sql: str, max_rows: int, timeout_s: float) -> Fetched:
        """Run ``sql``; roll back whatever it did; cancel it at the limit if the driver can."""
        cur = conn.cursor()
        cancel = _canceller(conn, cur)
        with then(cur.close, lambda: _rollback(conn)), Watchdog(timeout_s, cancel) as dog:
            try:
                cur.execute(sql)
                fetched = fetch(cur, max_rows)
            except Exception as exc:
                if dog.fired:
                    raise timeout_error(sql, timeout_s, "cancelled by the driver") from exc
                raise
        if dog.fired:  # cancelled, yet it returned: the rows may be incomplete
            raise timeout_error(sql, timeout_s, "cancelled by the driver")
        return fetched


def _rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception as exc:
        if type(exc).__name__ != "NotSupportedError":  # PEP 249: no transactions at all
            raise


def _canceller(conn: Any, cur: Any) -> Callable[[], object] | None:
    for owner, name in ((cur, "cancel"), (conn, "cancel"), (conn, "interrupt")):
        method = getattr(owner, name, None)
        if callable(method):
            return method  # type: ignore[no-any-return]
    return None
