"""Passes 5 and 6: row filters and column masks, by rewriting the parse tree.

Every reference to a base table that carries a row filter or a mask for this principal,
or has columns the principal may not read, is replaced by a subquery over that table: it
projects the principal's visible columns, masked ones as their mask expression, and keeps
only the rows the filters allow::

    FROM patients AS p
    →  FROM (SELECT id, '***' AS ssn, region FROM patients WHERE region = 'EU') AS p

So a masked value is masked wherever the outer query reads it — select list, WHERE,
JOIN, GROUP BY, ORDER BY, HAVING, functions, subqueries — and cannot be recovered by a
predicate. And a hidden column is not there for the database to find, whatever it makes
of a name (a whole-row reference, ``ROW(t.*)``, a NATURAL JOIN). Predicates and masks
are sqlglot trees with the principal's attributes bound as literals by the catalog;
nothing is concatenated as text.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from crossroads.errors import PolicyViolation
from crossroads.tools.sql._context import POLICY_NODE, GovernContext, deny
from crossroads.tools.sql._dialect import unfaithful

__all__ = ["row_filters_and_masks"]


def _base_tables(ctx: GovernContext) -> list[exp.Table]:
    out: list[exp.Table] = []
    seen: set[int] = set()
    for scope in traverse_scope(ctx.root):
        for source in scope.sources.values():
            if (
                isinstance(source, exp.Table)
                and id(source) not in seen
                and ctx.schema.table(source.name) is not None
            ):
                seen.add(id(source))
                out.append(source)
    return out


def _nothing_to_apply(ctx: GovernContext) -> bool:
    """No table the statement names has a filter or a mask for the principal, or lives in
    a schema its name must carry: the tree stays as it is. (Any doubt, such as a filter
    the principal cannot satisfy, answers False: the full pass then raises.)"""
    policies = bool(ctx.catalog.row_filters or ctx.catalog.column_masks)
    for ref in ctx.root.find_all(exp.Table):
        table = ctx.schema.table(ref.name)
        if table is None:
            continue
        if table.schema is not None:
            return False
        try:
            visible = ctx.catalog.visible_columns(ctx.principal, table.name, table.column_names)
            if len(visible) < len(table.column_names):
                return False
            if not policies:
                continue
            if ctx.catalog.row_filters_for(ctx.principal, table.name):
                return False
            if ctx.catalog.masks_for(ctx.principal, table.name, visible):
                return False
        except PolicyViolation:
            return False
    return True


def row_filters_and_masks(ctx: GovernContext) -> None:
    """Replace each filtered, masked or narrowed base table with a governed subquery (and
    name the schema of each base table when the connection reads a schema other than the
    default)."""
    if _nothing_to_apply(ctx):
        return
    for ref in _base_tables(ctx):
        table = ctx.schema.table(ref.name)
        assert table is not None
        visible = ctx.catalog.visible_columns(ctx.principal, table.name, table.column_names)
        filters = ctx.catalog.row_filters_for(ctx.principal, table.name)
        masks = ctx.catalog.masks_for(ctx.principal, table.name, visible)
        db = ref.args.get("db")
        if db is None and table.schema is not None:
            db = exp.to_identifier(table.schema, quoted=True)
        narrowed = len(visible) < len(table.column_names)
        if not filters and not masks and not narrowed:
            if db is not None and ref.args.get("db") is None:
                ref.set("db", db)
            continue
        known = {c.lower() for c in table.column_names}
        projections: list[exp.Expr] = []
        for name in visible:
            column = exp.column(name, quoted=True)
            mask = masks.get(name)
            if mask is None:
                projections.append(column)
            else:
                problem = unfaithful(mask.expression, ctx.target_dialect)
                if problem is not None:
                    raise deny(
                        ctx,
                        "sql.mask",
                        f"the mask on column:{table.name}.{name} ({mask.rule.describe()}) would "
                        f"not mask the same way on {ctx.target_dialect}: {problem[1]}. An "
                        "administrator must rewrite the mask; nothing is returned until then",
                        securable=f"column:{table.name}.{name}",
                    )
                masked = mask.expression.copy()
                masked.meta[POLICY_NODE] = True
                projections.append(exp.alias_(masked, name, quoted=True))
                ctx.masks.setdefault(table.name, {})[name] = mask.expression.sql(
                    dialect=ctx.target_dialect
                )
        inner = exp.select(*projections).from_(
            exp.Table(this=exp.to_identifier(table.name, quoted=True), db=db)
        )
        predicates: list[exp.Expr] = []
        for bound in filters:
            unknown = [
                c.name for c in bound.predicate.find_all(exp.Column) if c.name.lower() not in known
            ]
            if unknown:
                raise deny(
                    ctx,
                    "sql.row_filter",
                    f"the row filter on table:{table.name} ({bound.rule.describe()}) names "
                    f"column {unknown[0]!r}, which the table does not have; an administrator "
                    "must fix the policy. Nothing is returned until then",
                    securable=f"table:{table.name}",
                )
            problem = unfaithful(bound.predicate, ctx.target_dialect)
            if problem is not None:
                raise deny(
                    ctx,
                    "sql.row_filter",
                    f"the row filter on table:{table.name} ({bound.rule.describe()}) would not "
                    f"filter the same way on {ctx.target_dialect}: {problem[1]}. An "
                    "administrator must rewrite it; nothing is returned until then",
                    securable=f"table:{table.name}",
                )
            predicate = bound.predicate.copy()
            predicate.meta[POLICY_NODE] = True
            predicates.append(predicate)
            applied = ctx.row_filters.setdefault(table.name, [])
            text = bound.predicate.sql(dialect=ctx.target_dialect)
            if text not in applied:
                applied.append(text)
        if predicates:
            inner = inner.where(exp.and_(*predicates))
        alias = exp.TableAlias(this=exp.to_identifier(ref.alias_or_name, quoted=True))
        given = ref.args.get("alias")
        if isinstance(given, exp.TableAlias) and given.columns:
            # PostgreSQL's AS p(a, b) names the columns by position: keep the names
            alias.set("columns", [c.copy() for c in given.columns])
        ref.replace(exp.Subquery(this=inner, alias=alias))
