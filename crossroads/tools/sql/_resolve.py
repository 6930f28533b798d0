"""Passes 3 and 4: resolve every table and column against the live schema, and check
the principal's table and column grants on every base reference.

Tables are resolved first (unknown → denial with "did you mean"), their grants checked,
then sqlglot's ``qualify`` resolves columns through aliases, CTEs, subqueries,
correlated subqueries and set operations against a schema holding only the columns the
principal may read — so ``*`` expands to exactly those columns, and a column the
principal may not read is a denial rather than a silent omission.
"""

from __future__ import annotations

import difflib
import re

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from crossroads.tools.sql._context import GovernContext, deny

__all__ = ["column_grants", "resolve_tables", "table_grants"]

_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)")


def _hint(name: str, candidates: list[str]) -> str:
    near = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def resolve_tables(ctx: GovernContext) -> None:
    """Every table reference names a CTE or a table of the live schema."""
    ctx.cte_names = _cte_names(ctx.root)
    visible = [
        t.name
        for t in ctx.schema.tables.values()
        if ctx.catalog.visible_columns(ctx.principal, t.name, t.column_names)
    ]
    for table in ctx.root.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise deny(
                ctx,
                "sql.functions",
                "table-valued functions are not allowed in FROM; read tables by name",
                node=table,
            )
        name = table.name.lower()
        if name in ctx.cte_names and not table.db:
            continue
        if ctx.schema.table(name) is None:
            raise deny(
                ctx,
                "sql.unknown_table",
                f"there is no table {table.name!r}{_hint(table.name, visible)}",
                node=table,
                securable=f"table:{table.name}",
            )
        ctx.tables.add(name)


def table_grants(ctx: GovernContext) -> None:
    """SELECT on every base table read (through a table grant or a column grant)."""
    for name in sorted(ctx.tables):
        table = ctx.schema.table(name)
        assert table is not None
        if not ctx.catalog.visible_columns(ctx.principal, table.name, table.column_names):
            # raises the catalog's default-deny explanation
            ctx.catalog.check(ctx.principal, "SELECT", f"table:{table.name}")
        ctx.grants.append(f"SELECT on table:{table.name}")


def _visible_schema(ctx: GovernContext) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in ctx.tables:
        table = ctx.schema.table(name)
        assert table is not None
        cols = set(ctx.catalog.visible_columns(ctx.principal, table.name, table.column_names))
        out[table.name] = {c.name: c.type or "UNKNOWN" for c in table.columns if c.name in cols}
    return out


def _explain_unresolved(ctx: GovernContext, message: str, tree: exp.Expr) -> None:
    match = _UNRESOLVED.search(message)
    column = (match.group(1) or match.group(2)) if match else None
    if column is None:
        raise deny(ctx, "sql.resolve", f"the statement cannot be resolved: {message}")
    column = column.split(".")[-1].strip('"`')
    node = next((c for c in tree.find_all(exp.Column) if c.name.lower() == column.lower()), None)
    owners = [t.name for n in sorted(ctx.tables) if (t := ctx.schema.table(n)) and t.column(column)]
    visible: dict[str, list[str]] = {}
    for name in sorted(ctx.tables):
        table = ctx.schema.table(name)
        assert table is not None
        visible[table.name] = ctx.catalog.visible_columns(
            ctx.principal, table.name, table.column_names
        )
    visible_owners = [
        t for t, cols in visible.items() if any(c.lower() == column.lower() for c in cols)
    ]
    if len(visible_owners) > 1:
        raise deny(
            ctx,
            "sql.ambiguous_column",
            f"column {column!r} is in several tables of this query ({', '.join(visible_owners)}); "
            "qualify it with a table name or alias",
            node=node,
        )
    if owners and not visible_owners:
        raise deny(
            ctx,
            "sql.column_grant",
            f"principal {ctx.principal.id!r} may not read column {owners[0]}.{column}: no grant "
            f"gives SELECT on column:{owners[0]}.{column}. Ask an administrator for a column "
            "grant, or leave the column out",
            node=node,
            securable=f"column:{owners[0]}.{column}",
            privilege="SELECT",
        )
    names = sorted({c for cols in visible.values() for c in cols})
    raise deny(
        ctx,
        "sql.unknown_column",
        f"there is no column {column!r} in the tables this query reads{_hint(column, names)}",
        node=node,
    )


def _outermost_select(tree: exp.Expr) -> exp.Select | None:
    while isinstance(tree, exp.SetOperation | exp.Subquery):
        tree = tree.this
    return tree if isinstance(tree, exp.Select) else None


def _restore_output_names(original: exp.Expr, qualified: exp.Expr, dialect: str) -> None:
    """``qualify`` names unaliased outputs ``_col_N``; give them back the text the user
    wrote (``COUNT(*)``), as the database itself would have named them.

    ``qualify`` also rewrites ``ORDER BY COUNT(*)`` (or ``ORDER BY 2``) into a reference
    to that alias; such references become output positions (``ORDER BY 2``), since the
    restored name may be ambiguous and a reference to a name that is gone would be a
    string constant to SQLite (ordering nothing).
    """
    before, after = _outermost_select(original), _outermost_select(qualified)
    if before is None or after is None:
        return
    projections = before.expressions
    if any(p.is_star for p in projections):
        return  # star expansion shifted the positions
    if len(projections) != len(after.expressions):
        return
    positions: dict[str, int] = {}
    for i, (mine, theirs) in enumerate(zip(projections, after.expressions, strict=True)):
        if (
            not isinstance(mine, exp.Alias | exp.Column)
            and isinstance(theirs, exp.Alias)
            and theirs.alias.startswith("_col_")
        ):
            positions[theirs.alias] = i + 1
            bare = mine.transform(
                lambda n: exp.to_identifier(n.name) if isinstance(n, exp.Identifier) else n
            )
            theirs.set("alias", exp.to_identifier(bare.sql(dialect=dialect), quoted=True))
    if not positions:
        return
    node: exp.Expr | None = after
    while isinstance(node, exp.Expr):  # the select, then each set operation it leads
        _alias_refs_to_positions(node, positions)
        parent = node.parent
        node = parent if isinstance(parent, exp.SetOperation | exp.Subquery) else None


def _alias_refs_to_positions(query: exp.Expr, positions: dict[str, int]) -> None:
    order = query.args.get("order")
    distinct = query.args.get("distinct")
    refs: list[exp.Expr] = []
    if isinstance(order, exp.Order):
        refs += [o.this for o in order.expressions if isinstance(o, exp.Ordered)]
    if isinstance(distinct, exp.Distinct) and isinstance(distinct.args.get("on"), exp.Expr):
        refs += distinct.args["on"].expressions
    for ref in refs:
        if isinstance(ref, exp.Column) and not ref.table and ref.name in positions:
            ref.replace(exp.Literal.number(positions[ref.name]))


def column_grants(ctx: GovernContext) -> None:
    """Qualify every column against the principal's visible schema and record the reads."""
    tree = ctx.root.copy()
    try:
        qualified = qualify(
            tree,
            schema=_visible_schema(ctx),
            dialect=ctx.read_dialect,
            validate_qualify_columns=True,
            quote_identifiers=True,
        )
    except OptimizeError as exc:
        _explain_unresolved(ctx, str(exc), ctx.root)
        raise  # unreachable: _explain_unresolved always raises
    _restore_output_names(ctx.root, qualified, ctx.read_dialect)
    for scope in traverse_scope(qualified):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                table = ctx.schema.table(source.name)
                if table is not None:
                    ctx.columns.add((table.name, column.name))
    ctx.tree = qualified
