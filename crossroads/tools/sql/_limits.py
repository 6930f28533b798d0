"""Pass 7: a row limit on the outermost query.

The limit is one more than ``max_rows`` so the connector can tell a result that was cut
from one that fitted; a smaller LIMIT the statement already has is kept. Runaway
recursive CTEs and cross joins are stopped by the statement timeout the connector
enforces on the database (the pass cannot bound them without changing their meaning).
"""

from __future__ import annotations

from sqlglot import exp

from crossroads.tools.sql._context import GovernContext

__all__ = ["row_limit"]


def _literal_limit(query: exp.Expr) -> int | None:
    limit = query.args.get("limit")
    if isinstance(limit, exp.Limit):
        value = limit.expression
        if isinstance(value, exp.Literal) and not value.is_string:
            try:
                return int(value.this)
            except ValueError:
                return None
    return None


def row_limit(ctx: GovernContext) -> None:
    """Cap the outermost query at ``max_rows + 1`` rows."""
    cap = ctx.max_rows + 1
    root = ctx.root
    if not isinstance(root, exp.Query):
        return
    existing = _literal_limit(root)
    if existing is not None and existing <= cap:
        return
    if root.args.get("limit") is not None and existing is None:
        # a computed LIMIT: keep it, and cap the whole query from outside
        ctx.tree = exp.select("*").from_(root.subquery("_limited")).limit(cap)
        return
    # built directly: Query.limit() would parse the number
    root.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
