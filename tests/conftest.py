"""Shared fixtures: real local backends, each test run in its own database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _fresh_database(env: str, kind: str) -> Iterator[str]:
    url = os.environ.get(env)
    if not url:
        pytest.skip(
            f"{env} is not set: set it to a {kind} server URL to run this test "
            f"(.ci/run sets it to the local server)"
        )
    base = make_url(url)
    name = f"crossroads_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # the server is named but unusable: fail loudly, never skip
        admin.dispose()
        raise RuntimeError(f"{env}={url!r}: cannot create a test database: {exc}") from exc
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if kind == "PostgreSQL":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test run, dropped afterwards."""
    yield from _fresh_database("CROSSROADS_TEST_PG_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """URL of a fresh MySQL/MariaDB database for this test run, dropped afterwards."""
    yield from _fresh_database("CROSSROADS_TEST_MYSQL_URL", "MySQL/MariaDB")
