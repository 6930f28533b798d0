"""Governed SQL: the pipeline of passes, the ``sql.query`` and ``sql.schema`` tools, and
the :class:`GovernedSQL` front door."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp

from crossroads.audit import AuditLog, Decision
from crossroads.connectors.base import LLM, SQLBackend
from crossroads.errors import ConfigError, PolicyViolation
from crossroads.policy._principal import Principal
from crossroads.tools._runner import (
    Permit,
    Tool,
    ToolRunner,
    model_gateway,
    runner_for,
)
from crossroads.tools.sql._context import GovernancePass, GovernContext, GovernedQuery
from crossroads.tools.sql._dialect import render_target, to_target_sql
from crossroads.tools.sql._functions import allowed_functions
from crossroads.tools.sql._lexicon import ColumnInfo, Lexicon, fill_values
from crossroads.tools.sql._limits import row_limit
from crossroads.tools.sql._resolve import column_grants, resolve_tables, table_grants
from crossroads.tools.sql._rewrite import row_filters_and_masks
from crossroads.tools.sql._statement import parse_single_statement, read_only
from crossroads.tools.sql._variables import no_variables

if TYPE_CHECKING:
    from crossroads.connectors.llm import LLMGateway
    from crossroads.policy import Catalog
    from crossroads.tools.sql._ask import SQLAnswer

__all__ = [
    "DEFAULT_PASSES",
    "GovernedSQL",
    "SQLQueryTool",
    "SQLResult",
    "SQLSchemaTool",
    "VisibleColumn",
    "VisibleTable",
]

DEFAULT_PASSES: tuple[GovernancePass, ...] = (
    parse_single_statement,
    read_only,
    no_variables,
    allowed_functions,
    resolve_tables,
    table_grants,
    column_grants,
    row_filters_and_masks,
    row_limit,
    render_target,
)
"""The governance pipeline, in order. Pass your own tuple to ``GovernedSQL(passes=...)``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SQLResult:
    """Rows a governed statement returned."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    sql: str
    """The statement that ran (after governance, in the target dialect)."""
    truncated: bool
    """True when more rows existed than the row limit."""
    governed: GovernedQuery
    """Everything governance applied."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VisibleColumn:
    """A column as a principal sees it."""

    name: str
    type: str
    masked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class VisibleTable:
    """A table as a principal sees it: visible columns, and whether rows are filtered."""

    name: str
    columns: tuple[VisibleColumn, ...]
    row_filtered: bool


class _QueryArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: str = Field(min_length=1, description="One read-only SQL statement.")


class _NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SQLQueryTool(Tool[_QueryArgs, SQLResult]):
    """Runs one SQL statement after the governance pipeline, read-only, capped and timed."""

    name: ClassVar[str] = "sql.query"
    description: ClassVar[str] = (
        "Run one read-only SQL query; grants, row filters and column masks are applied."
    )
    Args: ClassVar[type[BaseModel]] = _QueryArgs

    def __init__(self, governed: GovernedSQL) -> None:
        self._governed = governed

    def authorize(self, args: _QueryArgs, principal: Principal, catalog: Catalog) -> Permit:
        """Run the governance passes; the permit carries the governed statement."""
        query = self._governed._govern(args.sql, principal, catalog)
        tables = ", ".join(f"table:{t}" for t in query.tables) or "no tables"
        return Permit(
            args=query,
            reason=f"SELECT granted on {tables}",
            rule="sql.governance",
            policy=query.policy_summary(),
        )

    def _execute(self, permitted: GovernedQuery) -> SQLResult:
        db = self._governed.db
        db.validate(permitted.sql, timeout_s=self._governed.timeout_s)
        result = db.execute(
            permitted.sql, max_rows=permitted.max_rows, timeout_s=self._governed.timeout_s
        )
        return SQLResult(
            columns=result.columns,
            rows=result.rows,
            sql=permitted.sql,
            truncated=result.truncated,
            governed=permitted,
        )

    def summarize(self, result: SQLResult) -> dict[str, Any]:
        """Row count, column names, truncation (never the rows themselves)."""
        return {
            "rows": len(result.rows),
            "columns": list(result.columns),
            "truncated": result.truncated,
        }


class SQLSchemaTool(Tool[_NoArgs, list[VisibleTable]]):
    """Lists the tables and columns the principal may read, with masks and filters marked."""

    name: ClassVar[str] = "sql.schema"
    description: ClassVar[str] = "List the tables and columns you may query."
    Args: ClassVar[type[BaseModel]] = _NoArgs

    def __init__(self, governed: GovernedSQL) -> None:
        self._governed = governed

    def authorize(self, args: _NoArgs, principal: Principal, catalog: Catalog) -> Permit:
        """The permit carries exactly the part of the schema the principal may see."""
        tables: list[VisibleTable] = []
        for table in self._governed.db.schema().tables.values():
            visible = catalog.visible_columns(principal, table.name, table.column_names)
            if not visible:
                continue
            masks = catalog.masks_for(principal, table.name, visible)
            try:
                filtered = bool(catalog.row_filters_for(principal, table.name))
            except PolicyViolation:  # a filter the principal cannot satisfy still filters
                filtered = True
            cols = tuple(
                VisibleColumn(name=c.name, type=c.type, masked=c.name in masks)
                for c in table.columns
                if c.name in visible
            )
            tables.append(VisibleTable(name=table.name, columns=cols, row_filtered=filtered))
        return Permit(
            args=tables,
            reason=f"{len(tables)} tables visible to {principal.id}",
            rule="sql.schema_visibility",
            policy={"tables": [t.name for t in tables]},
        )

    def _execute(self, permitted: list[VisibleTable]) -> list[VisibleTable]:
        return permitted

    def summarize(self, result: list[VisibleTable]) -> dict[str, Any]:
        """How many tables and columns were listed."""
        return {"tables": len(result), "columns": sum(len(t.columns) for t in result)}


_MAX_PRINCIPALS = 4096
"""Principals whose view key is remembered (least recently used forgotten first)."""
_MAX_LEXICONS = 64
"""Distinct views whose lexicon (schema phrases and value index) is kept."""


class GovernedSQL:
    """Text-to-SQL's governed executor: every statement is parsed, checked against
    grants, rewritten with row filters and masks, limited, and run read-only — through
    the audited runner.

    >>> tool = GovernedSQL(SQLDatabase("sqlite:///shop.db"), catalog)  # doctest: +SKIP
    >>> tool.govern("SELECT * FROM sales", alice).sql                  # doctest: +SKIP
    >>> tool.run("SELECT region, SUM(amount) FROM sales GROUP BY 1", alice).rows  # doctest: +SKIP
    """

    def __init__(
        self,
        db: SQLBackend,
        catalog: Catalog,
        *,
        audit: AuditLog | None = None,
        runner: ToolRunner | None = None,
        dialect: str | None = None,
        max_rows: int = 1000,
        timeout_s: float = 30.0,
        allow_functions: Iterable[str] = (),
        passes: Sequence[GovernancePass] = DEFAULT_PASSES,
        llm: LLMGateway | LLM | None = None,
        synonyms: Mapping[str, str] | None = None,
        examples: Sequence[tuple[str, str]] = (),
        max_repairs: int = 2,
        index_values: int = 1000,
    ) -> None:
        if max_rows < 1:
            raise ConfigError(f"max_rows must be at least 1, got {max_rows}")
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive, got {timeout_s}")
        self.db = db
        self.catalog = catalog
        self.dialect = dialect or db.dialect
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self.passes = tuple(passes)
        self._extra_functions = frozenset(f.lower() for f in allow_functions)
        if not self.passes or self.passes[0] is not parse_single_statement:
            raise ConfigError(
                "the governance passes must start with parse_single_statement (every later "
                "pass reads the parse tree it makes); pass DEFAULT_PASSES or a tuple that "
                "starts with it"
            )
        self.runner = runner_for("GovernedSQL", catalog, runner, audit)
        self.synonyms = dict(synonyms or {})
        self.examples = tuple(examples)
        self.max_repairs = max_repairs
        self.index_values = index_values
        self.llm = model_gateway(llm, self.runner.audit)
        # principal → (catalog version, its view's key); view key → lexicon. Principals
        # with the same view (visible columns, masks, bound row filters) share one
        # lexicon, and both maps are bounded (least recently used out first).
        self._views: OrderedDict[Principal, tuple[int, Hashable]] = OrderedDict()
        self._lexicons: OrderedDict[Hashable, Lexicon] = OrderedDict()
        self._lexicon_lock = threading.Lock()
        from crossroads.tools.sql._ask import SQLAskTool

        self.runner.register(SQLQueryTool(self))
        self.runner.register(SQLSchemaTool(self))
        self.runner.register(SQLAskTool(self))

    def _govern(self, sql: str, principal: Principal, catalog: Catalog) -> GovernedQuery:
        ctx = GovernContext(
            sql=sql,
            principal=principal,
            catalog=catalog,
            schema=self.db.schema(),
            read_dialect=self.dialect,
            target_dialect=self.db.dialect,
            max_rows=self.max_rows,
            extra_functions=self._extra_functions,
        )
        for rule in self.passes:
            rule(ctx)
        return GovernedQuery(
            sql=to_target_sql(ctx),
            original_sql=sql,
            dialect=ctx.target_dialect,
            tables=tuple(sorted(ctx.tables)),
            columns=tuple(sorted(f"{t}.{c}" for t, c in ctx.columns)),
            row_filters={t: tuple(p) for t, p in ctx.row_filters.items()},
            masks={t: dict(m) for t, m in ctx.masks.items()},
            grants=tuple(ctx.grants),
            max_rows=self.max_rows,
            rewrites=tuple(ctx.rewrites),
        )

    def govern(self, sql: str, principal: Principal) -> GovernedQuery:
        """What would run for ``principal``, without running it (a dry run).

        Raises ``PolicyViolation`` naming the rule, the node and its position; a denial
        is audited (a ``policy`` event named ``sql.govern``), so probing the policy with
        dry runs leaves a trail too.
        """
        try:
            return self._govern(sql, principal, self.catalog)
        except PolicyViolation as exc:
            self.runner.audit.emit(
                kind="policy",
                name="sql.govern",
                principal=principal,
                stage="decision",
                input={"sql": sql},
                decision=Decision(allowed=False, reason=str(exc), rule=exc.rule),
                policy={"securable": exc.securable, "privilege": exc.privilege},
            )
            raise

    def run(self, sql: str, principal: Principal) -> SQLResult:
        """Govern and run ``sql`` as ``principal`` through the runner (audited)."""
        result: SQLResult = self.runner.call("sql.query", {"sql": sql}, principal=principal).value
        return result

    def ask(self, question: str, principal: Principal) -> SQLAnswer:
        """Answer ``question`` with governed SQL (audited as ``sql.ask`` with the queries
        nested under it). Raises ``CannotAnswer`` when no query can be built from the
        question — never a silent guess — and ``PolicyViolation`` when denied."""
        answer: SQLAnswer = self.runner.call(
            "sql.ask", {"question": question}, principal=principal
        ).value
        return answer

    def visible_tables(self, principal: Principal) -> list[str]:
        """Names of the tables ``principal`` may read at least one column of."""
        return [
            t.name
            for t in self.db.schema().tables.values()
            if self.catalog.visible_columns(principal, t.name, t.column_names)
        ]

    def lexicon(self, principal: Principal) -> Lexicon:
        """The principal's visible schema as linking phrases, with the text values it may
        see (fetched once through governed, audited queries; refreshed when the catalog
        changes)."""
        version = self.catalog.version
        with self._lexicon_lock:
            seen = self._views.get(principal)
            if seen is not None and seen[0] == version and seen[1] in self._lexicons:
                self._views.move_to_end(principal)
                self._lexicons.move_to_end(seen[1])
                return self._lexicons[seen[1]]
        schema = self.db.schema()
        columns: dict[str, list[ColumnInfo]] = {}
        masked: set[tuple[str, str]] = set()
        for table in schema.tables.values():
            visible = self.catalog.visible_columns(principal, table.name, table.column_names)
            if not visible:
                continue
            columns[table.name] = [
                ColumnInfo(table.name, c.name, c.type, c.primary_key)
                for c in table.columns
                if c.name in visible
            ]
            masked |= {
                (table.name, c) for c in self.catalog.masks_for(principal, table.name, visible)
            }
        fks = [
            (t.name, fk.columns[0], fk.ref_table, fk.ref_columns[0])
            for t in schema.tables.values()
            for fk in t.foreign_keys
            if len(fk.columns) == 1
            and t.name in columns
            and fk.ref_table in columns
            and any(c.name == fk.columns[0] for c in columns[t.name])
            and any(c.name == fk.ref_columns[0] for c in columns[fk.ref_table])
        ]
        key = (version, self._view_key(principal, columns, masked))
        with self._lexicon_lock:
            shared = self._lexicons.get(key)
            if shared is not None:
                self._remember(principal, version, key, shared)
                return shared
        lexicon = Lexicon(columns=columns, foreign_keys=fks, masked=frozenset(masked))
        lexicon.add_synonyms(self.synonyms)
        if self.index_values:
            fill_values(lexicon, lambda t, c: self._distinct(t, c, principal))
        with self._lexicon_lock:
            self._remember(principal, version, key, lexicon)
        return lexicon

    def _view_key(
        self,
        principal: Principal,
        columns: Mapping[str, list[ColumnInfo]],
        masked: set[tuple[str, str]],
    ) -> Hashable:
        """What a principal's lexicon depends on: its visible columns, its masks and its
        row filters as bound to its attributes (not its id)."""
        filters = []
        for table in sorted(columns):
            try:
                bound = [f.predicate.sql() for f in self.catalog.row_filters_for(principal, table)]
            except PolicyViolation as exc:
                bound = [f"denied: {exc.rule}"]
            filters.append((table, tuple(bound)))
        visible = tuple((t, tuple(c.name for c in cols)) for t, cols in sorted(columns.items()))
        return (visible, tuple(sorted(masked)), tuple(filters))

    def _remember(
        self, principal: Principal, version: int, key: Hashable, lexicon: Lexicon
    ) -> None:
        self._views[principal] = (version, key)
        self._views.move_to_end(principal)
        self._lexicons[key] = lexicon
        self._lexicons.move_to_end(key)
        while len(self._views) > _MAX_PRINCIPALS:
            self._views.popitem(last=False)
        while len(self._lexicons) > _MAX_LEXICONS:
            self._lexicons.popitem(last=False)

    def _distinct(self, table: str, column: str, principal: Principal) -> list[Any]:
        col = exp.column(column, quoted=True)
        query = (
            exp.select(col)
            .distinct()
            .from_(exp.to_table(table, quoted=True))
            .where(exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())))
            .limit(self.index_values)
        )
        try:
            return [row[0] for row in self.run(query.sql(dialect=self.dialect), principal).rows]
        except PolicyViolation:
            return []  # e.g. a row filter needing an attribute the principal lacks

    def _answer(self, question: str, principal: Principal) -> SQLAnswer:
        from crossroads.tools.sql._ask import answer

        return answer(
            self,
            self.llm,
            question,
            principal,
            self.lexicon(principal),
            examples=self.examples,
            max_repairs=self.max_repairs,
        )

    def schema(self, principal: Principal) -> list[VisibleTable]:
        """The tables and columns ``principal`` may query (audited)."""
        tables: list[VisibleTable] = self.runner.call("sql.schema", {}, principal=principal).value
        return tables
