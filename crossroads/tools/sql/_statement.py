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
    (Spider's gold queries rely on it). Do the same, so such queries resolve.

    Only double quotes: a name in backquotes or brackets is always a column to SQLite.
    A word is a column when a table the statement reads, an alias or a CTE names it.
    """
    if '"' not in ctx.sql:
        return
    tables: set[str] = set()
    known: set[str] = set()
    candidates: list[exp.Column] = []
    for node in tree.walk():
        if isinstance(node, exp.Column):
            ident = node.this
            if (
                isinstance(ident, exp.Identifier)
                and ident.quoted
                and not node.table
                and _double_quoted(ctx.sql, ident)
            ):
                candidates.append(node)
        elif isinstance(node, exp.Table):
            tables.add(node.name.lower())
        elif isinstance(node, exp.Alias):
            if node.alias:
                known.add(node.alias.lower())
        elif isinstance(node, exp.CTE):
            alias = node.args.get("alias") or exp.TableAlias()
            known |= {i.name.lower() for i in alias.find_all(exp.Identifier)}
    if not candidates:
        return
    for name in tables:
        table = ctx.schema.table(name)
        if table is not None:
            known |= {c.lower() for c in table.column_names}
    for column in candidates:
        if column.name.lower() not in known:
            column.replace(exp.Literal.string(column.name))


def _double_quoted(sql: str, ident: exp.Identifier) -> bool:
    start = (ident.meta or {}).get("start")
    if not isinstance(start, int) or not 0 <= start < len(sql):
        return True  # no position recorded: keep the double-quote reading
    return sql[start] == '"'


MAX_NODES = 20_000
"""The most parse-tree nodes a statement may have (a 50,000-value IN list has 50,010)."""
MAX_DEPTH = 1_000
"""The deepest a parse tree may nest (``a = 1 OR b = 2 OR …`` nests one level per term)."""


def _check_size(ctx: GovernContext, tree: exp.Expr) -> None:
    """Refuse statements too large to check in bounded time: the passes run before the
    database's statement timeout applies, and a 2,000-term OR chain took 4.5 s."""
    nodes, deepest = 0, 0
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        deepest = max(deepest, depth)
        if nodes > MAX_NODES or deepest > MAX_DEPTH:
            what = (
                f"more than {MAX_NODES:,} parse-tree nodes"
                if nodes > MAX_NODES
                else f"nesting deeper than {MAX_DEPTH:,} levels"
            )
            raise deny(
                ctx,
                "sql.size",
                f"the statement is too large to check in bounded time ({what}); split it, "
                "or use IN (...) instead of a long chain of OR",
            )
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def parse_single_statement(ctx: GovernContext) -> None:
    """Exactly one statement, parseable in the source dialect, and it is a query."""
    try:
        statements = [s for s in sqlglot.parse(ctx.sql, read=ctx.read_dialect) if s is not None]
    except RecursionError:
        raise deny(
            ctx,
            "sql.parse",
            "the statement is nested too deeply to be parsed and checked; flatten it "
            "(fewer nested parentheses, subqueries or NOTs)",
        ) from None
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
    _check_size(ctx, tree)
    _bare_in(ctx, tree)
    ctx.tree = tree


def _bare_in(ctx: GovernContext, tree: exp.Expr) -> None:
    """Refuse ``x IN name`` and ``x IN 'name'`` (no parentheses): SQLite reads the right
    side as a table, ``IN (SELECT * FROM name)``, which no grant, row filter or mask
    would see, since the parse tree holds a value there, not a table. Only
    ``IN (…)``, ``IN (SELECT …)`` and ``IN UNNEST(…)`` are accepted, in every dialect."""
    for node in tree.find_all(exp.In):
        field = node.args.get("field")
        if field is not None and not isinstance(field, exp.Unnest):
            raise deny(
                ctx,
                "sql.in_list",
                f"IN {field.sql(dialect=ctx.read_dialect)} needs parentheses: write "
                f"IN ({field.sql(dialect=ctx.read_dialect)}) for a list of values or "
                "IN (SELECT … FROM …) for a query (some databases read a bare name after "
                "IN as a whole table)",
                node=node,
            )


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
