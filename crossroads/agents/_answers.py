"""Running one route for the router, and turning what it returns into an answer.

:func:`run_route` calls the route's ``*.ask`` tool (through the runner, so the call is
governed and audited) and classifies the outcome the router checks: ``ok``,
``denied`` (a policy decision), ``empty`` (nothing found), ``ungrounded`` (an answer
without sources) or ``error``. :func:`sources_of` and :func:`governance_of` read the
route's own answer object into the router's :class:`AnswerSource` list and the
governance notes shown to the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from crossroads.agents._types import AnswerSource, Route
from crossroads.errors import CannotAnswer, CrossroadsError, PolicyViolation
from crossroads.policy._principal import Principal
from crossroads.tools.sql._nl import coverage

if TYPE_CHECKING:
    from crossroads.tools.graph import GraphQA
    from crossroads.tools.long_context import LongContext
    from crossroads.tools.rag import RAG
    from crossroads.tools.sql import GovernedSQL

__all__ = ["MIN_SQL_COVERAGE", "Outcome", "RouteTools", "governance_of", "run_route", "sources_of"]

OutcomeKind = Literal["ok", "denied", "empty", "ungrounded", "error"]
MIN_SQL_COVERAGE = 0.5
"""A deterministic SQL answer must use at least this share of the question's terms."""


@dataclass(frozen=True, slots=True)
class RouteTools:
    """The governed tools the router dispatches to (any may be missing)."""

    sql: GovernedSQL | None = None
    graph: GraphQA | None = None
    rag: RAG | None = None
    long_context: LongContext | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one route returned, as the router's check sees it."""

    route: Route
    kind: OutcomeKind
    reason: str = ""
    result: Any = None
    text: str = ""


def run_route(
    tools: RouteTools,
    route: Route,
    question: str,
    principal: Principal,
    *,
    scope: tuple[str, ...] | None = None,
    sql_coverage: float | None = None,
) -> Outcome:
    """Run ``route``'s ask tool on ``question``; never raises for a route's failure.
    ``sql_coverage`` is the share of the question the SQL lexicon links, when the
    classifier measured it already."""
    try:
        if route == "sql" and tools.sql is not None:
            sql = tools.sql.ask(question, principal)
            if not sql.result.rows:
                return Outcome(route, "empty", "the query returned no rows", sql, sql.text)
            if len(sql.result.rows) == 1 and all(v is None for v in sql.result.rows[0]):
                return Outcome(route, "empty", "the query returned only NULL", sql, sql.text)
            if sql.mode == "deterministic" and (
                sql_coverage is None or sql_coverage < MIN_SQL_COVERAGE
            ):
                share, missing = coverage(question, tools.sql.lexicon(principal))
                if share < MIN_SQL_COVERAGE:
                    # the query answers another question: "how many adverse events …"
                    # read without "adverse events" counts something else
                    return Outcome(
                        route,
                        "ungrounded",
                        f"the query could use only {share:.0%} of the question's terms "
                        f"(not {', '.join(repr(w) for w in missing)})",
                        sql,
                        sql.text,
                    )
            return Outcome(route, "ok", "", sql, sql.text)
        if route == "graph" and tools.graph is not None:
            graph = tools.graph.ask(question, principal)
            if not graph.answers:
                return Outcome(route, "empty", "no path reached an answer", graph, graph.text)
            return Outcome(route, "ok", "", graph, graph.text)
        if route == "rag" and tools.rag is not None:
            doc = tools.rag.ask(question, principal)
        elif route == "long_context" and tools.long_context is not None:
            doc = tools.long_context.ask(question, principal, collections=scope)
        else:
            return Outcome(route, "error", f"the {route} route is not configured")
        if not doc.sources:
            return Outcome(route, "ungrounded", "the answer cites no source", doc, doc.text)
        if doc.unsupported:
            return Outcome(
                route,
                "ungrounded",
                f"{len(doc.unsupported)} sentence(s) of the answer cite nothing",
                doc,
                doc.text,
            )
        return Outcome(route, "ok", "", doc, doc.text)
    except PolicyViolation as exc:
        return Outcome(route, "denied", str(exc))
    except CannotAnswer as exc:
        return Outcome(route, "empty", exc.reason)
    except CrossroadsError as exc:
        return Outcome(route, "error", f"{type(exc).__name__}: {exc}")


def sources_of(route: Route, result: Any, *, limit: int = 10) -> list[AnswerSource]:
    """The evidence of a route's answer object."""
    if result is None:
        return []
    if route == "sql":
        rows = len(result.result.rows)
        detail = f"{rows} row{'s' if rows != 1 else ''}"
        if result.result.truncated:
            detail += " (truncated by the row limit)"
        return [AnswerSource(kind="sql", ref=result.sql, detail=detail)]
    if route == "graph":
        path = str(result.relation_path)
        return [
            AnswerSource(kind="graph", ref=str(p), detail=f"path {path}")
            for p in result.paths[:limit]
        ]
    return [
        AnswerSource(
            kind="document",
            ref=s.chunk_id,
            detail=s.quote if len(s.quote) <= 300 else s.quote[:297] + "…",
            n=s.n,
        )
        for s in result.sources[:limit]
    ]


def governance_of(route: Route, result: Any) -> list[str]:
    """What governance changed in a route's answer, in words."""
    if result is None:
        return []
    notes: list[str] = []
    if route == "sql":
        governed = result.result.governed
        for table, predicates in governed.row_filters.items():
            notes.append(f"rows of {table} limited by the row filter {' AND '.join(predicates)}")
        for table, masks in governed.masks.items():
            for column in masks:
                notes.append(f"{table}.{column} masked")
        if result.result.truncated:
            notes.append("rows cut at the row limit")
    elif route == "graph" and result.truncated:
        notes.append("the traversal was cut at the fan-out limit")
    elif route in ("rag", "long_context"):
        collections = sorted({s.collection for s in result.sources})
        if collections:
            notes.append(
                "only documents you may read were searched (document rules of "
                + ", ".join(f"collection:{c}" for c in collections)
                + ")"
            )
    return notes
