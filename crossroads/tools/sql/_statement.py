"""Passes 1a and 1b: parse exactly one statement, and make sure it only reads."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from crossroads.tools.sql._context import GovernContext, deny

__all__ = ["parse_single_statement", "read_only"]

# Statement and clause types that change data, schema, session or server state.
_FORBIDDEN: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Pragma,
    exp.Set,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Copy,
    exp.Use,
    exp.Into,
    exp.Lock,
    exp.Grant,
    exp.LoadData,
    exp.Analyze,
    exp.Describe,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.Kill,
)
_QUERY_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery)


def _sqlite_double_quoted_strings(ctx: GovernContext, tree: exp.Expr) -> None:
    """SQLite reads a double-quoted word that names no column as a string literal
    (Spider's gold queries rely on it). Do the same, so such queries resolve."""
    known = {c.name.lower() for t in ctx.schema.tables.values() for c in t.columns}
    known |= {a.alias.lower() for a in tree.find_all(exp.Alias) if a.alias}
    known |= {
        i.name.lower()
        for cte in tree.find_all(exp.CTE)
        for i in (cte.args.get("alias") or exp.TableAlias()).find_all(exp.Identifier)
    }
    for column in list(tree.find_all(exp.Column)):
        ident = column.this
        if (
            isinstance(ident, exp.Identifier)
            and ident.quoted
            and not column.table
            and ident.name.lower() not in known
        ):
            column.replace(exp.Literal.string(ident.name))


def parse_single_statement(ctx: GovernContext) -> None:
    """Exactly one statement, parseable in the source dialect, and it is a query."""
    try:
        statements = [s for s in sqlglot.parse(ctx.sql, read=ctx.read_dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        detail = str(exc).splitlines()[0]
        errors = getattr(exc, "errors", None) or []
        if errors:
            first = errors[0]
            detail = (
                f"{first.get('description')} at line {first.get('line')}, column "
                f"{first.get('col')} near {first.get('highlight')!r}"
            )
        raise deny(
            ctx,
            "sql.parse",
            f"the statement cannot be parsed as {ctx.read_dialect} SQL ({detail}); only "
            "statements that can be parsed are checked and run. Fix the syntax.",
        ) from None
    if len(statements) != 1:
        raise deny(
            ctx,
            "sql.single_statement",
            f"exactly one statement is allowed, got {len(statements)}; send them one at a time",
            node=statements[1] if len(statements) > 1 else None,
        )
    tree = statements[0]
    if not isinstance(tree, _QUERY_ROOTS):
        kind = type(tree).__name__.upper()
        raise deny(
            ctx,
            "sql.read_only",
            f"only queries (SELECT, set operations, WITH … SELECT) may run; this is {kind}",
            node=tree,
        )
    if ctx.read_dialect == "sqlite":
        _sqlite_double_quoted_strings(ctx, tree)
    ctx.tree = tree


def read_only(ctx: GovernContext) -> None:
    """No data-modifying, DDL, session, locking or ``SELECT … INTO`` construct anywhere."""
    for node in ctx.root.walk():
        if isinstance(node, _FORBIDDEN):
            if isinstance(node, exp.Into):
                what = "SELECT … INTO writes a table"
            elif isinstance(node, exp.Lock):
                what = "FOR UPDATE/SHARE takes row locks"
            else:
                what = f"{type(node).__name__.upper()} changes data, schema or session state"
            inside = " (inside a CTE)" if node.find_ancestor(exp.CTE) else ""
            raise deny(
                ctx,
                "sql.read_only",
                f"{what}{inside}; governed SQL is read-only",
                node=node,
            )
