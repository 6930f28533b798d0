"""The MySQL / MariaDB guard: a read-only session and transaction, server-side limits.

``SET SESSION TRANSACTION READ ONLY`` plus ``START TRANSACTION READ ONLY``: the
session setting is what refuses DDL, which would otherwise commit implicitly
and run. ``sql_select_limit`` stops the server after ``max_rows + 1`` rows.
Timeout: MariaDB's ``max_statement_time`` (every statement), MySQL's
``max_execution_time`` (SELECT only); as a backstop, a watchdog sends ``KILL
QUERY`` from another connection shortly after the limit. Everything is rolled
back and the session settings reset to the server defaults afterwards. The
driver must not enable multi-statements (pymysql and mysqlclient do not by
default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from crossroads.connectors._sql_errors import read_only_error, timeout_error
from crossroads.connectors._sql_guards import Fetched, Watchdog, fetch, then

__all__ = ["MySQLGuard"]


_MY_READ_ONLY = frozenset({1792, 1290})  # read-only transaction; server --read-only
_MY_TIMEOUT = {1969: "max_statement_time", 3024: "max_execution_time", 1205: "lock wait"}
_MY_INTERRUPTED = 1317
_KILL_GRACE_S = 0.5


class MySQLGuard:
    """Read-only session and transaction, server-side row cap and timer, KILL QUERY backstop.

    ``server_timer=False`` leaves the server's statement timer unset, so that only
    the KILL QUERY backstop limits the statement (what MySQL gets for non-SELECT
    statements, which ``max_execution_time`` does not cover).
    """

    __slots__ = ("_engine", "server_timer")

    def __init__(self, engine: Engine, *, server_timer: bool = True) -> None:
        self._engine = engine
        self.server_timer = server_timer

    def run(self, conn: Any, sql: str, max_rows: int, timeout_s: float) -> Fetched:
        """Run ``sql`` in a read-only transaction that is always rolled back."""
        mariadb = bool(getattr(self._engine.dialect, "is_mariadb", False))
        timer = "max_statement_time" if mariadb else "max_execution_time"
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
            with Watchdog(timeout_s + _KILL_GRACE_S, self._killer(conn)) as dog:
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

    def _killer(self, conn: Any) -> Callable[[], object] | None:
        """``KILL QUERY`` for ``conn``'s server thread, sent from another connection."""
        thread_id = getattr(conn, "thread_id", None)  # pymysql and mysqlclient have it
        if not callable(thread_id):
            return None
        statement = f"KILL QUERY {int(thread_id()):d}"

        def kill() -> None:
            with self._engine.connect() as other:
                other.exec_driver_sql(statement)

        return kill


def _errno(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
