"""Passes 3 and 4: resolve every table and column against the live schema, and check
the principal's table and column grants on every base reference.

Tables are resolved first (unknown → denial with "did you mean"), their grants checked,
then sqlglot's ``qualify`` resolves columns through aliases, CTEs, subqueries,
correlated subqueries and set operations against a schema holding only the columns the
principal may read — so ``*`` expands to exactly those columns, and a column the
principal may not read is a denial rather than a silent omission.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import threading
from collections import OrderedDict

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from crossroads.connectors.base import Schema, Table
from crossroads.tools.sql._context import COLUMN_TYPE, GovernContext, deny

__all__ = ["column_grants", "resolve_tables", "table_grants"]

# MySQL compares column names (and, as crossroads resolves them, table names) without
# regard to case, quoted or not; sqlglot's MySQL dialect keeps the case of quoted names.
_QUALIFY_DIALECT = {"mysql": "mysql, normalization_strategy = case_insensitive"}
_dialects: dict[str, Dialect] = {}


def _qualify_dialect(read: str) -> Dialect:
    found = _dialects.get(read)
    if found is None:
        found = _dialects[read] = Dialect.get_or_raise(_QUALIFY_DIALECT.get(read, read))
    return found


_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)")


def _hint(name: str, candidates: list[str]) -> str:
    near = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


def _cte_references(tree: exp.Expr) -> set[int]:
    """The ``id`` of every table reference that reads a CTE, by SQL's scoping rules.

    A CTE is visible only in the query that defines it (and that query's subqueries), so
    a name is resolved per scope: ``secret`` outside a subquery that defines a CTE
    ``secret`` is the base table. A reference the scope analysis does not reach is left
    out, and so checked as a base table (fail closed).
    """
    refs: set[int] = set()
    for scope in traverse_scope(tree):
        for table in scope.tables:
            source = scope.sources.get(table.alias_or_name)
            if isinstance(source, Scope) and source.is_cte and not table.db:
                refs.add(id(table))
    return refs


def _qualifier_allowed(ctx: GovernContext, ref: exp.Table, table: Table) -> bool:
    """A qualified name (``schema.table``) must name the schema this connection reads."""
    if ref.args.get("catalog") is not None:
        return False
    qualifier = ref.db.lower()
    if table.schema is not None:
        return qualifier == table.schema.lower()
    return ctx.target_dialect == "sqlite" and qualifier == "main"


def resolve_tables(ctx: GovernContext) -> None:
    """Every table reference names a CTE in scope or a table of the live schema."""
    tables: list[exp.Table] = []
    cte_names: set[str] = set()
    for node in ctx.root.find_all(exp.Table, exp.CTE):
        if isinstance(node, exp.Table):
            tables.append(node)
        else:
            cte_names.add(node.alias_or_name.lower())
    maybe_cte = cte_names and any(t.name.lower() in cte_names for t in tables)
    try:
        cte_refs = _cte_references(ctx.root) if maybe_cte else set()
    except OptimizeError as exc:
        raise deny(ctx, "sql.resolve", f"the statement cannot be resolved: {exc}") from None
    for ref in tables:
        if not isinstance(ref.this, exp.Identifier):
            raise deny(
                ctx,
                "sql.functions",
                "table-valued functions are not allowed in FROM; read tables by name",
                node=ref,
            )
        if id(ref) in cte_refs:
            continue
        name = ref.name.lower()
        table = ctx.schema.table(name)
        if table is None:
            raise deny(
                ctx,
                "sql.unknown_table",
                f"there is no table {ref.name!r}{_hint(ref.name, _visible_tables(ctx))}",
                node=ref,
                securable=f"table:{ref.name}",
            )
        if ref.db and not _qualifier_allowed(ctx, ref, table):
            where = f"schema {table.schema!r}" if table.schema else "its default schema"
            raise deny(
                ctx,
                "sql.unknown_table",
                f"{ref.sql(dialect=ctx.read_dialect)!r} names a table outside the schema this "
                f"connection reads ({where}); write the table name alone: {table.name}",
                node=ref,
                securable=f"table:{ref.sql(dialect=ctx.read_dialect)}",
            )
        ctx.tables.add(name)


def _visible_tables(ctx: GovernContext) -> list[str]:
    return [
        t.name
        for t in ctx.schema.tables.values()
        if ctx.catalog.visible_columns(ctx.principal, t.name, t.column_names)
    ]


def table_grants(ctx: GovernContext) -> None:
    """SELECT on every base table read (through a table grant or a column grant)."""
    for name in sorted(ctx.tables):
        table = ctx.schema.table(name)
        assert table is not None
        if not ctx.catalog.visible_columns(ctx.principal, table.name, table.column_names):
            # raises the catalog's default-deny explanation
            ctx.catalog.check(ctx.principal, "SELECT", f"table:{table.name}")
        ctx.grants.append(f"SELECT on table:{table.name}")


_SCHEMA_CACHE_SIZE = 256
_schema_cache: OrderedDict[tuple[object, ...], tuple[Schema, MappingSchema]] = OrderedDict()
_schema_lock = threading.Lock()


def _visible_schema(ctx: GovernContext) -> MappingSchema:
    """The tables the statement reads, with only the columns the principal may read.

    sqlglot normalises a schema when it is built, which costs more than qualifying a
    short query; so the built schema is reused while the database schema, the dialect
    and the visible columns are the same.
    """
    visible: list[tuple[str, tuple[str, ...]]] = []
    for name in sorted(ctx.tables):
        table = ctx.schema.table(name)
        assert table is not None
        cols = ctx.catalog.visible_columns(ctx.principal, table.name, table.column_names)
        visible.append((table.name, tuple(cols)))
    key = (id(ctx.schema), ctx.read_dialect, tuple(visible))
    with _schema_lock:
        hit = _schema_cache.get(key)
        if hit is not None and hit[0] is ctx.schema:
            _schema_cache.move_to_end(key)
            return hit[1]
    mapping: dict[str, object] = {}
    for table_name, names in visible:
        table = ctx.schema.table(table_name)
        assert table is not None
        wanted = set(names)
        mapping[table.name] = {
            c.name: c.type or "UNKNOWN" for c in table.columns if c.name in wanted
        }
    built = MappingSchema(mapping, dialect=_qualify_dialect(ctx.read_dialect))
    with _schema_lock:
        _schema_cache[key] = (ctx.schema, built)
        while len(_schema_cache) > _SCHEMA_CACHE_SIZE:
            _schema_cache.popitem(last=False)
    return built


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


def _output_texts(tree: exp.Expr, dialect: str) -> list[str | None] | None:
    """Before ``qualify``: per output of the outermost select, the text the user wrote
    for an unaliased expression (None for a column or an alias); None when ``*`` is
    selected (its expansion shifts the positions)."""
    select = _outermost_select(tree)
    if select is None or any(p.is_star for p in select.expressions):
        return None
    texts: list[str | None] = []
    for mine in select.expressions:
        if isinstance(mine, exp.Alias | exp.Column):
            texts.append(None)
            continue
        bare = mine.transform(
            lambda n: exp.to_identifier(n.name) if isinstance(n, exp.Identifier) else n
        )
        texts.append(bare.sql(dialect=dialect))
    return texts


def _restore_output_names(texts: list[str | None], qualified: exp.Expr) -> None:
    """``qualify`` names unaliased outputs ``_col_N``; give them back the text the user
    wrote (``COUNT(*)``), as the database itself would have named them.

    ``qualify`` also rewrites ``ORDER BY COUNT(*)`` (or ``ORDER BY 2``) into a reference
    to that alias; such references become output positions (``ORDER BY 2``), since the
    restored name may be ambiguous and a reference to a name that is gone would be a
    string constant to SQLite (ordering nothing).
    """
    after = _outermost_select(qualified)
    if after is None or len(texts) != len(after.expressions):
        return
    positions: dict[str, int] = {}
    for i, (text, theirs) in enumerate(zip(texts, after.expressions, strict=True)):
        if text is not None and isinstance(theirs, exp.Alias) and theirs.alias.startswith("_col_"):
            positions[theirs.alias] = i + 1
            theirs.set("alias", exp.to_identifier(text, quoted=True))
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


_TOO_DEEP = (
    "the statement is nested too deeply to be checked; flatten the expression (fewer "
    "nested parentheses, subqueries or NOTs)"
)


def column_grants(ctx: GovernContext) -> None:
    """Qualify every column against the principal's visible schema and record the reads.

    After sqlglot's ``qualify``, every column names its table, except a bare output name
    in ORDER BY (which both SQLite and PostgreSQL read as the output column). A name
    ``qualify`` leaves bare elsewhere would be resolved by the database, possibly to a
    column the principal may not read or to a whole row (PostgreSQL reads a table alias
    used as a value as the row, every column included): such names are resolved here
    against the visible schema, or the statement is refused.
    """
    tree = ctx.root
    texts = _output_texts(tree, ctx.read_dialect)
    schema = _visible_schema(ctx)
    try:
        qualified = qualify(
            tree,
            schema=schema,
            dialect=_qualify_dialect(ctx.read_dialect),
            validate_qualify_columns=True,
            quote_identifiers=True,
        )
    except OptimizeError as exc:
        # qualify changed the tree in place: explain with the statement as it was parsed
        _explain_unresolved(ctx, str(exc), _reparsed(ctx))
        raise  # unreachable: _explain_unresolved always raises
    except RecursionError:
        raise deny(ctx, "sql.parse", _TOO_DEEP) from None
    if texts is not None:
        _restore_output_names(texts, qualified)
    for scope in traverse_scope(qualified):
        _resolve_order_by_names(ctx, scope, schema)
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                table = ctx.schema.table(source.name)
                base = table.column(column.name) if table is not None else None
                if table is not None and base is not None:
                    ctx.columns.add((table.name, column.name))
                    column.meta[COLUMN_TYPE] = base.type
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and source.name.lower() not in ctx.tables:
                # every base table must have passed resolve_tables and table_grants
                raise deny(
                    ctx,
                    "sql.resolve",
                    f"table {source.name!r} is read but was not checked against the grants; "
                    "the statement is refused",
                    node=source,
                    securable=f"table:{source.name}",
                )
    for node in qualified.find_all(exp.Column, exp.TableColumn):
        if isinstance(node, exp.TableColumn):
            raise deny(
                ctx,
                "sql.resolve",
                f"{node.name!r} is a table used as a value, which reads its whole row; "
                "name the columns instead",
                node=node,
            )
        if isinstance(node, exp.Column) and not node.table and not _output_name_ref(node):
            raise deny(
                ctx,
                "sql.resolve",
                f"{node.name!r} does not name a column this query may read: the database "
                "would decide what it means. Name the columns, qualified by their table",
                node=node,
            )
    ctx.tree = qualified


def _output_name_ref(column: exp.Column) -> bool:
    """A bare name that is a whole ORDER BY (or DISTINCT ON) item: an output column."""
    parent = column.parent
    if isinstance(parent, exp.Ordered) and column.arg_key == "this":
        return isinstance(parent.parent, exp.Order)
    if isinstance(parent, exp.Tuple):
        parent = parent.parent
    return isinstance(parent, exp.Distinct) and column.find_ancestor(exp.Distinct) is parent


def _resolve_order_by_names(ctx: GovernContext, scope: Scope, schema: MappingSchema) -> None:
    """Names inside ORDER BY expressions (``ORDER BY salary + 0``), which ``qualify``
    leaves bare: SQLite and PostgreSQL read them as input columns first, so they are
    qualified with the visible column they name, or else replaced by the output
    expression they alias (what SQLite does when no input column has the name)."""
    select = scope.expression
    order = select.args.get("order")
    if not isinstance(select, exp.Select) or not isinstance(order, exp.Order):
        return
    bare = [
        c
        for o in order.expressions
        if isinstance(o, exp.Ordered) and not isinstance(o.this, exp.Column)
        for c in o.this.find_all(exp.Column)
        if not c.table and c.find_ancestor(exp.Query) is select
    ]
    if not bare:
        return
    aliases = {p.alias: p.this for p in select.expressions if isinstance(p, exp.Alias)}
    for column in bare:
        owners = [
            name
            for name, (_, source) in scope.selected_sources.items()
            if column.name in _source_columns(source, schema)
        ]
        if len(owners) > 1:
            raise deny(
                ctx,
                "sql.ambiguous_column",
                f"column {column.name!r} in ORDER BY is in several tables of this query "
                f"({', '.join(owners)}); qualify it with a table name or alias",
                node=column,
            )
        if owners:
            column.set("table", exp.to_identifier(owners[0], quoted=True))
        elif column.name in aliases:
            column.replace(aliases[column.name].copy())


def _source_columns(source: exp.Table | Scope, schema: MappingSchema) -> list[str]:
    if isinstance(source, Scope):
        expression = source.expression
        return list(expression.named_selects) if isinstance(expression, exp.Query) else []
    return list(schema.column_names(source))


def _reparsed(ctx: GovernContext) -> exp.Expr:
    from crossroads.tools.sql._statement import parse_single_statement

    scratch = dataclasses.replace(ctx, tree=None, tables=set(), columns=set())
    parse_single_statement(scratch)
    return scratch.root
