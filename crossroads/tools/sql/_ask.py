"""Natural language → governed SQL → rows → an answer that states the result and the SQL.

Deterministic mode links the question to the principal's visible schema and values
(:mod:`._nl`); LLM mode prompts a model with that same visible schema, sample values and
examples, runs what it writes through the same governance, and feeds errors back for a
bounded number of repairs. Either way the SQL runs through the runner (``sql.query``,
nested under this call's ``sql.ask`` span), so every step is audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from crossroads.connectors.base import Message
from crossroads.errors import CannotAnswer, LLMError, PolicyViolation, SQLError
from crossroads.policy._principal import Principal
from crossroads.tools._runner import Permit, QuestionArgs, Tool
from crossroads.tools.sql._lexicon import Lexicon
from crossroads.tools.sql._nl import plan_query

if TYPE_CHECKING:
    from crossroads.connectors.llm import LLMGateway
    from crossroads.policy import Catalog
    from crossroads.tools.sql._governed import GovernedSQL, SQLResult

__all__ = ["SQLAnswer", "SQLAskTool", "answer_text", "llm_sql", "schema_prompt"]

_SQL_SCHEMA = {
    "type": "object",
    "properties": {"sql": {"type": "string", "description": "one read-only SQL query"}},
    "required": ["sql"],
    "additionalProperties": False,
}
_FENCE = re.compile(r"```(?:sql)?\s*(.*?)```", re.S | re.I)


@dataclass(frozen=True, slots=True, kw_only=True)
class SQLAnswer:
    """The answer to a question asked of the SQL route."""

    question: str
    sql: str
    """The SQL that ran (after governance, in the target dialect)."""
    result: SQLResult
    """The rows."""
    text: str
    """The answer in words: the number or list, what governance changed, and the SQL."""
    mode: Literal["deterministic", "llm"]
    """How the SQL was written."""
    notes: tuple[str, ...] = ()
    """How the question was read (deterministic) or what the model was told to fix (LLM)."""
    attempts: int = 1
    """Queries tried (LLM mode repairs after governance or database errors)."""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return "NULL" if value is None else str(value)


def answer_text(result: SQLResult) -> str:
    """The result in words, what governance changed, and the SQL that ran."""
    rows, cols = result.rows, result.columns
    if not rows:
        head = "No rows match."
    elif len(rows) == 1 and len(cols) == 1:
        head = f"The answer is {_cell(rows[0][0])}."
    elif len(cols) == 1:
        shown = ", ".join(_cell(r[0]) for r in rows[:20])
        more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
        head = f"{len(rows)} results: {shown}{more}."
    else:
        lines = [" | ".join(cols)] + [" | ".join(_cell(v) for v in r) for r in rows[:10]]
        more = f"\n… and {len(rows) - 10} more rows" if len(rows) > 10 else ""
        head = f"{len(rows)} row{'s' if len(rows) != 1 else ''}:\n" + "\n".join(lines) + more
    if result.truncated:
        head += (
            f"\n(Only the first {len(rows)} rows are shown: the result was cut at the row limit.)"
        )
    governed = result.governed
    changes = [
        f"rows of {table} filtered by {' AND '.join(preds)}"
        for table, preds in governed.row_filters.items()
    ] + [f"{table}.{column} masked" for table, masks in governed.masks.items() for column in masks]
    if changes:
        head += "\nGovernance applied: " + "; ".join(changes) + "."
    return f"{head}\nSQL that ran: {result.sql}"


def schema_prompt(lexicon: Lexicon, dialect: str, samples: int = 3) -> str:
    """The principal's visible schema as CREATE TABLE sketches with sample values."""
    out = []
    values: dict[tuple[str, str], list[str]] = {}
    for hits in lexicon.values.values():
        for table, column, value in hits:
            bucket = values.setdefault((table, column), [])
            if len(bucket) < samples and value not in bucket:
                bucket.append(value)
    for table, cols in lexicon.columns.items():
        lines = []
        for c in cols:
            note = []
            if c.primary_key:
                note.append("primary key")
            if (table, c.name) in lexicon.masked:
                note.append("masked for this user")
            if (table, c.name) in values:
                note.append("e.g. " + ", ".join(repr(v) for v in values[(table, c.name)]))
            suffix = f"  -- {'; '.join(note)}" if note else ""
            lines.append(f"  {c.name} {c.type or 'TEXT'}{suffix}")
        for t, fk, rt, rc in lexicon.foreign_keys:
            if t == table:
                lines.append(f"  FOREIGN KEY ({fk}) REFERENCES {rt}({rc})")
        out.append(f"CREATE TABLE {table} (\n" + ",\n".join(lines) + "\n);")
    return f"-- dialect: {dialect}\n" + "\n".join(out)


def _extract_sql(reply: Any, text: str) -> str:
    if isinstance(reply, dict) and isinstance(reply.get("sql"), str):
        return str(reply["sql"]).strip()
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()
    return str(data.get("sql", "")).strip() if isinstance(data, dict) else text.strip()


def llm_sql(
    governed: GovernedSQL,
    gateway: LLMGateway,
    question: str,
    principal: Principal,
    lexicon: Lexicon,
    *,
    examples: Sequence[tuple[str, str]],
    max_repairs: int,
) -> tuple[SQLResult, list[str], int]:
    """Ask the model for SQL, run it governed, repair on errors; ``(result, notes, tries)``."""
    dialect = governed.dialect
    system = (
        f"You write exactly one read-only SQL query in the {dialect} dialect that answers the "
        "user's question. Use only the tables and columns below: nothing else exists for this "
        'user. Do not modify data. Reply with JSON: {"sql": "..."}.\n\n'
        + schema_prompt(lexicon, dialect)
    )
    messages = [Message("system", system)]
    for q, sql in examples:
        messages += [Message("user", q), Message("assistant", json.dumps({"sql": sql}))]
    messages.append(Message("user", question))
    notes: list[str] = []
    last: Exception | None = None
    for attempt in range(1, max_repairs + 2):
        reply = gateway.complete(messages, principal=principal, json_schema=_SQL_SCHEMA)
        sql = _extract_sql(reply.data, reply.text)
        try:
            return governed.run(sql, principal), notes, attempt
        except (PolicyViolation, SQLError) as exc:
            last = exc
            problem = f"{type(exc).__name__}: {exc}"
            notes.append(f"attempt {attempt} refused: {problem}")
            messages += [
                Message("assistant", json.dumps({"sql": sql})),
                Message(
                    "user",
                    f"That query was not run: {problem}\nWrite a corrected query for the "
                    "same question, using only the tables and columns given.",
                ),
            ]
    assert last is not None
    raise last


class SQLAskTool(Tool[QuestionArgs, SQLAnswer]):
    """Answers a question in words with governed SQL (deterministic or LLM-written)."""

    name: ClassVar[str] = "sql.ask"
    description: ClassVar[str] = (
        "Answer a question from the tables you may query; states the result and the SQL."
    )
    Args: ClassVar[type[BaseModel]] = QuestionArgs

    def __init__(self, governed: GovernedSQL) -> None:
        self._governed = governed

    def authorize(self, args: QuestionArgs, principal: Principal, catalog: Catalog) -> Permit:
        """Allowed when the principal may read at least one table; every query it then
        runs is governed and audited on its own."""
        tables = self._governed.visible_tables(principal)
        if not tables:
            raise PolicyViolation(
                f"principal {principal.id!r} may read no table of this database, so no "
                "question can be answered from it; ask an administrator for SELECT grants",
                principal=principal.id,
                securable="table:*",
                rule="default deny",
                privilege="SELECT",
            )
        return Permit(
            args=(args.question, principal),
            reason=f"{len(tables)} tables visible to {principal.id}",
            rule="sql.schema_visibility",
            policy={"tables": tables},
        )

    def _execute(self, permitted: tuple[str, Principal]) -> SQLAnswer:
        question, principal = permitted
        return self._governed._answer(question, principal)

    def summarize(self, result: SQLAnswer) -> dict[str, Any]:
        """Mode, attempts and row count (the SQL is in the nested sql.query events)."""
        return {"mode": result.mode, "attempts": result.attempts, "rows": len(result.result.rows)}


def deterministic_sql(
    governed: GovernedSQL, question: str, principal: Principal, lexicon: Lexicon
) -> tuple[SQLResult, list[str]]:
    """Plan the question without a model and run the plan governed."""
    plan = plan_query(question, lexicon, dialect=governed.dialect)
    sql = plan.select.sql(dialect=governed.dialect)
    return governed.run(sql, principal), plan.notes


def answer(
    governed: GovernedSQL,
    gateway: LLMGateway | None,
    question: str,
    principal: Principal,
    lexicon: Lexicon,
    *,
    examples: Sequence[tuple[str, str]],
    max_repairs: int,
) -> SQLAnswer:
    """Deterministic or LLM mode; an unavailable model falls back to deterministic."""
    mode: Literal["deterministic", "llm"] = "deterministic"
    tries = 1
    if gateway is None:
        result, notes = deterministic_sql(governed, question, principal, lexicon)
    else:
        try:
            result, notes, tries = llm_sql(
                governed,
                gateway,
                question,
                principal,
                lexicon,
                examples=examples,
                max_repairs=max_repairs,
            )
            mode = "llm"
        except LLMError as exc:
            try:
                result, _ = deterministic_sql(governed, question, principal, lexicon)
            except CannotAnswer as inner:
                raise CannotAnswer(
                    f"the model failed ({exc}) and no query could be built without it: {inner}",
                    tool="sql.ask",
                    reason=inner.reason,
                ) from exc
            notes = [f"the model failed ({type(exc).__name__}); answered deterministically"]
    return SQLAnswer(
        question=question,
        sql=result.sql,
        result=result,
        text=answer_text(result),
        mode=mode,
        notes=tuple(notes),
        attempts=tries,
    )
