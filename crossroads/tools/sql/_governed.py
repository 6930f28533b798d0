"""Governed SQL: the pipeline of passes, the ``sql.query`` and ``sql.schema`` tools, and
the :class:`GovernedSQL` front door."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from crossroads.audit import AuditLog
from crossroads.connectors.base import SQLBackend
from crossroads.errors import ConfigError
from crossroads.policy._principal import Principal
from crossroads.tools._runner import Permit, Tool, ToolRunner
from crossroads.tools.sql._context import GovernancePass, GovernContext, GovernedQuery
from crossroads.tools.sql._dialect import render_target, to_target_sql
from crossroads.tools.sql._functions import allowed_functions
from crossroads.tools.sql._limits import row_limit
from crossroads.tools.sql._resolve import column_grants, resolve_tables, table_grants
from crossroads.tools.sql._rewrite import row_filters_and_masks
from crossroads.tools.sql._statement import parse_single_statement, read_only

if TYPE_CHECKING:
    from crossroads.policy import Catalog

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
        db.validate(permitted.sql)
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
            except Exception:  # a filter the principal cannot satisfy still filters
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
        self.runner = runner if runner is not None else ToolRunner(catalog, audit=audit)
        self.runner.register(SQLQueryTool(self))
        self.runner.register(SQLSchemaTool(self))

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
        )

    def govern(self, sql: str, principal: Principal) -> GovernedQuery:
        """What would run for ``principal``, without running it (a dry run; not audited).

        Raises ``PolicyViolation`` naming the rule, the node and its position.
        """
        return self._govern(sql, principal, self.catalog)

    def run(self, sql: str, principal: Principal) -> SQLResult:
        """Govern and run ``sql`` as ``principal`` through the runner (audited)."""
        result: SQLResult = self.runner.call("sql.query", {"sql": sql}, principal=principal).value
        return result

    def schema(self, principal: Principal) -> list[VisibleTable]:
        """The tables and columns ``principal`` may query (audited)."""
        tables: list[VisibleTable] = self.runner.call("sql.schema", {}, principal=principal).value
        return tables
