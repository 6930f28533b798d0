"""The SQLite guard: a read-only connection, an authorizer and a progress handler.

A database file is opened read-only (``file:PATH?mode=ro``, see
:mod:`._sql_engine`); an in-memory database, which cannot be reopened
read-only, runs the statement under ``PRAGMA query_only = ON``. For both, an
authorizer denies what a read-only connection would still allow: ``ATTACH``
(and ``VACUUM INTO``, which attaches) can create files, temporary objects
outlive the statement on a pooled connection, and ``PRAGMA query_only = OFF``
would lift the guard. A progress handler interrupts the statement at the
deadline; ``busy_timeout`` bounds lock waits.
"""

from __future__ import annotations

import sqlite3
import time

from crossroads.connectors._sql_errors import read_only_error, timeout_error
from crossroads.connectors._sql_guards import Fetched, Watchdog, fetch, then
from crossroads.errors import SQLError

__all__ = ["SQLiteGuard"]


_SQLITE_BUSY, _SQLITE_READONLY, _SQLITE_INTERRUPT, _SQLITE_TOOBIG, _SQLITE_AUTH = 5, 8, 9, 18, 23
_PROGRESS_STEPS = 5_000
# The longest string or blob a statement may build. The progress handler cannot stop a
# single function call (printf('%.*c', 2000000000, 'x'), zeroblob(1e9)): this limit does.
MAX_VALUE_BYTES = 16 * 1024 * 1024
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


def _sqlite_denies(action: int, arg1: str | None, arg2: str | None) -> bool:
    if action in _SQLITE_DENIED:
        return True
    return action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "query_only" and bool(arg2)


class SQLiteGuard:
    """Read-only file connection (or ``query_only`` in memory), authorizer, progress handler."""

    __slots__ = ("memory",)

    def __init__(self, *, memory: bool) -> None:
        self.memory = memory

    def run(self, conn: sqlite3.Connection, sql: str, max_rows: int, timeout_s: float) -> Fetched:
        """Run ``sql`` on a connection the engine opened read-only (or in memory)."""
        deadline = time.monotonic() + timeout_s
        fired = denied = False

        def progress() -> int:
            nonlocal fired
            if time.monotonic() >= deadline:
                fired = True
                return 1  # non-zero: interrupt the statement
            return 0

        def authorize(action: int, arg1: str | None, arg2: str | None, *_: str | None) -> int:
            nonlocal denied
            if _sqlite_denies(action, arg1, arg2):
                denied = True
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        # A shared in-memory connection may hold its owner's open transaction: leave it
        # be (query_only means this statement cannot have added to it).
        owner_tx = conn.in_transaction
        restore_query_only = False
        if self.memory:
            restore_query_only = not conn.execute("PRAGMA query_only").fetchone()[0]
            conn.execute("PRAGMA query_only = ON")
        else:
            conn.execute(f"PRAGMA busy_timeout = {max(1, round(timeout_s * 1000))}")
        conn.set_authorizer(authorize)
        conn.set_progress_handler(progress, _PROGRESS_STEPS)
        length_limit = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        cur = conn.cursor()

        def restore() -> None:
            conn.set_progress_handler(None, 0)
            conn.set_authorizer(None)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, length_limit)
            if not owner_tx:
                conn.rollback()
            if restore_query_only:
                conn.execute("PRAGMA query_only = OFF")

        # The progress handler checks the clock every few thousand VM steps, which a
        # statement whose every step is expensive (hex(zeroblob(8e6)) per row) can
        # stretch far past the limit; a timer interrupting the connection at the
        # deadline is the backstop.
        watchdog = Watchdog(timeout_s, conn.interrupt)
        with then(cur.close, restore), watchdog:
            try:
                cur.execute(sql)
                return fetch(cur, max_rows)
            except sqlite3.Error as exc:
                code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                if fired or watchdog.fired or code == _SQLITE_INTERRUPT:
                    raise timeout_error(sql, timeout_s) from exc
                if code == _SQLITE_BUSY:  # busy_timeout (= the limit) ran out
                    raise timeout_error(sql, timeout_s, "waiting for a lock") from exc
                if denied or code in (_SQLITE_READONLY, _SQLITE_AUTH):
                    raise read_only_error(sql, exc) from exc
                if code == _SQLITE_TOOBIG:
                    raise SQLError(
                        f"the statement built a value longer than {MAX_VALUE_BYTES:,} bytes "
                        "(the limit that keeps one function call from exhausting memory); "
                        "it was stopped",
                        sql=sql,
                    ) from exc
                raise
