"""Building the SQLAlchemy engines the SQL connector reads through.

One rule shapes this module: the connector never writes and never creates. A
SQLite file is opened read-only (``file:PATH?mode=ro``), so a wrong path fails
instead of leaving an empty database behind; drivers are chosen so that the
read-only guard in :mod:`._sql_guards` can rely on them (psycopg 3 for
PostgreSQL, whose extended protocol runs one statement per call).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import QueuePool, StaticPool

from crossroads.errors import ConfigError, MissingDependency

__all__ = [
    "OwnedEngines",
    "is_sqlite_memory",
    "open_engines",
    "sqlglot_dialect",
    "sqlite_path",
]

# SQLAlchemy dialect name -> sqlglot dialect name, where they differ. Any other
# name is passed through: most (sqlite, mysql, oracle, snowflake, databricks,
# trino, presto, duckdb, bigquery, redshift, clickhouse, hive, teradata ...)
# are spelled the same by both projects.
_SQLGLOT_NAMES = {
    "postgresql": "postgres",
    "cockroachdb": "postgres",
    "mariadb": "mysql",
    "mssql": "tsql",
    "awsathena": "athena",
}

# The extra that installs each bundled driver, and the package it brings.
_EXTRAS = {
    "postgresql": ("PostgreSQL", "postgres", "psycopg[binary]"),
    "mysql": ("MySQL/MariaDB", "mysql", "pymysql"),
    "mariadb": ("MySQL/MariaDB", "mysql", "pymysql"),
}

# Without an explicit driver, use the one our extra installs (SQLAlchemy's
# own default for MySQL is mysqlclient, which `crossroads[mysql]` does not bring).
_DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}

_POOL = {"pool_size": 5, "max_overflow": 5, "pool_pre_ping": True, "pool_recycle": 1800}
_CONNECT_TIMEOUT_S = 10


def sqlglot_dialect(sqlalchemy_name: str) -> str:
    """The sqlglot dialect for a SQLAlchemy dialect name (unknown names pass through)."""
    return _SQLGLOT_NAMES.get(sqlalchemy_name, sqlalchemy_name)


def is_sqlite_memory(url: URL) -> bool:
    """Whether a ``sqlite`` URL names an in-memory database."""
    db = url.database or ""
    if db in ("", ":memory:"):
        return True
    return _uri_mode(url) == "memory"


def sqlite_path(url: URL) -> str:
    """The file a ``sqlite`` URL names (the URI's path part for ``?uri=true`` URLs)."""
    db = url.database or ""
    if _is_uri(url):
        return urlsplit(db).path
    return db


class OwnedEngines:
    """The engines a :class:`SQLDatabase` uses, and which of them it must dispose.

    ``engine`` is the one the user gave or the one built from their URL;
    ``reader`` is the one statements run through (the same engine, except for
    a SQLite file handed over as an Engine, which gets a read-only companion).
    """

    __slots__ = ("engine", "owned", "reader")

    def __init__(self, engine: Engine, reader: Engine, owned: tuple[Engine, ...]) -> None:
        self.engine = engine
        self.reader = reader
        self.owned = owned

    def dispose(self) -> None:
        """Dispose the engines this connector created (never the user's own)."""
        for e in self.owned:
            e.dispose()


def open_engines(url_or_engine: str | URL | Engine) -> OwnedEngines:
    """Build (or adopt) the engines for ``url_or_engine``; nothing connects yet."""
    if isinstance(url_or_engine, Engine):
        given = url_or_engine
        _check_driver(given.url)
        if given.dialect.name == "sqlite" and not is_sqlite_memory(given.url):
            reader = _sqlite_reader(given.url)
            return OwnedEngines(given, reader, (reader,))
        return OwnedEngines(given, given, ())
    url = _parse(url_or_engine)
    _check_driver(url)
    if url.get_backend_name() == "sqlite":
        if is_sqlite_memory(url):
            # Every connection to ":memory:" would be a new, empty database; one
            # shared connection at least keeps a single (empty) one.
            engine = _create(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            engine = _sqlite_reader(url)
        return OwnedEngines(engine, engine, (engine,))
    kwargs: dict[str, Any] = dict(_POOL)
    if url.get_backend_name() in _EXTRAS and "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": _CONNECT_TIMEOUT_S}
    engine = _create(url, **kwargs)
    return OwnedEngines(engine, engine, (engine,))


def _parse(raw: str | URL) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(
            f"{raw!r} is not a database URL ({exc}); write it as "
            "dialect+driver://user:password@host:port/database, "
            "e.g. sqlite:///shop.db or postgresql+psycopg://user@localhost/shop"
        ) from exc
    backend = url.get_backend_name()
    if "+" not in url.drivername and backend in _DEFAULT_DRIVERS:
        url = url.set(drivername=f"{backend}+{_DEFAULT_DRIVERS[backend]}")
    return url


def _check_driver(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and url.get_driver_name() != "pysqlite":
        raise ConfigError(
            f"the SQL connector opens SQLite through the standard sqlite3 module, not "
            f"{url.get_driver_name()!r}; use a plain sqlite:/// URL"
        )
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        raise ConfigError(
            f"the SQL connector runs PostgreSQL through psycopg 3, not "
            f"{url.get_driver_name()!r}: its one-statement-per-call protocol is part "
            "of the read-only guarantee. Use a postgresql+psycopg:// URL "
            "(pip install 'crossroads[postgres]')."
        )


def _create(url: URL, **kwargs: Any) -> Engine:
    backend = url.get_backend_name()
    try:
        return create_engine(url, **kwargs)
    except NoSuchModuleError as exc:
        raise ConfigError(
            f"no SQLAlchemy dialect {url.drivername!r} is installed ({exc}); install "
            f"the package that provides it (for example the {backend} SQLAlchemy "
            "dialect from PyPI) or fix the URL's dialect+driver part"
        ) from exc
    except ImportError as exc:
        if backend in _EXTRAS:
            kind, extra, package = _EXTRAS[backend]
            raise MissingDependency(f"The {kind} connector", extra, [package]) from exc
        raise ConfigError(
            f"the driver for {url.drivername!r} is not installed ({exc}); install the "
            "Python package SQLAlchemy names for this dialect"
        ) from exc


def _sqlite_reader(url: URL) -> Engine:
    """An engine whose every connection opens the SQLite file read-only."""
    uri = _read_only_uri(url)
    timeout = float(url.query.get("timeout", 5.0))  # type: ignore[arg-type]

    def creator() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

    # The user's URL stays the engine's URL (so .url shows it); the creator opens.
    return _create(url, creator=creator, poolclass=QueuePool, pool_size=5, max_overflow=5)


def _read_only_uri(url: URL) -> str:
    db = url.database or ""
    if _is_uri(url):
        parts = urlsplit(db)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "mode"]
        query.append(("mode", "ro"))
        return urlunsplit(parts._replace(query=urlencode(query)))
    return f"{Path(db).absolute().as_uri()}?mode=ro"


def _is_uri(url: URL) -> bool:
    flag = str(url.query.get("uri", "")).lower()
    return flag in ("1", "true", "yes", "on") and (url.database or "").startswith("file:")


def _uri_mode(url: URL) -> str | None:
    if not _is_uri(url):
        return None
    return dict(parse_qsl(urlsplit(url.database or "").query)).get("mode")
