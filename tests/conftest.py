"""Shared fixtures: real local backends, each test run in its own database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY")


@pytest.fixture(autouse=True, scope="session")
def _example_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Example domains build into this run's temp folder, not the user's cache."""
    old = os.environ.get("CROSSROADS_CACHE")
    os.environ["CROSSROADS_CACHE"] = str(tmp_path_factory.mktemp("crossroads-cache"))
    yield
    if old is None:
        os.environ.pop("CROSSROADS_CACHE", None)
    else:
        os.environ["CROSSROADS_CACHE"] = old


@pytest.fixture(autouse=True)
def _no_real_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any HTTP request to a host other than loopback, and hide real API keys."""
    for var in _KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    real = httpx.HTTPTransport.handle_request

    def guarded(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if request.url.host not in _LOCAL_HOSTS:
            raise RuntimeError(
                f"test tried to reach a real model provider at {request.url.host}; "
                "point the connector at the fake server (base_url=server.url)"
            )
        return real(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", guarded)


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
