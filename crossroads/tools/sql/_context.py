"""What the governance passes share: the statement's tree, who asks, and what was applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlglot import exp

from crossroads.connectors.base import Schema
from crossroads.errors import PolicyViolation
from crossroads.policy._principal import Principal

if TYPE_CHECKING:
    from crossroads.policy import Catalog

__all__ = [
    "COLUMN_TYPE",
    "POLICY_NODE",
    "GovernContext",
    "GovernancePass",
    "GovernedQuery",
    "deny",
    "node_position",
]

COLUMN_TYPE = "crossroads.type"
"""Meta key on a resolved column node: the declared type of the base column it reads."""
POLICY_NODE = "crossroads.policy"
"""Meta key on the root of a row filter or mask spliced into a statement: it is the
policy's expression, not the statement's, so it is not read in the statement's dialect."""


def node_position(node: exp.Expr | None) -> str:
    """``line L, column C`` of a node when the parser recorded it, else an empty string."""
    if node is None:
        return ""
    meta = getattr(node, "meta", None) or {}
    line, col = meta.get("line"), meta.get("col")
    if line is None:
        # the parser records positions on identifiers; look one level down
        for child in node.find_all(exp.Identifier):
            cmeta = child.meta or {}
            if cmeta.get("line") is not None:
                line, col = cmeta.get("line"), cmeta.get("col")
                break
    return f"line {line}, column {col}" if line is not None else ""


def deny(
    ctx: GovernContext,
    rule: str,
    message: str,
    *,
    node: exp.Expr | None = None,
    securable: str | None = None,
    privilege: str | None = None,
) -> PolicyViolation:
    """A denial naming the rule, the offending node and its position."""
    where = node_position(node)
    text = f"[{rule}] {message}"
    if node is not None:
        snippet = node.sql(dialect=ctx.read_dialect)
        if len(snippet) > 80:
            snippet = snippet[:77] + "..."
        text += f" (at {where}: {snippet})" if where else f" (at: {snippet})"
    return PolicyViolation(
        text,
        principal=ctx.principal.id,
        securable=securable or "sql:statement",
        rule=rule,
        privilege=privilege,
    )


@dataclass(slots=True)
class GovernContext:
    """Mutable state threaded through the passes of one statement."""

    sql: str
    """The statement as given."""
    principal: Principal
    catalog: Catalog
    schema: Schema
    """The live schema of the target database."""
    read_dialect: str
    """The dialect the statement is written in."""
    target_dialect: str
    """The dialect of the database it will run on."""
    max_rows: int
    tree: exp.Expr | None = None
    """The parse tree, rewritten pass by pass."""
    tables: set[str] = field(default_factory=set)
    """Base tables the statement reads (lower-cased names as in the schema)."""
    columns: set[tuple[str, str]] = field(default_factory=set)
    """``(table, column)`` pairs the statement reads."""
    grants: list[str] = field(default_factory=list)
    """Grants that allowed the reads (``describe()`` strings)."""
    row_filters: dict[str, list[str]] = field(default_factory=dict)
    """Table → bound predicates injected."""
    masks: dict[str, dict[str, str]] = field(default_factory=dict)
    """Table → column → mask expression applied."""
    rewrites: list[str] = field(default_factory=list)
    """Constructs written with their exact equivalent in the target (``LIKE → GLOB``)."""
    extra_functions: frozenset[str] = frozenset()
    """Function names allowed on top of the dialect's allow-list."""
    rendered: tuple[exp.Expr, str] | None = None
    """The tree last rendered in the target dialect, and the SQL (see ``to_target_sql``)."""

    @property
    def root(self) -> exp.Expr:
        """The parse tree; a pass that runs before parsing is a programming error."""
        assert self.tree is not None, "the parse pass must run first"
        return self.tree


class GovernancePass(Protocol):
    """One rule: inspects or rewrites ``ctx.tree``, or raises ``PolicyViolation``."""

    __name__: str

    def __call__(self, ctx: GovernContext) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernedQuery:
    """A statement after governance: what will run, and everything that was applied."""

    sql: str
    """The statement that will run, in the target dialect."""
    original_sql: str
    """The statement as given."""
    dialect: str
    """The target dialect."""
    tables: tuple[str, ...]
    """Base tables read."""
    columns: tuple[str, ...]
    """Base columns read, as ``table.column``."""
    row_filters: Mapping[str, tuple[str, ...]]
    """Table → predicates injected (bound to the principal's attributes)."""
    masks: Mapping[str, Mapping[str, str]]
    """Table → column → mask applied."""
    grants: tuple[str, ...]
    """The grants that allowed the reads."""
    max_rows: int
    """The row limit applied."""
    rewrites: tuple[str, ...] = ()
    """Constructs written with their exact equivalent in the target dialect
    (``LIKE → GLOB`` when a SQLite statement runs on PostgreSQL …)."""

    def policy_summary(self) -> dict[str, Any]:
        """What the audit log records of the governance applied."""
        return {
            "sql_before": self.original_sql,
            "sql_after": self.sql,
            "tables": list(self.tables),
            "columns": list(self.columns),
            "grants": list(self.grants),
            "row_filters": {t: list(p) for t, p in self.row_filters.items()},
            "masks": {t: dict(m) for t, m in self.masks.items()},
            "max_rows": self.max_rows,
            "rewrites": list(self.rewrites),
        }
