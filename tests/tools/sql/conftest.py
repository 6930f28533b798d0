"""A tiny real SQLite database and the governance policy for the SQL tool tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.policy import Catalog
from crossroads.tools.sql import GovernedSQL

FIXTURES = Path(__file__).parent / "fixtures"

SCHEMA = """
CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT, ssn TEXT, region TEXT);
CREATE TABLE sales (id INTEGER PRIMARY KEY, region TEXT, patient_id INTEGER REFERENCES patients(id),
                    amount REAL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT);
CREATE TABLE ssn_lookup (ssn TEXT PRIMARY KEY, note TEXT);
INSERT INTO patients VALUES (1, 'Ann', '123-45-1111', 'EU'), (2, 'Bo', '987-65-2222', 'US'),
                            (3, 'Cy', '555-55-3333', 'APAC');
INSERT INTO sales VALUES (1, 'EU', 1, 10.0), (2, 'EU', 2, 20.0), (3, 'EU', NULL, 30.0),
                         (4, 'US', 2, 40.0), (5, 'US', NULL, 50.0), (6, 'APAC', 3, 50.0);
INSERT INTO orders VALUES (1, 'EU'), (2, 'US'), (3, 'APAC'), (4, 'US');
INSERT INTO ssn_lookup VALUES ('123-45-1111', 'Ann');
"""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "gov.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.commit()
    con.close()
    return path


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.from_yaml(FIXTURES / "policy.yaml")


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog.memory()


@pytest.fixture
def governed(db_path: Path, catalog: Catalog, audit: AuditLog) -> Iterator[GovernedSQL]:
    with SQLDatabase(f"sqlite:///{db_path}") as db:
        yield GovernedSQL(db, catalog, audit=audit, max_rows=4)
