"""Natural language → governed SQL, deterministic and LLM mode, on a real SQLite database."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import CannotAnswer, LLMError, PolicyViolation
from crossroads.policy import Catalog
from crossroads.tools.sql import GovernedSQL

SCHEMA = """
CREATE TABLE countries (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE singers (id INTEGER PRIMARY KEY, name TEXT,
                      country_id INTEGER REFERENCES countries(id),
                      age INTEGER, ssn TEXT, region TEXT);
CREATE TABLE concerts (id INTEGER PRIMARY KEY, title TEXT, year INTEGER,
                       singer_id INTEGER REFERENCES singers(id), held_on DATE);
CREATE TABLE payroll (id INTEGER PRIMARY KEY, singer_id INTEGER, salary REAL);
INSERT INTO countries VALUES (1, 'France'), (2, 'Germany'), (3, 'United States');
INSERT INTO singers VALUES
  (1, 'Ana Lima', 1, 34, '111-11-1111', 'EU'), (2, 'Ben Ode', 1, 51, '222-22-2222', 'EU'),
  (3, 'Cleo Hart', 2, 27, '333-33-3333', 'EU'), (4, 'Bob Smith', 3, 45, '444-44-4444', 'US');
INSERT INTO concerts VALUES
  (1, 'Spring Gala', 2018, 1, '2018-04-01'), (2, 'Summer Nights', 2019, 2, '2019-07-12'),
  (3, 'Autumn Leaves', 2019, 3, '2019-10-03'), (4, 'Winter Jam', 2020, 4, '2020-01-15');
INSERT INTO payroll VALUES (1, 1, 1000.0);
"""

POLICY = {
    "version": 1,
    "principals": {
        "eu": {"groups": ["analysts"], "attributes": {"region": "EU"}},
        "us": {"groups": ["analysts"], "attributes": {"region": "US"}},
        "nobody": {"groups": []},
    },
    "grants": [
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:countries"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:singers"},
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:concerts"},
    ],
    "row_filters": [{"on": "table:singers", "where": "region = :region"}],
    "column_masks": [{"on": "column:singers.ssn", "mask": "'***'"}],
}


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "music.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.commit()
    con.close()
    return path


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.from_dict(POLICY)


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog.memory()


@pytest.fixture
def sql(db_file: Path, catalog: Catalog, audit: AuditLog) -> Iterator[GovernedSQL]:
    with SQLDatabase(f"sqlite:///{db_file}") as db:
        yield GovernedSQL(db, catalog, audit=audit)


CASES = [
    ("How many singers are there?", [(3,)]),
    ("What is the average age of singers from France?", [(42.5,)]),
    ("Which singer is the oldest?", [("Ben Ode",)]),
    ("What is the maximum age of all singers?", [(51,)]),
    ("List the titles of concerts in 2019.", [("Summer Nights",), ("Autumn Leaves",)]),
    ("How many concerts are there in 2018 or 2020?", [(2,)]),
    ("Show the names of singers older than 30 ordered by age descending.",
     [("Ben Ode",), ("Ana Lima",)]),
    ("What are the names of singers whose age is at least 34?", [("Ana Lima",), ("Ben Ode",)]),
    ("How many singers are there for each country?", [(1, "France", 2), (2, "Germany", 1)]),
    ("Which country has the most singers?", [("France",)]),
    ("What are the titles of concerts by singers from Germany?", [("Autumn Leaves",)]),
    ("How many different countries do singers come from?", [(2,)]),
]  # fmt: skip


@pytest.mark.parametrize(("question", "rows"), CASES, ids=[q for q, _ in CASES])
def test_deterministic_questions(
    sql: GovernedSQL, catalog: Catalog, question: str, rows: list[tuple[object, ...]]
) -> None:
    answer = sql.ask(question, catalog.principal("eu"))
    assert answer.mode == "deterministic"
    assert sorted(answer.result.rows, key=repr) == sorted(rows, key=repr), answer.sql
    assert "SQL that ran:" in answer.text


def test_the_answer_states_the_number_the_governance_and_the_sql(
    sql: GovernedSQL, catalog: Catalog
) -> None:
    answer = sql.ask("How many singers are there?", catalog.principal("eu"))
    assert answer.text.startswith("The answer is 3.")
    assert "rows of singers filtered by region = 'EU'" in answer.text
    assert answer.sql in answer.text


def test_values_hidden_by_a_row_filter_are_never_linked(sql: GovernedSQL, catalog: Catalog) -> None:
    question = "How old is Bob Smith?"
    with pytest.raises(CannotAnswer, match="Bob"):
        sql.ask(question, catalog.principal("eu"))
    answer = sql.ask("What is the age of Bob Smith?", catalog.principal("us"))
    assert answer.result.rows == [(45,)]


def test_masked_values_are_not_indexed(sql: GovernedSQL, catalog: Catalog) -> None:
    lexicon = sql.lexicon(catalog.principal("eu"))
    assert not any(c == "ssn" for hits in lexicon.values.values() for _, c, _ in hits)
    assert "payroll" not in lexicon.columns  # no grant: not even its name is linkable


def test_unplaceable_terms_are_refused_not_guessed(sql: GovernedSQL, catalog: Catalog) -> None:
    eu = catalog.principal("eu")
    with pytest.raises(CannotAnswer, match="Narnia"):
        sql.ask("How many singers are from Narnia?", eu)
    with pytest.raises(CannotAnswer, match=r"salary|payroll|no table"):
        sql.ask("What is the total payroll salary?", eu)


def test_ask_is_audited_with_the_queries_nested(
    sql: GovernedSQL, catalog: Catalog, audit: AuditLog
) -> None:
    sql.lexicon(catalog.principal("eu"))  # index first, so the trace below is the question's
    before = len(audit.events())
    sql.ask("How many singers are there?", catalog.principal("eu"))
    events = audit.events()[before:]
    ask = [e for e in events if e.name == "sql.ask"]
    query = [e for e in events if e.name == "sql.query"]
    assert [e.stage for e in ask] == ["start", "decision", "end"]
    assert [e.stage for e in query] == ["start", "decision", "end"]
    assert {e.trace_id for e in events} == {ask[0].trace_id}
    assert query[0].parent_id == ask[0].span_id


def test_a_principal_without_grants_is_denied_and_audited(
    sql: GovernedSQL, catalog: Catalog, audit: AuditLog
) -> None:
    with pytest.raises(PolicyViolation):
        sql.ask("How many singers are there?", catalog.principal("nobody"))
    decision = next(e for e in audit.events() if e.stage == "decision")
    assert decision.decision is not None
    assert not decision.decision.allowed


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_llm_sql_is_governed_and_repaired(db_file: Path, catalog: Catalog, audit: AuditLog) -> None:
    before = _digest(db_file)
    model = ScriptedLLM([{"sql": "DROP TABLE singers"}, {"sql": "SELECT COUNT(*) FROM singers"}])
    with SQLDatabase(f"sqlite:///{db_file}") as db:
        sql = GovernedSQL(db, catalog, audit=audit, llm=model, index_values=0)
        answer = sql.ask("How many singers are there?", catalog.principal("eu"))
    assert answer.mode == "llm"
    assert answer.attempts == 2
    assert answer.result.rows == [(3,)]  # the row filter applies to model-written SQL too
    assert "read_only" in answer.notes[0]
    # the refusal was audited, and the model calls too
    denials = [e for e in audit.events() if e.decision is not None and not e.decision.allowed]
    assert denials
    assert denials[0].decision is not None
    assert denials[0].decision.rule == "sql.read_only"
    assert len([e for e in audit.events() if e.kind == "llm" and e.stage == "end"]) == 2
    # the repair prompt told the model what went wrong
    assert "read_only" in model.calls[1][-1].content
    assert _digest(db_file) == before


def test_a_model_that_keeps_writing_drop_table_is_refused(
    db_file: Path, catalog: Catalog, audit: AuditLog
) -> None:
    before = _digest(db_file)
    model = ScriptedLLM([{"sql": "DROP TABLE singers"}] * 3)
    with SQLDatabase(f"sqlite:///{db_file}") as db:
        sql = GovernedSQL(db, catalog, audit=audit, llm=model, max_repairs=2, index_values=0)
        with pytest.raises(PolicyViolation, match="read_only"):
            sql.ask("Delete everything", catalog.principal("eu"))
    assert len(model.calls) == 3
    assert audit.events()[-1].stage == "error"
    assert audit.verify().ok
    assert _digest(db_file) == before


def test_the_prompt_holds_only_the_visible_schema(
    db_file: Path, catalog: Catalog, audit: AuditLog
) -> None:
    model = ScriptedLLM([{"sql": "SELECT name FROM singers"}])
    with SQLDatabase(f"sqlite:///{db_file}") as db:
        sql = GovernedSQL(db, catalog, audit=audit, llm=model)
        sql.ask("Who are the singers?", catalog.principal("eu"))
    prompt = model.calls[0][0].content
    assert "singers" in prompt
    assert "payroll" not in prompt
    assert "salary" not in prompt
    assert "111-11-1111" not in prompt
    assert "masked" in prompt
    assert "Bob Smith" not in prompt  # a row the filter hides


def test_an_unavailable_model_falls_back_to_deterministic(
    db_file: Path, catalog: Catalog, audit: AuditLog
) -> None:
    model = ScriptedLLM([LLMError("service down", model="scripted")])
    with SQLDatabase(f"sqlite:///{db_file}") as db:
        sql = GovernedSQL(db, catalog, audit=audit, llm=model, index_values=0)
        answer = sql.ask("How many singers are there?", catalog.principal("eu"))
    assert answer.mode == "deterministic"
    assert answer.result.rows == [(3,)]
    assert "model failed" in answer.notes[0]
