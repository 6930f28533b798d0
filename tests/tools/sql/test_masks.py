"""A masked value stays masked: it never shows, and no query can learn it.

``patients.ssn`` of patient 1 holds a sentinel, masked for the analyst. Each probe runs
on three databases, on SQLite and PostgreSQL:

- **a**: patient 1's ``ssn`` is the sentinel ``SENTINEL-7f3a``;
- **b**: the same, except that ``ssn`` is ``000-00-000`` (another length, every
  character different, sorting elsewhere);
- **mask**: every ``ssn`` really holds the mask's value, read by an officer whom the mask
  exempts.

The analyst's answers on a and b, and the officer's on mask, must be identical: the
answer is what it would be if the column really held the mask value, whatever the
real value is — through WHERE, ORDER BY, GROUP BY, HAVING, DISTINCT, windows, CASE,
string functions, aggregates, joins, subqueries, CTEs, set operations or errors. And
the sentinel (or its hex) appears in no cell, column name, error message or audit event.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crossroads.audit import AuditEvent, AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import PolicyViolation, SQLError
from crossroads.policy import Catalog, Principal
from crossroads.tools.sql import GovernedSQL

SENTINEL = "SENTINEL-7f3a"
OTHER = "000-00-000"
MASK = "***-**-****"
# The sentinel and its distinctive part, as text and as hex: none may appear.
FORBIDDEN = tuple(
    form.lower()
    for word in (SENTINEL, "7f3a")
    for form in (word, word.encode().hex(), word.upper().encode().hex())
)

POLICY = {
    "version": 1,
    "principals": {
        "analyst": {"groups": ["analysts"], "attributes": {"region": "EU"}},
        "officer": {"groups": ["analysts", "pv_officer"], "attributes": {"region": "EU"}},
    },
    "grants": [{"to": "group:analysts", "privilege": "SELECT", "on": "table:*"}],
    "row_filters": [{"on": "table:patients", "where": "region = :region"}],
    "column_masks": [
        {"on": "column:patients.ssn", "mask": f"'{MASK}'", "except": ["group:pv_officer"]}
    ],
}
SCHEMA = (
    "CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT, ssn TEXT, region TEXT)",
    "CREATE TABLE guesses (id INTEGER PRIMARY KEY, guess TEXT)",
    "INSERT INTO guesses VALUES (1, 'SENTINEL-7f3a'), (2, '000-00-000'), (3, '***-**-****'),"
    " (4, '123-45-6789'), (5, 'SENTINEL')",
)
VARIANTS = ("a", "b", "mask")


def _statements(variant: str) -> list[str]:
    first = {"a": SENTINEL, "b": OTHER, "mask": MASK}[variant]
    others = ("123-45-6789", "555-12-3456", "123-45-6789", "999-99-9999")
    if variant == "mask":
        others = (MASK,) * 4
    rows = [(1, "ann", first, "EU")]
    for i, (name, ssn, region) in enumerate(
        zip(("bo", "cy", "di", "ed"), others, ("EU", "EU", "EU", "US"), strict=True), start=2
    ):
        rows.append((i, name, ssn, region))
    values = ", ".join(f"({i}, '{n}', '{s}', '{r}')" for i, n, s, r in rows)
    return [*SCHEMA, f"INSERT INTO patients VALUES {values}"]


# --- the probes ---------------------------------------------------------------------------

BOTH, SQLITE, POSTGRES = ("sqlite", "postgres"), ("sqlite",), ("postgres",)
_SPELL = (
    "WITH RECURSIVE r(i, c) AS (SELECT 1, substr((SELECT ssn FROM patients WHERE id = 1), 1, 1)"
    " UNION ALL SELECT i + 1, substr((SELECT ssn FROM patients WHERE id = 1), i + 1, 1)"
    " FROM r WHERE i < 13) "
)
PROBES: list[tuple[str, str, tuple[str, ...]]] = [
    # WHERE
    ("where =", "SELECT count(*) FROM patients WHERE ssn = 'SENTINEL-7f3a'", BOTH),
    ("where <>", "SELECT id FROM patients WHERE ssn <> 'SENTINEL-7f3a' ORDER BY id", BOTH),
    ("where like prefix", "SELECT id FROM patients WHERE ssn LIKE 'SENT%' ORDER BY id", BOTH),
    ("where like suffix", "SELECT id FROM patients WHERE ssn LIKE '%7f3a' ORDER BY id", BOTH),
    ("where like one char", "SELECT id FROM patients WHERE ssn LIKE '_E%' ORDER BY id", BOTH),
    ("where glob", "SELECT id FROM patients WHERE ssn GLOB 'SENT*' ORDER BY id", SQLITE),
    ("where regex", "SELECT id FROM patients WHERE ssn ~ '^SEN' ORDER BY id", POSTGRES),
    (
        "where between",
        "SELECT id FROM patients WHERE ssn BETWEEN 'SENTINEL-7' AND 'SENTINEL-8' ORDER BY id",
        BOTH,
    ),
    (
        "where in",
        "SELECT id FROM patients WHERE ssn IN ('SENTINEL-7f3a', '000-00-000') ORDER BY id",
        BOTH,
    ),
    ("binary search >", "SELECT id FROM patients WHERE ssn > 'M' ORDER BY id", BOTH),
    ("binary search <", "SELECT id FROM patients WHERE ssn < '1' ORDER BY id", BOTH),
    ("binary search >=", "SELECT id FROM patients WHERE ssn >= 'SENTINEL-7f3a' ORDER BY id", BOTH),
    (
        "where null or empty",
        "SELECT id FROM patients WHERE ssn IS NULL OR ssn = '' ORDER BY id",
        BOTH,
    ),
    ("where upper", "SELECT id FROM patients WHERE upper(ssn) = 'SENTINEL-7F3A'", BOTH),
    ("where compares itself", "SELECT id FROM patients WHERE ssn = ssn ORDER BY id", BOTH),
    (
        "where like escape",
        "SELECT id FROM patients WHERE ssn LIKE 'S!%%' ESCAPE '!' ORDER BY id",
        BOTH,
    ),
    # ORDER BY
    ("order by", "SELECT id FROM patients ORDER BY ssn, id", BOTH),
    ("order by desc", "SELECT id FROM patients ORDER BY ssn DESC, id", BOTH),
    ("order by length", "SELECT id FROM patients ORDER BY length(ssn), id", BOTH),
    ("order by a char", "SELECT id FROM patients ORDER BY substr(ssn, 10, 1), id", BOTH),
    ("order by alias shadow", "SELECT name AS ssn FROM patients ORDER BY ssn || '', name", BOTH),
    # GROUP BY, HAVING, DISTINCT
    ("group by", "SELECT ssn, count(*) FROM patients GROUP BY ssn ORDER BY 2", BOTH),
    (
        "group by a char",
        "SELECT substr(ssn, 1, 1) AS c, count(*) FROM patients GROUP BY substr(ssn, 1, 1) "
        "ORDER BY 1",
        BOTH,
    ),
    ("having max", "SELECT count(*) FROM patients GROUP BY ssn HAVING max(ssn) > 'M'", BOTH),
    (
        "having min like",
        "SELECT id FROM patients GROUP BY id HAVING min(ssn) LIKE 'S%' ORDER BY id",
        BOTH,
    ),
    ("distinct", "SELECT DISTINCT ssn FROM patients", BOTH),
    ("count distinct", "SELECT count(DISTINCT ssn) FROM patients", BOTH),
    ("count distinct lengths", "SELECT count(DISTINCT length(ssn)) FROM patients", BOTH),
    # window functions
    ("window rank", "SELECT id, rank() OVER (ORDER BY ssn) FROM patients ORDER BY id", BOTH),
    ("window lag", "SELECT id, lag(ssn) OVER (ORDER BY id) FROM patients ORDER BY id", BOTH),
    (
        "window partition",
        "SELECT id, count(*) OVER (PARTITION BY ssn) FROM patients ORDER BY id",
        BOTH,
    ),
    (
        "window first value",
        "SELECT id, first_value(id) OVER (ORDER BY ssn DESC, id) FROM patients ORDER BY id",
        BOTH,
    ),
    # CASE
    (
        "case",
        "SELECT id, CASE WHEN ssn LIKE 'S%' THEN 'hit' ELSE 'miss' END FROM patients ORDER BY id",
        BOTH,
    ),
    (
        "case sum",
        "SELECT sum(CASE WHEN substr(ssn, 1, 1) = 'S' THEN 1 ELSE 0 END) FROM patients",
        BOTH,
    ),
    (
        "nullif",
        "SELECT coalesce(nullif(ssn, 'SENTINEL-7f3a'), 'was it') FROM patients ORDER BY id",
        BOTH,
    ),
    # string functions
    ("instr", "SELECT id, instr(ssn, '7f') FROM patients ORDER BY id", SQLITE),
    ("strpos", "SELECT id, strpos(ssn, '7f') FROM patients ORDER BY id", POSTGRES),
    ("substr", "SELECT id, substr(ssn, 1, 3) FROM patients ORDER BY id", BOTH),
    ("length", "SELECT id, length(ssn) FROM patients ORDER BY id", BOTH),
    ("hex", "SELECT id, hex(ssn) FROM patients ORDER BY id", SQLITE),
    ("unicode", "SELECT id, unicode(ssn) FROM patients ORDER BY id", SQLITE),
    ("ascii", "SELECT id, ascii(ssn) FROM patients ORDER BY id", POSTGRES),
    ("md5", "SELECT id, md5(ssn) FROM patients ORDER BY id", POSTGRES),
    ("reverse", "SELECT id, reverse(ssn) FROM patients ORDER BY id", POSTGRES),
    ("quote", "SELECT id, quote(ssn) FROM patients ORDER BY id", SQLITE),
    ("printf", "SELECT printf('%s|%d', ssn, length(ssn)) FROM patients ORDER BY id", SQLITE),
    ("replace", "SELECT id, replace(ssn, 'SENTINEL', '') FROM patients ORDER BY id", BOTH),
    ("upper lower", "SELECT id, lower(ssn) || '|' || upper(ssn) FROM patients ORDER BY id", BOTH),
    ("collate", "SELECT ssn COLLATE NOCASE FROM patients ORDER BY id", SQLITE),
    ("typeof", "SELECT typeof(ssn) FROM patients ORDER BY id", SQLITE),
    # aggregates
    ("min max", "SELECT min(ssn), max(ssn) FROM patients", BOTH),
    ("sum of lengths", "SELECT sum(length(ssn)), avg(length(ssn)) FROM patients", BOTH),
    ("group_concat", "SELECT group_concat(ssn, ',') FROM patients", SQLITE),
    ("string_agg", "SELECT string_agg(ssn, ',' ORDER BY id) FROM patients", POSTGRES),
    # joins on the masked column
    ("self join", "SELECT count(*) FROM patients a JOIN patients b ON a.ssn = b.ssn", BOTH),
    (
        "join guesses",
        "SELECT g.id FROM guesses g JOIN patients p ON p.ssn = g.guess ORDER BY g.id",
        BOTH,
    ),
    (
        "join like guesses",
        "SELECT g.id, count(p.id) FROM guesses g LEFT JOIN patients p ON p.ssn LIKE g.guess || "
        "'%' GROUP BY g.id ORDER BY g.id",
        BOTH,
    ),
    (
        "exists guesses",
        "SELECT g.id FROM guesses g WHERE EXISTS (SELECT 1 FROM patients p WHERE p.ssn = "
        "g.guess) ORDER BY g.id",
        BOTH,
    ),
    # subqueries
    ("scalar subquery", "SELECT (SELECT ssn FROM patients WHERE id = 1)", BOTH),
    ("in subquery", "SELECT count(*) FROM guesses WHERE guess IN (SELECT ssn FROM patients)", BOTH),
    (
        "compare subquery",
        "SELECT count(*) FROM guesses WHERE guess = (SELECT max(ssn) FROM patients)",
        BOTH,
    ),
    (
        "correlated",
        "SELECT id FROM patients p WHERE ssn > (SELECT ssn FROM patients WHERE id = 2) ORDER BY id",
        BOTH,
    ),
    (
        "limit subquery",
        "SELECT id FROM guesses ORDER BY id LIMIT (SELECT length(ssn) FROM patients WHERE id = "
        "1) - 8",
        BOTH,
    ),
    # CTEs
    (
        "cte",
        "WITH t AS (SELECT id, ssn FROM patients) SELECT id FROM t WHERE ssn LIKE 'SENT%'",
        BOTH,
    ),
    (
        "cte join",
        "WITH t(s) AS (SELECT ssn FROM patients WHERE id = 1) SELECT count(*) FROM t, guesses "
        "WHERE guesses.guess = t.s",
        BOTH,
    ),
    ("recursive cte spelling", _SPELL + "SELECT group_concat(c, '') FROM r", SQLITE),
    ("recursive cte spelling", _SPELL + "SELECT string_agg(c, '' ORDER BY i) FROM r", POSTGRES),
    # set operations with a guessed value
    ("intersect guess", "SELECT ssn FROM patients INTERSECT SELECT 'SENTINEL-7f3a'", BOTH),
    ("except guess", "SELECT 'SENTINEL-7f3a' EXCEPT SELECT ssn FROM patients", BOTH),
    (
        "union guess",
        "SELECT count(*) FROM (SELECT ssn FROM patients UNION SELECT 'SENTINEL-7f3a') AS t",
        BOTH,
    ),
    ("intersect guesses", "SELECT guess FROM guesses INTERSECT SELECT ssn FROM patients", BOTH),
    # errors
    ("cast integer", "SELECT CAST(ssn AS INTEGER) FROM patients ORDER BY id", BOTH),
    ("cast date", "SELECT CAST(ssn AS DATE) FROM patients WHERE id = 1", POSTGRES),
    ("cast numeric", "SELECT ssn::numeric FROM patients WHERE id = 1", POSTGRES),
    ("to_number", "SELECT to_number(ssn, '999') FROM patients WHERE id = 1", POSTGRES),
    (
        "division by zero",
        "SELECT 1 / (CASE WHEN ssn LIKE 'S%' THEN 0 ELSE 1 END) FROM patients ORDER BY id",
        BOTH,
    ),
    (
        "overflow",
        "SELECT abs(CASE WHEN ssn LIKE 'S%' THEN -9223372036854775807 - 1 ELSE 1 END) FROM "
        "patients",
        SQLITE,
    ),
    ("json error", "SELECT json_extract(ssn, '$') FROM patients WHERE id = 1", SQLITE),
    # plain reads
    ("star", "SELECT * FROM patients ORDER BY id", BOTH),
    ("qualified star", "SELECT p.* FROM patients AS p ORDER BY p.id", BOTH),
]


def _probe_params() -> list[Any]:
    params = []
    for name, sql, backends in PROBES:
        for backend in backends:
            marks = [pytest.mark.postgres] if backend == "postgres" else []
            params.append(pytest.param(backend, sql, id=f"{backend}-{name}", marks=marks))
    return params


# --- the databases -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call answered, comparable across the three databases."""

    kind: str
    answer: tuple[Any, ...]
    texts: tuple[str, ...]
    events: tuple[AuditEvent, ...]


class Probe:
    """One governed database and its audit log."""

    def __init__(self, url: str, catalog: Catalog, principal: Principal) -> None:
        self.db = SQLDatabase(url, timeout_s=5)
        self.audit = AuditLog.memory()
        self.tool = GovernedSQL(self.db, catalog, audit=self.audit, max_rows=50)
        self.principal = principal

    def run(self, sql: str) -> Outcome:
        before = len(self.audit.events())
        texts: tuple[str, ...]
        try:
            res = self.tool.run(sql, self.principal)
        except PolicyViolation as exc:
            kind, answer, texts = "refused", (exc.rule, _words(str(exc))), (str(exc),)
        except SQLError as exc:
            kind, answer, texts = "stopped", (type(exc).__name__, _words(str(exc))), (str(exc),)
        else:
            rows = tuple(tuple(repr(v) for v in row) for row in res.rows)
            kind, answer = "ran", (tuple(res.columns), rows, res.truncated)
            texts = (*res.columns, *(_text(v) for row in res.rows for v in row), res.sql)
        events = tuple(self.audit.events()[before:])
        return Outcome(kind, answer, texts, events)

    def close(self) -> None:
        self.db.close()


def _words(message: str) -> str:
    """An error's own words: without the statement it echoes, which carries the mask
    expression for the analyst and not for the officer."""
    return message.split("\n  SQL:", 1)[0].split(" (at ", 1)[0]


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return raw.decode("latin-1") + " " + raw.hex()
    return str(value)


def _probes(urls: dict[str, str]) -> dict[str, Probe]:
    catalog = Catalog.from_dict(POLICY)
    return {
        v: Probe(urls[v], catalog, catalog.principal("officer" if v == "mask" else "analyst"))
        for v in VARIANTS
    }


@pytest.fixture(scope="module")
def sqlite_probes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Probe]]:
    root = tmp_path_factory.mktemp("masks")
    urls = {}
    for variant in VARIANTS:
        path = root / f"{variant}.sqlite"
        con = sqlite3.connect(path)
        for statement in _statements(variant):
            con.execute(statement)
        con.commit()
        con.close()
        urls[variant] = f"sqlite:///{path}"
    probes = _probes(urls)
    yield probes
    for probe in probes.values():
        probe.close()


@pytest.fixture(scope="module")
def pg_probes(pg_url: str) -> Iterator[dict[str, Probe]]:
    """The three databases as schemas of the test database, dropped afterwards."""
    prefix = f"masks_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url)
    urls = {}
    try:
        for variant in VARIANTS:
            schema = f"{prefix}_{variant}"
            with engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
                conn.execute(text(f"SET LOCAL search_path TO {schema}"))
                for statement in _statements(variant):
                    conn.execute(text(statement))
            url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
            urls[variant] = url.render_as_string(hide_password=False)
        probes = _probes(urls)
        yield probes
        for probe in probes.values():
            probe.close()
    finally:
        with engine.begin() as conn:
            for variant in VARIANTS:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {prefix}_{variant} CASCADE"))
        engine.dispose()


@pytest.fixture
def probes(request: pytest.FixtureRequest, backend: str) -> dict[str, Probe]:
    name = "sqlite_probes" if backend == "sqlite" else "pg_probes"
    found: dict[str, Probe] = request.getfixturevalue(name)
    return found


# --- the tests --------------------------------------------------------------------------------


def _forbidden_in(texts: Iterable[str]) -> list[str]:
    blob = "\n".join(texts).lower()
    return [f for f in FORBIDDEN if f in blob]


@pytest.mark.parametrize(("backend", "sql"), _probe_params())
def test_the_answer_is_the_one_the_mask_value_gives(probes: dict[str, Probe], sql: str) -> None:
    a, b, mask = (probes[v].run(sql) for v in VARIANTS)
    assert a.answer == b.answer, f"the answer depends on the masked value: {a} != {b}"
    assert a.answer == mask.answer, f"not the answer the mask value gives: {a} != {mask}"
    assert a.kind in ("ran", "refused", "stopped")


@pytest.mark.parametrize(("backend", "sql"), _probe_params())
def test_the_sentinel_never_shows(probes: dict[str, Probe], sql: str) -> None:
    out = probes["a"].run(sql)
    stages = [e.stage for e in out.events]
    assert stages == ["start", "decision", "end" if out.kind == "ran" else "error"]
    if any(f in sql.lower() for f in FORBIDDEN):
        # the probe names the sentinel itself: only the database's own words are checked
        own_words = [_words(t) for t in out.texts] if out.kind != "ran" else []
        assert not _forbidden_in(own_words), out.texts
        return
    assert not _forbidden_in(out.texts), out.texts
    logged = [json.dumps(_content(e), default=str) for e in out.events]
    assert not _forbidden_in(logged), "the audit log holds the sentinel"


def _content(event: AuditEvent) -> dict[str, Any]:
    """What an event says, without its ids, hashes and time (random hex may hold "7f3a")."""
    d = event.decision
    return {
        "input": event.input,
        "decision": None if d is None else {"reason": d.reason, "rule": d.rule},
        "policy": event.policy,
        "result": event.result,
        "error": event.error,
    }


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_sentinel_is_really_there(probes: dict[str, Probe]) -> None:
    """The probes mean something: unmasked, patient 1's ssn is the sentinel."""
    catalog = Catalog.from_dict(POLICY)
    sql = "SELECT ssn FROM patients WHERE id = 1"
    assert probes["a"].tool.run(sql, catalog.principal("officer")).rows == [(SENTINEL,)]
    assert probes["a"].tool.run(sql, catalog.principal("analyst")).rows == [(MASK,)]


def test_probe_names_are_unique_per_backend() -> None:
    keys = [(name, backend) for name, _, backends in PROBES for backend in backends]
    assert len(keys) == len(set(keys))
