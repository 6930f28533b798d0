"""Running one statement read-only, under a time limit, with a row cap — per dialect.

Each guard receives a DBAPI connection checked out for this one statement and
returns at most ``max_rows`` rows (fetching ``max_rows + 1`` to tell whether
more existed). It turns the refusals it understands (a write in a read-only
transaction, a cancelled statement) into crossroads errors and lets every
other driver error through to the caller, which translates it.

What each dialect guarantees:

- **SQLite**: a database file is opened read-only (``file:PATH?mode=ro``); an
  in-memory database, which cannot be reopened read-only, runs the statement
  under ``PRAGMA query_only = ON``. For both, an authorizer denies ``ATTACH``,
  ``DETACH``, ``VACUUM INTO`` (it attaches), temporary objects and turning
  ``query_only`` off. A progress handler interrupts the statement at the
  deadline (checked every few thousand VM instructions; ``busy_timeout`` bounds
  lock waits).
- **PostgreSQL** (psycopg 3): ``SET TRANSACTION READ ONLY`` with
  ``SET LOCAL statement_timeout`` and ``lock_timeout``, rolled back after. The
  server cancels at the limit. The statement is sent with the extended protocol,
  which runs exactly one statement, so ``COMMIT; DROP …`` cannot escape the
  transaction. Queries run through a server-side cursor (``DECLARE`` / ``FETCH``),
  other statements stream row by row: neither pulls the whole result.
- **MySQL / MariaDB**: ``SET SESSION TRANSACTION READ ONLY`` plus
  ``START TRANSACTION READ ONLY`` (the session setting is what refuses DDL,
  which would otherwise commit implicitly and run), rolled back after.
  ``sql_select_limit`` stops the server after ``max_rows + 1`` rows. Timeout:
  MariaDB's ``max_statement_time`` (every statement), MySQL's
  ``max_execution_time`` (SELECT only); as a backstop a watchdog sends
  ``KILL QUERY`` from another connection shortly after the limit. The driver
  must not enable multi-statements (pymysql and mysqlclient do not by default).
  Session settings are reset to the server defaults afterwards.
- **Any other dialect**: the statement runs in the driver's implicit
  transaction, which is always rolled back, and a watchdog calls the driver's
  ``cancel()`` / ``interrupt()`` at the limit when the driver has one. That
  undoes DML on transactional engines but does not stop DDL or engines without
  transactions: give such targets a database account that can only read.

None of this replaces least privilege: a read-only account remains the
strongest guarantee; the guards make a wrong statement fail even without one.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Engine

from crossroads.connectors._sql_errors import read_only_error, timeout_error

if TYPE_CHECKING:
    import psycopg

__all__ = ["Fetched", "Guard", "guard_for"]


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
    name = engine.dialect.name
    if name == "sqlite":
        return SQLiteGuard(memory=memory)
    if name == "postgresql":
        return PostgresGuard()
    if name in ("mysql", "mariadb"):
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


# --- SQLite --------------------------------------------------------------------------------

_SQLITE_READONLY, _SQLITE_INTERRUPT, _SQLITE_AUTH = 8, 9, 23
_PROGRESS_STEPS = 5_000
_SQLITE_DENIED = frozenset(
    {
        sqlite3.SQLITE_ATTACH,
        sqlite3.SQLITE_DETACH,
        sqlite3.SQLITE_CREATE_TEMP_INDEX,
        sqlite3.SQLITE_CREATE_TEMP_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
        sqlite3.SQLITE_CREATE_TEMP_VIEW,
    }
)


def _sqlite_authorize(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _source: str | None
) -> int:
    if action in _SQLITE_DENIED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "query_only" and arg2:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class SQLiteGuard:
    """Read-only file connection (or ``query_only`` in memory), authorizer, progress handler."""

    __slots__ = ("memory",)

    def __init__(self, *, memory: bool) -> None:
        self.memory = memory

    def run(self, conn: sqlite3.Connection, sql: str, max_rows: int, timeout_s: float) -> Fetched:
        """Run ``sql`` on a connection the engine opened read-only (or in memory)."""
        deadline = time.monotonic() + timeout_s
        fired = False

        def progress() -> int:
            nonlocal fired
            if time.monotonic() >= deadline:
                fired = True
                return 1  # non-zero: interrupt the statement
            return 0

        restore_query_only = False
        if self.memory:
            restore_query_only = not conn.execute("PRAGMA query_only").fetchone()[0]
            conn.execute("PRAGMA query_only = ON")
        else:
            conn.execute(f"PRAGMA busy_timeout = {max(1, round(timeout_s * 1000))}")
        conn.set_authorizer(_sqlite_authorize)
        conn.set_progress_handler(progress, _PROGRESS_STEPS)
        cur = conn.cursor()
        with then(
            cur.close,
            lambda: conn.set_progress_handler(None, 0),
            lambda: conn.set_authorizer(None),
            conn.rollback,
            lambda: restore_query_only and conn.execute("PRAGMA query_only = OFF"),
        ):
            try:
                cur.execute(sql)
                return fetch(cur, max_rows)
            except sqlite3.Error as exc:
                code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                if fired or code == _SQLITE_INTERRUPT:
                    raise timeout_error(sql, timeout_s) from exc
                if code in (_SQLITE_READONLY, _SQLITE_AUTH):
                    raise read_only_error(sql, exc) from exc
                raise


# --- PostgreSQL ----------------------------------------------------------------------------

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


# --- MySQL / MariaDB -----------------------------------------------------------------------

_MY_READ_ONLY = frozenset({1792, 1290})  # read-only transaction; server --read-only
_MY_TIMEOUT = {1969: "max_statement_time", 3024: "max_execution_time", 1205: "lock wait"}
_MY_INTERRUPTED = 1317
_KILL_GRACE_S = 0.5


class MySQLGuard:
    """Read-only session and transaction, server-side row cap and timer, KILL QUERY backstop."""

    __slots__ = ("_engine", "server_timer")

    def __init__(self, engine: Engine, *, server_timer: bool = True) -> None:
        self._engine = engine
        self.server_timer = server_timer
        """Whether to set the server's statement timer (the KILL QUERY backstop always runs)."""

    def run(self, conn: Any, sql: str, max_rows: int, timeout_s: float) -> Fetched:
        """Run ``sql`` in a read-only transaction that is always rolled back."""
        mariadb = bool(getattr(self._engine.dialect, "is_mariadb", False))
        timer = "max_statement_time" if mariadb else "max_execution_time"
        thread_id = getattr(conn, "thread_id", None)
        tid = int(thread_id()) if callable(thread_id) else None

        def kill() -> None:
            if tid is not None:
                with self._engine.connect() as other:
                    other.exec_driver_sql(f"KILL QUERY {tid:d}")

        cur = conn.cursor()
        with then(
            conn.rollback,
            lambda: cur.execute("SET SESSION TRANSACTION READ WRITE"),
            lambda: cur.execute(
                f"SET SESSION sql_select_limit = DEFAULT, SESSION {timer} = DEFAULT"
            ),
            cur.close,
        ):
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            limits = [f"SESSION sql_select_limit = {max_rows + 1}"]
            if self.server_timer:
                if mariadb:
                    limits.append(f"SESSION max_statement_time = {timeout_s:.3f}")
                else:
                    limits.append(f"SESSION max_execution_time = {max(1, round(timeout_s * 1000))}")
            cur.execute("SET " + ", ".join(limits))
            cur.execute("START TRANSACTION READ ONLY")
            with Watchdog(timeout_s + _KILL_GRACE_S, kill if tid is not None else None) as dog:
                try:
                    cur.execute(sql)
                    fetched = fetch(cur, max_rows)
                except Exception as exc:
                    errno = _errno(exc)
                    if errno in _MY_TIMEOUT:
                        raise timeout_error(sql, timeout_s, _MY_TIMEOUT[errno]) from exc
                    if dog.fired and errno == _MY_INTERRUPTED:
                        raise timeout_error(sql, timeout_s, "KILL QUERY") from exc
                    if errno in _MY_READ_ONLY:
                        raise read_only_error(sql, exc) from exc
                    raise
            if dog.fired:  # a killed SLEEP() returns 1 instead of failing
                raise timeout_error(sql, timeout_s, "KILL QUERY")
            return fetched


def _errno(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


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
