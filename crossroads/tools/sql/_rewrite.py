"""Passes 5 and 6: row filters and column masks, by rewriting the parse tree.

Every reference to a base table that carries a row filter or a mask for this principal
is replaced by a subquery over that table: it projects the principal's visible columns,
masked ones as their mask expression, and keeps only the rows the filters allow::

    FROM patients AS p
    →  FROM (SELECT id, '***' AS ssn, region FROM patients WHERE region = 'EU') AS p

So a masked value is masked wherever the outer query reads it — select list, WHERE,
JOIN, GROUP BY, ORDER BY, HAVING, functions, subqueries — and cannot be recovered by a
predicate. Predicates and masks are sqlglot trees with the principal's attributes bound
as literals by the catalog; nothing is concatenated as text.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from crossroads.tools.sql._context import GovernContext, deny
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


def row_filters_and_masks(ctx: GovernContext) -> None:
    """Replace each filtered or masked base table with a governed subquery."""
    for ref in _base_tables(ctx):
        table = ctx.schema.table(ref.name)
        assert table is not None
        visible = ctx.catalog.visible_columns(ctx.principal, table.name, table.column_names)
        filters = ctx.catalog.row_filters_for(ctx.principal, table.name)
        masks = ctx.catalog.masks_for(ctx.principal, table.name, visible)
        if not filters and not masks:
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
                projections.append(exp.alias_(mask.expression.copy(), name, quoted=True))
                ctx.masks.setdefault(table.name, {})[name] = mask.expression.sql(
                    dialect=ctx.target_dialect
                )
        inner = exp.select(*projections).from_(
            exp.Table(this=exp.to_identifier(table.name, quoted=True), db=ref.args.get("db"))
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
            predicates.append(bound.predicate.copy())
            applied = ctx.row_filters.setdefault(table.name, [])
            text = bound.predicate.sql(dialect=ctx.target_dialect)
            if text not in applied:
                applied.append(text)
        if predicates:
            inner = inner.where(exp.and_(*predicates))
        alias = ref.alias_or_name
        ref.replace(
            exp.Subquery(
                this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
            )
        )
