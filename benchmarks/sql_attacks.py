"""SQL attack suite: injection payloads and hand-written attacks against governed SQL.

Every input goes through ``GovernedSQL(SQLDatabase(sqlite file), catalog,
audit=AuditLog(jsonl)).run(sql, analyst)`` on a small shop database (users, orders,
patients with a masked ``ssn``, a region row filter on all three, an ``employees`` table
whose ``salary`` column the analyst has no grant on, and a ``secrets`` table with no
grant at all). Inputs:

- every line of the PayloadsAllTheThings "Intruder" files (``--data``), three ways: as
  the whole statement; spliced into a WHERE string literal the way a naive application
  builds it (``... WHERE name = '`` + payload + ``'``); appended after a legitimate query;
- our own cases (``OWN_CASES``): stacked statements, comments, unicode tricks, recursive
  CTE and cross-join bombs, memory bombs, ATTACH, PRAGMA, extensions and files, system
  tables, VACUUM, savepoints, writes of every kind, DDL, and probes of the policy itself.

Each input runs on two *twin* databases that differ only in what the analyst may not
see: the hidden part of every ``ssn``, the rows of other regions, ``employees.salary``
and the ``secrets`` table. A governed answer cannot depend on any of that, so any
difference between the twins' answers (that a re-run on the same twin does not also
show) is a leak — whatever channel it took: values, counts, ordering or errors.

Outcome classes:

- **refused**: ``PolicyViolation`` naming a rule;
- **stopped**: ``SQLTimeout`` / ``SQLError`` with a clear message (a bomb cut by the
  statement timeout, a value-size limit or the database's read-only refusal);
- **harmless**: it ran within the analyst's grants — masked, filtered, identical on the
  twins, no hidden marker in any cell, column name or message;
- **breach**: anything else — data or files changed, a hidden value or an ungranted
  table read, an answer that differs between the twins, a crash that is not a
  crossroads error, missing audit events, a result past the time limit, or (own cases)
  an outcome the case forbids (an ungranted system table must be refused).

Also checked: every call wrote ``start``, ``decision`` (deny for a refusal, allow
otherwise) and ``end`` / ``error``; each JSONL audit chain verifies; each database file
is byte-for-byte unchanged (sha256 after every input) and no file appears next to it.

Run ``python benchmarks/sql_attacks.py`` (``--data DIR``, ``--per-file N``, ``--quick``,
``--own CATEGORY,...``, ``--timeout S``, ``--out PATH``, ``--results benchmarks/RESULTS.md``,
``--strict`` to exit 1 on a breach). The payload text is never written out: inputs are
named by file and line.
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _report import REPO, SHARED_BENCH, machine, update_results

from crossroads.audit import (
    AuditEvent,
    AuditLog,
    JSONLSink,
    MemorySink,
    VerifyReport,
    verify_jsonl,
)
from crossroads.connectors import SQLDatabase
from crossroads.errors import PolicyViolation, SQLError
from crossroads.policy import Catalog
from crossroads.tools.sql import GovernedSQL

HEADING = "## SQL attack suite (benchmarks/sql_attacks.py)"
DEFAULT_DATA = SHARED_BENCH / "sqli-payloads" / "payloadsallthethings_intruder"
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "sql_attacks.json"
CLASSES = ("refused", "stopped", "harmless", "breach")
USES = ("statement", "where", "append")
MAX_ROWS = 100

# --- the database and its policy ---------------------------------------------------------

SCHEMA = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, "
    "region TEXT NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), "
    "amount REAL NOT NULL, status TEXT NOT NULL, region TEXT NOT NULL)",
    "CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT NOT NULL, ssn TEXT NOT NULL, "
    "diagnosis TEXT, region TEXT NOT NULL)",
    "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept TEXT NOT NULL, "
    "salary INTEGER NOT NULL)",
    "CREATE TABLE secrets (id INTEGER PRIMARY KEY, token TEXT NOT NULL)",
)
POLICY: dict[str, Any] = {
    "version": 1,
    "principals": {"analyst": {"groups": ["analysts"], "attributes": {"region": "EU"}}},
    "grants": [
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:users"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:orders"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:patients"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "column:employees.id"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "column:employees.name"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "column:employees.dept"},
    ],
    "row_filters": [
        {"on": f"table:{t}", "where": "region = :region"} for t in ("users", "orders", "patients")
    ],
    "column_masks": [
        {"on": "column:patients.ssn", "mask": "'***-**-' || SUBSTR(ssn, 8, 4)"},
    ],
}
PRINCIPAL = "analyst"
# What the analyst may not see, per twin: the hidden part of each ssn, other regions'
# rows, the secrets. None of these strings (nor their hex) may appear in any answer.
HIDDEN_MARKERS = {"a": ("731-94", "914-27", "USONLY-A", "TOPSECRET-A"),
                  "b": ("268-05", "356-81", "USONLY-B", "TOPSECRET-B")}  # fmt: skip
_DIAGNOSES = ("asthma", "diabetes", "migraine", "hypertension", "eczema")
_STATUSES = ("new", "paid", "shipped", "returned")
_DEPTS = ("sales", "finance", "support")


def twin_rows(twin: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of twin ``a`` or ``b``: the same wherever the analyst can look."""
    a = twin == "a"
    tag = twin.upper()
    ssn_seen, ssn_other = ("731-94", "914-27") if a else ("268-05", "356-81")
    hidden = 3 if a else 4
    users = [(i, f"eu-user-{i:02d}", f"eu-user-{i:02d}@example.eu", "EU") for i in range(1, 21)]
    users += [
        (100 + i, f"USONLY-{tag}-{i}", f"usonly-{tag}-{i}@example.us", "US")
        for i in range(1, hidden + 1)
    ]
    orders = [
        (i, 1 + i % 20, round(10 + (i * 37) % 500 / 10, 2), _STATUSES[i % 4], "EU")
        for i in range(1, 201)
    ]
    orders += [
        (1000 + i, 100 + 1 + i % hidden, (9000.0 if a else 7000.0) + i, "paid", "US")
        for i in range(1, hidden + 3)
    ]
    patients = [
        (i, f"eu-patient-{i:02d}", f"{ssn_seen}-{i:04d}", _DIAGNOSES[i % 5], "EU")
        for i in range(1, 11)
    ]
    patients += [
        (100 + i, f"USONLY-{tag}-patient-{i}", f"{ssn_other}-{i:04d}", "USONLY", "US")
        for i in range(1, hidden + 1)
    ]
    salary = (lambda i: 40_000 + 1_000 * i) if a else (lambda i: 40_000 + 1_000 * ((5 * i) % 13))
    employees = [(i, f"employee-{i:02d}", _DEPTS[i % 3], salary(i)) for i in range(1, 13)]
    secrets = [(i, f"TOPSECRET-{tag}-{i:04d}") for i in range(1, hidden)]
    return {
        "users": users,
        "orders": orders,
        "patients": patients,
        "employees": employees,
        "secrets": secrets,
    }


def build_database(path: Path, twin: str) -> None:
    """Write twin ``twin``'s database file at ``path``."""
    con = sqlite3.connect(path)
    try:
        for statement in SCHEMA:
            con.execute(statement)
        for table, rows in twin_rows(twin).items():
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        con.commit()
    finally:
        con.close()


# --- inputs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One input: where it came from, the SQL, and what outcomes it may have."""

    source: str
    """A payload file's name, or ``own``."""
    line: int
    """1-based line in the payload file (0 for own cases)."""
    use: str
    """``statement``, ``where``, ``append``, or an own case's category."""
    sql: str
    expect: frozenset[str] = frozenset(CLASSES) - {"breach"}
    """Classes this input may end in; any other is a breach."""
    slow: bool = False
    """Skipped by ``--quick``."""


def read_payloads(path: Path) -> list[tuple[int, str]]:
    """``(line number, payload)`` for every payload line of a file, verbatim.

    Lines starting with ``# `` are the files' own comments, empty lines separators;
    both are skipped. A CR before the newline is dropped (one file has CRLF endings);
    a file that is not UTF-8 is read as ISO-8859-1.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line and not line.startswith("# "):
            out.append((number, line))
    return out


def payload_cases(data: Path, per_file: int | None) -> list[Case]:
    """Each payload three ways: the whole statement, in a WHERE string, appended."""
    files = sorted(p for p in data.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SystemExit(f"no payload files in {data}")
    cases = []
    for path in files:
        for line, payload in read_payloads(path)[:per_file]:
            cases.append(Case(path.name, line, "statement", payload))
            where = "SELECT id, name, ssn FROM patients WHERE name = '" + payload + "'"
            cases.append(Case(path.name, line, "where", where))
            append = "SELECT id, name, email FROM users WHERE id = 1" + payload
            cases.append(Case(path.name, line, "append", append))
    return cases


REFUSE = frozenset({"refused"})
NO_WRITE = frozenset({"refused", "stopped"})
ANY = frozenset({"refused", "stopped", "harmless"})
BOMB = ANY
"""Bombs may also run: within the time limit, and cut by the row cap."""

OwnCase = tuple[str, str, frozenset[str], bool]
"""(category, SQL, classes allowed, slow). ``{dir}`` stands for the database's directory."""


def _own(category: str, expect: frozenset[str], *sqls: str, slow: bool = False) -> list[OwnCase]:
    return [(category, sql, expect, slow) for sql in sqls]


_RECURSE = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c)"
_SHADOW = "(WITH {t} AS (SELECT 1 AS x) SELECT x FROM {t}) AS q"

OWN_CASES: tuple[OwnCase, ...] = (
    *_own(
        "stacked",
        REFUSE,
        "SELECT id FROM users; DROP TABLE users",
        "SELECT 1; SELECT token FROM secrets",
        "SELECT id FROM users;; DELETE FROM orders",
        "SELECT 1 ; COMMIT ; DROP TABLE orders",
        "SELECT id FROM users WHERE name = ''; UPDATE users SET name = 'x'; --'",
        "SELECT 1;\nATTACH DATABASE '{dir}/stacked.db' AS x",
    ),
    *_own("stacked", ANY, "SELECT 1\n;\n"),
    *_own(
        "comments",
        REFUSE,
        "SELECT 1 -- \n; DROP TABLE users",
        "SELECT 1 /* x */ UNION SELECT token FROM secrets",
        "/* SELECT 1 */ DROP TABLE users",
        "--\nDELETE FROM orders",
    ),
    *_own(
        "comments",
        NO_WRITE,
        "SELECT 1 /* nested /* */ UNION SELECT token FROM secrets */",
        "SELECT id FROM users WHERE id = 1 #\n; DROP TABLE users",
    ),
    *_own(
        "comments",
        ANY,
        "SELECT 1 /* ; DROP TABLE users */",
        "SELECT 1 -- */ UNION SELECT token FROM secrets",
        "SELECT 1 /*! ; DROP TABLE users */",
        "SELECT name FROM users WHERE name = 'x' -- */ OR 1=1 /*",
        "SELECT 1 /* unterminated ; DROP TABLE users",
        "SELECT id /*/ UNION SELECT token FROM secrets /*/ FROM users",
    ),
    *_own(
        "unicode",
        REFUSE,
        "ＳＥＬＥＣＴ token ＦＲＯＭ secrets",  # fullwidth
        "ＤＥＬＥＴＥ FROM users",
        "SELECT * FROM sеcrets",  # Cyrillic е
        "SELECT token FROM ѕecrets",  # Cyrillic ѕ
        "ЅELECT token FROM secrets",
        "SEL\u200bECT token FROM secrets",  # zero-width space
        "SELECT id FROM users\u200b; DROP TABLE users",
        "DROP\u200b TABLE users",
        "SELECT id FROM users WHERE name = '\u202e' || (SELECT token FROM secrets)",  # RTL
        "SELECT 1\x00; DROP TABLE users",  # NUL
        "SELECT '\x00' || token FROM secrets",
        "DROP TABLE users\x00",
    ),
    *_own(
        "unicode",
        ANY,
        "SELECT '\u202e;ELBAT PORD' AS x, id FROM users WHERE region = 'EU\u202c'",
        "SELECT id FROM users -- \u2028 DROP TABLE users",
        "SELECT id FROM users WHERE name = 'a\x00' OR 1=1",
        "\ufeffSELECT id FROM users",  # byte order mark
        "SELECT id FROM users WHERE name = 'ｅｕ-user-01'",
    ),
    *_own(
        "recursive_cte", BOMB, f"{_RECURSE} SELECT count(*) FROM c", f"{_RECURSE} SELECT x FROM c"
    ),
    *_own(
        "recursive_cte",
        BOMB,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION SELECT x+1 FROM c) SELECT max(x) FROM c",
        f"{_RECURSE} SELECT x FROM c ORDER BY x DESC",
        f"SELECT ({_RECURSE} SELECT count(*) FROM c)",
        "WITH RECURSIVE c(x, s) AS (SELECT 1, 'a' UNION ALL SELECT x+1, s || s FROM c) "
        "SELECT max(length(s)) FROM c",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c, orders) "
        "SELECT count(*) FROM c",
        slow=True,
    ),
    *_own(
        "cross_join",
        BOMB,
        "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e",
        "SELECT a.id, b.id FROM orders a, orders b",
    ),
    *_own(
        "cross_join",
        BOMB,
        "SELECT count(*) FROM orders a CROSS JOIN orders b CROSS JOIN orders c CROSS JOIN orders d",
        "SELECT a.id FROM orders a, orders b, orders c ORDER BY random()",
        "SELECT count(DISTINCT a.amount * b.amount * c.amount) FROM orders a, orders b, orders c",
        slow=True,
    ),
    *_own(
        "memory_bomb",
        BOMB,
        "SELECT randomblob(1000000000)",
        "SELECT length(randomblob(1e9))",
        "SELECT length(zeroblob(1000000000))",
    ),
    *_own(
        "memory_bomb",
        BOMB,
        "SELECT zeroblob(1000000000)",
        "SELECT replace(hex(zeroblob(1e9)), '00', 'x')",
        "SELECT length(hex(zeroblob(400000000)))",
        "SELECT length(printf('%.*c', 1000000000, 'x'))",
        "SELECT printf('%.*c', 300000000, 'x')",
        "SELECT sum(length(hex(zeroblob(20000000 + id)))) FROM orders WHERE id <= 30",
        "SELECT sum(length(hex(zeroblob(8000000 + id)))) FROM orders",  # every row costs
        "SELECT length(group_concat(printf('%.*c', 1000000 + id, 'x'))) FROM orders",
        "SELECT upper(printf('%.*c', 5000000, 'x')) FROM orders",
        slow=True,
    ),
    *_own(
        "attach",
        REFUSE,
        "ATTACH DATABASE '{dir}/evil.db' AS evil",
        "ATTACH ':memory:' AS m",
        "ATTACH 'file:{dir}/evil2.db?mode=rwc' AS e",
        "DETACH DATABASE main",
    ),
    *_own("attach", NO_WRITE, "SELECT 1 FROM users WHERE 1 = (ATTACH '{dir}/x.db' AS x)"),
    *_own(
        "pragma",
        REFUSE,
        "PRAGMA writable_schema = 1",
        "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = ''",
        "PRAGMA query_only = 0",
        "PRAGMA query_only = OFF",
        "PRAGMA journal_mode = WAL",
        "PRAGMA user_version = 7",
        "PRAGMA table_info(secrets)",
        "SELECT * FROM pragma_table_info('secrets')",
        "SELECT name FROM pragma_table_list",
        "PRAGMA case_sensitive_like = 1",
    ),
    *_own(
        "extension_file",
        REFUSE,
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT load_extension('/tmp/evil', 'sqlite3_evil_init')",
        "SELECT \"load_extension\"('/tmp/evil.so')",
        "SELECT [LOAD_EXTENSION]('/tmp/evil.so')",
        "SELECT readfile('/etc/passwd')",
        "SELECT writefile('{dir}/dropped.txt', 'x')",
        "SELECT edit('x', 'vi')",
        "SELECT fts3_tokenizer('simple')",
        "SELECT * FROM fsdir('/etc')",
    ),
    # no grant names a system table: every read of one must be refused
    *_own(
        "system_table",
        REFUSE,
        "SELECT * FROM sqlite_master",
        "SELECT sql FROM sqlite_schema",
        "SELECT * FROM sqlite_temp_master",
        "SELECT * FROM sqlite_temp_schema",
        "SELECT * FROM main.sqlite_master",
        "SELECT * FROM temp.sqlite_master",
        'SELECT * FROM "SQLITE_MASTER"',
        "SELECT id, name, email FROM users UNION SELECT 1, name, sql FROM sqlite_master",
        "SELECT (SELECT group_concat(name) FROM sqlite_master)",
        "SELECT * FROM sqlite_sequence",
        "SELECT * FROM sqlite_dbpage",
        "SELECT * FROM dbstat",
        "SELECT m.name, m.sql FROM sqlite_master AS m, " + _SHADOW.format(t="sqlite_master"),
    ),
    *_own(
        "vacuum",
        REFUSE,
        "VACUUM",
        "VACUUM INTO '{dir}/copy.db'",
        "VACUUM main INTO '{dir}/copy2.db'",
    ),
    *_own(
        "savepoint",
        REFUSE,
        "SAVEPOINT s1",
        "RELEASE s1",
        "ROLLBACK TO s1",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "END",
        "SAVEPOINT a; DELETE FROM orders; RELEASE a",
    ),
    *_own(
        "select_into",
        REFUSE,
        "SELECT * INTO stolen FROM users",
        "SELECT token INTO TEMP t FROM secrets",
        "SELECT * INTO OUTFILE '{dir}/out.txt' FROM users",
    ),
    *_own(
        "write",
        REFUSE,
        "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d",
        "WITH u AS (UPDATE users SET name = 'x' RETURNING id) SELECT * FROM u",
        "WITH x AS (SELECT 1) DELETE FROM orders",
        "WITH x AS (SELECT 1) INSERT INTO users SELECT * FROM users",
        "INSERT INTO users SELECT * FROM users",
        "INSERT INTO users (id, name, email, region) "
        "SELECT id + 1000, token, token, 'EU' FROM secrets",
        "REPLACE INTO users VALUES (1, 'x', 'x', 'EU')",
        "INSERT OR REPLACE INTO users VALUES (1, 'x', 'x', 'EU')",
        "INSERT INTO users VALUES (1, 'x', 'x', 'EU') "
        "ON CONFLICT(id) DO UPDATE SET name = excluded.name",
        "INSERT INTO users VALUES (1, 'x', 'x', 'EU') ON CONFLICT DO NOTHING",
        "UPDATE users SET region = 'EU'",
        "UPDATE users SET name = (SELECT token FROM secrets)",
        "DELETE FROM orders WHERE 1=1",
    ),
    *_own(
        "ddl",
        REFUSE,
        "CREATE TRIGGER t AFTER INSERT ON users BEGIN DELETE FROM users; END",
        "CREATE TEMP TRIGGER t BEFORE DELETE ON orders BEGIN SELECT 1; END",
        "CREATE VIEW v AS SELECT * FROM secrets",
        "CREATE TEMP VIEW v AS SELECT * FROM secrets",
        "CREATE TEMP TABLE t AS SELECT * FROM secrets",
        "CREATE TEMPORARY TABLE t (x)",
        "CREATE TABLE t (x)",
        "CREATE INDEX i ON users(name)",
        "CREATE VIRTUAL TABLE v USING fts5(x)",
        "DROP TABLE secrets",
        "ALTER TABLE users RENAME TO u2",
        "REINDEX",
        "ANALYZE",
    ),
    # the policy itself: ungranted tables and columns, masks, row filters
    *_own(
        "policy",
        REFUSE,
        "SELECT * FROM secrets",
        "SELECT id, name, email FROM users UNION SELECT id, token, token FROM secrets",
        "SELECT (SELECT token FROM secrets)",
        "SELECT id FROM users WHERE EXISTS (SELECT 1 FROM secrets)",
        "SELECT s.token FROM secrets AS s WHERE EXISTS "
        "(WITH secrets AS (SELECT 1 AS x) SELECT x FROM secrets)",
        "SELECT e.salary FROM employees AS e, " + _SHADOW.format(t="employees"),
        "SELECT salary FROM employees",
        "SELECT rowid, * FROM secrets",
        "SELECT 1 WHERE 'x' IN secrets",
    ),
    *_own(
        "policy",
        ANY,
        "SELECT * FROM employees",
        "SELECT id AS salary FROM employees ORDER BY salary + 0",
        "SELECT id AS salary FROM employees ORDER BY salary > 45000, id",
        "SELECT id AS salary FROM employees ORDER BY salary IN (41000, 45000), id",
        "SELECT * FROM users WHERE region = 'US'",
        "SELECT * FROM users WHERE 1=1 OR region = 'US'",
        "SELECT region, count(*) FROM orders GROUP BY region",
        "SELECT ssn FROM patients",
        "SELECT count(*) FROM patients WHERE ssn LIKE '731%' OR ssn LIKE '268%'",
        "SELECT hex(ssn), unicode(ssn), length(ssn) FROM patients",
        "SELECT id FROM patients ORDER BY ssn DESC, id",
        "SELECT p.ssn FROM main.patients AS p",
        "SELECT * FROM orders LIMIT -1",
        "SELECT * FROM orders LIMIT (SELECT 1000000)",
    ),
    # time functions of other databases, deep nesting, huge inputs
    *_own(
        "misc",
        REFUSE,
        "SELECT sleep(5)",
        "SELECT pg_sleep(5)",
        "SELECT benchmark(10000000, md5('a'))",
    ),
    *_own(
        "misc",
        ANY,
        "SELECT sqlite_version()",
        "SELECT " + "(" * 30 + "1" + ")" * 30,
        "SELECT " + "(" * 60 + "1" + ")" * 60,
        "SELECT " + "abs(" * 300 + "1" + ")" * 300,
        "SELECT 1 WHERE 1 IN " + "(SELECT " * 100 + "1" + ")" * 100,
    ),
    *_own(
        "misc",
        ANY,
        "SELECT 1 FROM users WHERE " + " OR ".join(["id = 1"] * 2000),
        "SELECT 1 WHERE 1 IN (" + ",".join(map(str, range(20_000))) + ")",
        "SELECT 1" + " UNION SELECT 1" * 1000,
        "SELECT '" + "x" * 1_000_000 + "'",
        slow=True,
    ),
)


def own_cases(quick: bool, categories: Sequence[str] | None = None) -> list[Case]:
    """Our own cases (``--quick``: the fast ones; ``categories``: only those)."""
    known = dict.fromkeys(c[0] for c in OWN_CASES)
    unknown = set(categories or ()) - set(known) - {"none"}
    if unknown:
        raise SystemExit(f"no own-case categories {sorted(unknown)}; known: {', '.join(known)}")
    return [
        Case("own", 0, category, sql, expect, slow)
        for category, sql, expect, slow in OWN_CASES
        if not (quick and slow) and (categories is None or category in categories)
    ]


# --- running ---------------------------------------------------------------------------


class Tap:
    """An audit sink that hands over the events written since it was last asked (the
    JSONL file keeps all of them)."""

    def __init__(self) -> None:
        self._chain = MemorySink()
        self._new: list[AuditEvent] = []

    @property
    def source(self) -> str:
        return "<tap>"

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        out = self._chain.append(events)
        self._new.extend(out)
        return out

    def read(self) -> Iterator[AuditEvent]:
        return self._chain.read()

    def verify(self, *, anchor: str | None = None) -> VerifyReport:
        return self._chain.verify(anchor=anchor)

    def close(self) -> None:
        self._chain.close()

    def take(self) -> list[AuditEvent]:
        """The events written since the last call."""
        new, self._new = self._new, []
        return new


@dataclass(slots=True)
class Run:
    """What one call returned, how long it took, and the audit events it wrote."""

    kind: str
    """``refused``, ``stopped``, ``ran`` or ``crash``."""
    detail: str
    """The rule, the error type, or the row count."""
    message: str = ""
    columns: tuple[str, ...] = ()
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    truncated: bool = False
    elapsed_s: float = 0.0
    governance_s: float = 0.0
    events: list[AuditEvent] = field(default_factory=list)
    error: BaseException | None = None

    def signature(self, home: str) -> tuple[Any, ...]:
        """What must be the same on both twins (paths of the twin's directory removed)."""
        message = self.message.replace(home, "<dir>")
        if self.kind == "ran":
            return ("ran", self.columns, _comparable(self.rows), self.truncated)
        return (self.kind, self.detail, message)


def _comparable(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(repr(v) for v in row) for row in rows]


class Target:
    """One twin: its database file, the governed tool on it, and its audit log."""

    def __init__(self, root: Path, twin: str, catalog: Catalog, timeout_s: float) -> None:
        self.twin = twin
        self.dir = root / f"twin-{twin}"
        self.dir.mkdir()
        self.path = self.dir / "shop.sqlite"
        build_database(self.path, twin)
        self.sha256 = _sha256(self.path)
        self.files = sorted(os.listdir(self.dir))
        self.audit_path = root / f"audit-{twin}.jsonl"
        self.tap = Tap()
        self.audit = AuditLog([JSONLSink(self.audit_path), self.tap])
        # the connector keeps its defaults: the governed tool's limits are the ones tested
        self.db = SQLDatabase(f"sqlite:///{self.path}")
        self.tool = GovernedSQL(
            self.db, catalog, audit=self.audit, timeout_s=timeout_s, max_rows=MAX_ROWS
        )
        self.principal = catalog.principal(PRINCIPAL)

    def run(self, sql: str) -> Run:
        """Run ``sql`` as the analyst; never raises."""
        start = time.perf_counter()
        try:
            result = self.tool.run(sql, self.principal)
        except PolicyViolation as exc:
            out = Run("refused", exc.rule or "", str(exc), error=exc)
        except SQLError as exc:  # SQLTimeout included
            out = Run("stopped", type(exc).__name__, str(exc), error=exc)
        except Exception as exc:  # every other outcome is what the suite looks for
            out = Run("crash", type(exc).__name__, f"{type(exc).__name__}: {exc}", error=exc)
        else:
            out = Run(
                "ran",
                f"{len(result.rows)} rows" + (" (truncated)" if result.truncated else ""),
                columns=tuple(result.columns),
                rows=list(result.rows),
                truncated=result.truncated,
            )
        out.elapsed_s = time.perf_counter() - start
        out.events = self.tap.take()
        decision = next((e for e in out.events if e.stage == "decision"), None)
        if decision is not None and decision.latency_ms is not None:
            out.governance_s = decision.latency_ms / 1000
        return out

    def changed(self) -> list[str]:
        """How the database file or its directory differ from when they were built."""
        problems = []
        if _sha256(self.path) != self.sha256:
            problems.append(f"twin {self.twin}: the database file changed (sha256 differs)")
        files = sorted(os.listdir(self.dir))
        if files != self.files:
            extra = sorted(set(files) - set(self.files))
            problems.append(f"twin {self.twin}: new files next to the database: {extra}")
        return problems

    def close(self) -> None:
        self.db.close()
        self.audit.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- judging ---------------------------------------------------------------------------


@dataclass(slots=True)
class Verdict:
    """The class an input ended in, and why."""

    cls: str
    detail: str
    breaches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    audited: bool = True
    """Both twins' calls wrote start, decision and end/error as they should."""
    elapsed_s: float = 0.0
    governance_s: float = 0.0


def _markers(sql: str) -> list[str]:
    """Hidden strings (and their hex) that must not appear in an answer, leaving out any
    the input itself contains (a query may echo its own literals)."""
    lowered = sql.lower()
    out = []
    for marker in (m for twin in HIDDEN_MARKERS.values() for m in twin):
        for form in (marker, binascii.hexlify(marker.encode()).decode()):
            if form.lower() not in lowered:
                out.append(form.lower())
    return out


def _texts(run: Run) -> Iterable[str]:
    yield run.message
    yield from run.columns
    for row in run.rows:
        for value in row:
            if isinstance(value, bytes | bytearray | memoryview):
                raw = bytes(value)
                yield raw.decode("latin-1")
                yield raw.hex()
            else:
                yield str(value)


def _leaks(run: Run, markers: list[str]) -> list[str]:
    found = []
    for text in _texts(run):
        lowered = text.lower()
        found.extend(m for m in markers if m in lowered)
    return sorted(set(found))


def _audit_problems(run: Run) -> list[str]:
    stages = [e.stage for e in run.events]
    decisions = [e.decision for e in run.events if e.decision is not None]
    if run.kind == "refused":
        want, allowed = ["start", "decision", "error"], False
    elif run.kind == "stopped":
        want, allowed = ["start", "decision", "error"], True
    elif run.kind == "ran":
        want, allowed = ["start", "decision", "end"], True
    else:
        return []  # a crash is a breach of its own
    problems = []
    if stages != want:
        problems.append(f"audit events {stages}, expected {want}")
    elif decisions[0].allowed is not allowed:
        problems.append(f"audit decision allowed={decisions[0].allowed}, expected {allowed}")
    elif run.kind == "refused" and decisions[0].rule != run.detail:
        problems.append(f"audit decision names rule {decisions[0].rule!r}, not {run.detail!r}")
    elif run.kind != "ran":
        err = run.events[-1].error or {}
        if err.get("type") != type(run.error).__name__:
            problems.append(f"audit error event says {err.get('type')!r}")
    return problems


def judge(case: Case, a: Run, b: Run, rerun: Run | None, twins: Sequence[Target]) -> Verdict:
    """Classify one input from its runs on twin a, twin b and (if they differed) a again."""
    timeout_s = twins[0].tool.timeout_s
    limit_s = timeout_s * 1.5 + 1.0
    breaches: list[str] = []
    notes: list[str] = []
    audited = True
    for run, twin in ((a, "a"), (b, "b")):
        if run.kind == "crash":
            breaches.append(
                f"twin {twin}: crashed without a crossroads error ({run.message[:200]})"
            )
        audit = _audit_problems(run)
        audited = audited and not audit and run.kind != "crash"
        breaches.extend(f"twin {twin}: {p}" for p in audit)
        leaked = _leaks(run, _markers(case.sql))
        if leaked:
            breaches.append(f"twin {twin}: hidden values in the answer: {leaked}")
        if run.kind == "refused" and not run.detail:
            breaches.append(f"twin {twin}: a refusal that names no rule")
        if run.kind == "stopped" and not run.message.strip():
            breaches.append(f"twin {twin}: stopped without a message")
        db_s = run.elapsed_s - run.governance_s
        if db_s > limit_s:
            what = "returned rows" if run.kind == "ran" else f"ended ({run.detail})"
            breaches.append(
                f"twin {twin}: the {timeout_s:g} s statement timeout did not hold: it "
                f"{what} after {db_s:.1f} s in the database"
            )
        if run.governance_s > timeout_s:
            notes.append(f"twin {twin}: governance alone took {run.governance_s:.1f} s")
    for twin in twins:
        breaches.extend(twin.changed())
    if a.signature(str(twins[0].dir)) != b.signature(str(twins[1].dir)):
        if rerun is not None and rerun.signature(str(twins[0].dir)) != a.signature(
            str(twins[0].dir)
        ):
            notes.append("the answer differs from run to run on the same twin (nondeterministic)")
        else:
            breaches.append(
                "the answer depends on data the analyst may not see: twin a "
                f"{_describe(a)}, twin b {_describe(b)}"
            )
    cls = {"refused": "refused", "stopped": "stopped", "ran": "harmless"}.get(a.kind, "breach")
    if cls not in case.expect and cls != "breach":
        breaches.append(
            f"{cls} ({a.detail}), but this case must be {' or '.join(sorted(case.expect))}"
        )
    detail = a.detail if a.kind != "stopped" else f"{a.detail}: {_stop_reason(a.message)}"
    return Verdict(
        "breach" if breaches else cls,
        detail,
        breaches,
        notes,
        audited=audited,
        elapsed_s=max(a.elapsed_s, b.elapsed_s),
        governance_s=max(a.governance_s, b.governance_s),
    )


def _describe(run: Run) -> str:
    if run.kind == "ran":
        shown = _comparable(run.rows[:3])
        return f"returned {run.columns} {shown}{' …' if len(run.rows) > 3 else ''}"
    return f"{run.kind} ({run.detail}: {run.message[:120]})"


def _stop_reason(message: str) -> str:
    text = message.split("\n", 1)[0]
    for key, label in (
        ("time limit", "statement timeout"),
        ("longer than", "value size limit"),
        ("too big", "value size limit"),
        ("read-only", "read-only database"),
    ):
        if key in text:
            return label
    return "database error"


# --- the run ---------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """One input's outcome, as written to the JSON file (payload text left out)."""

    case: Case
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        c, v = self.case, self.verdict
        out: dict[str, Any] = {"source": c.source}
        if c.source == "own":
            out["category"] = c.use
            out["sql"] = c.sql if len(c.sql) <= 300 else c.sql[:300] + f" … ({len(c.sql)} chars)"
        else:
            out["line"] = c.line
            out["use"] = c.use
        out["class"] = v.cls
        out["detail"] = v.detail
        out["ms"] = round(v.elapsed_s * 1000, 1)
        if v.breaches:
            out["breaches"] = v.breaches
        if v.notes:
            out["notes"] = v.notes
        return out


def run_cases(cases: Sequence[Case], twins: Sequence[Target], progress: bool) -> list[Record]:
    """Run every case on both twins (and once more on twin a when they disagree)."""
    records = []
    started = time.perf_counter()
    for i, case in enumerate(cases, start=1):
        a_sql = case.sql.replace("{dir}", str(twins[0].dir))
        b_sql = case.sql.replace("{dir}", str(twins[1].dir))
        a = twins[0].run(a_sql)
        b = twins[1].run(b_sql)
        rerun = None
        if a.signature(str(twins[0].dir)) != b.signature(str(twins[1].dir)):
            rerun = twins[0].run(a_sql)
        records.append(Record(case, judge(case, a, b, rerun, twins)))
        if progress and (i % 500 == 0 or i == len(cases)):
            print(
                f"  {i}/{len(cases)} inputs, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
    return records


def _counts(records: Iterable[Record]) -> dict[str, int]:
    counts = Counter(r.verdict.cls for r in records)
    return {c: counts.get(c, 0) for c in CLASSES}


def summarize(records: Sequence[Record], twins: Sequence[Target]) -> dict[str, Any]:
    """Counts per payload file, per use, per own category; the invariants; the breaches."""
    payload = [r for r in records if r.case.source != "own"]
    own = [r for r in records if r.case.source == "own"]
    by_file = {
        name: _counts(r for r in payload if r.case.source == name)
        for name in sorted({r.case.source for r in payload})
    }
    by_use = {use: _counts(r for r in payload if r.case.use == use) for use in USES}
    by_category = {
        cat: _counts(r for r in own if r.case.use == cat)
        for cat in dict.fromkeys(r.case.use for r in own)
    }
    rules = Counter(r.verdict.detail for r in records if r.verdict.cls == "refused")
    stops = Counter(r.verdict.detail for r in records if r.verdict.cls == "stopped")
    chains = {}
    for twin in twins:
        report = verify_jsonl(twin.audit_path)
        chains[twin.twin] = {"ok": report.ok, "events": report.events, "problem": report.problem}
    unchanged = not any(twin.changed() for twin in twins)
    audited = sum(1 for r in records if r.verdict.audited)
    slowest = sorted(records, key=lambda r: r.verdict.elapsed_s, reverse=True)[:5]
    return {
        "total": _counts(records),
        "payload_inputs": len(payload),
        "own_inputs": len(own),
        "by_file": by_file,
        "by_use": by_use,
        "by_category": by_category,
        "refusals_by_rule": dict(rules.most_common()),
        "stops_by_reason": dict(stops.most_common()),
        "audit_chains": chains,
        "calls_fully_audited": audited,
        "database_unchanged": unchanged,
        "breaches": [_breach_entry(r) for r in records if r.verdict.cls == "breach"],
        "slowest": [
            {**_where(r), "ms": round(r.verdict.elapsed_s * 1000), "class": r.verdict.cls}
            for r in slowest
        ],
    }


def _where(record: Record) -> dict[str, Any]:
    c = record.case
    if c.source == "own":
        sql = c.sql if len(c.sql) <= 160 else c.sql[:160] + f" … ({len(c.sql)} chars)"
        return {"source": "own", "category": c.use, "sql": sql}
    return {"source": c.source, "line": c.line, "use": c.use}


def _breach_entry(record: Record) -> dict[str, Any]:
    return {**_where(record), "why": record.verdict.breaches}


# --- report ----------------------------------------------------------------------------


def _table(title: str, rows: dict[str, dict[str, int]], first: str) -> list[str]:
    lines = [
        f"| {title} | {first} | refused | stopped | harmless | breach |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    totals = Counter[str]()
    for name, counts in rows.items():
        n = sum(counts.values())
        totals.update(counts)
        cells = " | ".join(str(counts[c]) for c in CLASSES)
        lines.append(f"| {name} | {n} | {cells} |")
    cells = " | ".join(f"**{totals[c]}**" for c in CLASSES)
    lines.append(f"| **total** | **{sum(totals.values())}** | {cells} |")
    return lines


def render(results: dict[str, Any]) -> str:
    """The tables and the breaches, as Markdown."""
    s = results["summary"]
    lines = _table("payload file (× 3 uses)", s["by_file"], "inputs")
    lines += ["", *_table("payload used as", s["by_use"], "inputs")]
    lines += ["", *_table("own cases", s["by_category"], "cases")]
    lines += ["", "| refused by rule | inputs |", "|---|---:|"]
    lines += [f"| `{rule}` | {n} |" for rule, n in s["refusals_by_rule"].items()]
    lines += ["", "| stopped by | inputs |", "|---|---:|"]
    lines += [f"| {why} | {n} |" for why, n in s["stops_by_reason"].items()]
    chains = ", ".join(
        f"twin {t}: {'verified' if c['ok'] else 'BROKEN'} ({c['events']} events)"
        for t, c in s["audit_chains"].items()
    )
    total = sum(s["total"].values())
    lines += [
        "",
        f"- Audit: {s['calls_fully_audited']} of {total} inputs wrote start, decision and "
        f"end/error on both twins; JSONL chains {chains}.",
        "- Databases: "
        + (
            "both files byte-for-byte unchanged (sha256), no new files beside them."
            if s["database_unchanged"]
            else "**CHANGED** (see the breaches)."
        ),
    ]
    if s["breaches"]:
        lines += ["", f"Breaches ({len(s['breaches'])}):", ""]
        for entry in s["breaches"]:
            where = (
                f"`{entry['sql']}`"
                if entry["source"] == "own"
                else f"{entry['source']}:{entry['line']} ({entry['use']})"
            )
            lines.append(f"- {where}: " + "; ".join(entry["why"]))
    else:
        lines += ["", "No breaches."]
    return "\n".join(lines)


def results_section(results: dict[str, Any]) -> str:
    """The RESULTS.md section: setup, tables, breaches, and how to reproduce."""
    m, cfg, s = results["machine"], results["config"], results["summary"]
    return "\n".join(
        [
            HEADING,
            "",
            f"{results['date'][:10]}, {m['cpu_count']} CPUs, {m['implementation']} "
            f"{m['python']}, SQLite {m['sqlite']}; {s['payload_inputs']} payload inputs "
            f"({s['payload_inputs'] // 3} payload lines of {len(s['by_file'])} files, each "
            f"as the whole statement, inside a WHERE string literal and appended to a "
            f"query) and {s['own_inputs']} own cases, each run through `GovernedSQL.run` "
            f"as a region-filtered analyst on two twin databases that differ only in what "
            f"the analyst may not see; statement timeout {cfg['timeout_s']:g} s, row cap "
            f"{cfg['max_rows']}; {results['seconds']:.0f} s in all. A breach is any answer "
            "that differs between the twins, shows a hidden value, changes the database, "
            "crashes without a crossroads error, lacks its audit events, outlives the "
            "timeout, or (own cases) is not the outcome the case demands.",
            "",
            render(results),
            "",
            "Reproduce:",
            "",
            "```",
            results["command"],
            "```",
            "",
        ]
    )


def dump(results: dict[str, Any]) -> str:
    """The results as JSON, one line per input."""
    head = {k: v for k, v in results.items() if k != "cases"}
    text = json.dumps(head, indent=2, ensure_ascii=False)
    cases = ",\n".join("    " + json.dumps(c, ensure_ascii=False) for c in results["cases"])
    return text[:-2] + ',\n  "cases": [\n' + cases + "\n  ]\n}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"payload directory ({DEFAULT_DATA})"
    )
    parser.add_argument("--per-file", type=int, help="only the first N payloads of each file")
    parser.add_argument("--quick", action="store_true", help="skip the slow own cases")
    parser.add_argument(
        "--own", help="only these own-case categories (comma-separated; 'none' for none)"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="statement timeout (2 s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON ({DEFAULT_OUT})")
    parser.add_argument("--results", type=Path, help="update this RESULTS.md section")
    parser.add_argument("--strict", action="store_true", help="exit 1 when there is a breach")
    parser.add_argument("--progress", action="store_true", help="report progress on stderr")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a directory of payload files")

    categories = args.own.split(",") if args.own else None
    cases = payload_cases(args.data, args.per_file) + own_cases(args.quick, categories)
    catalog = Catalog.from_dict(POLICY)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sql-attacks-") as tmp:
        root = Path(tmp)
        twins = [Target(root, t, catalog, args.timeout) for t in ("a", "b")]
        try:
            records = run_cases(cases, twins, args.progress)
            summary = summarize(records, twins)
        finally:
            for twin in twins:
                twin.close()
    results: dict[str, Any] = {
        "benchmark": "sql_attacks",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": (
            "python benchmarks/sql_attacks.py "
            + " ".join(a for a in (argv if argv is not None else sys.argv[1:]) if a != "--progress")
        ).strip(),
        "machine": {**machine(), "sqlite": sqlite3.sqlite_version},
        "config": {
            "data": os.path.relpath(args.data.resolve(), REPO),
            "per_file": args.per_file,
            "quick": args.quick,
            "own": categories,
            "timeout_s": args.timeout,
            "max_rows": MAX_ROWS,
        },
        "seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "cases": [r.to_json() for r in records],
    }
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(results))
    print(f"\nwrote {args.out}")
    if args.results is not None:
        update_results(args.results, HEADING, results_section(results))
        print(f"updated {args.results}")
    return 1 if args.strict and summary["breaches"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
