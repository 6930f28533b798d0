"""Pass 8: write the governed tree in the target database's dialect — faithfully.

sqlglot raises on constructs the target cannot express (``unsupported_level=RAISE``),
and :func:`unfaithful` catches constructs it *can* write that mean something else there
(the transpiler emits SQL that runs with another meaning). Either way the statement is
refused rather than run. The connector then validates the result on the target
(EXPLAIN) before executing it.

Policy expressions (masks, row filters) go through :func:`unfaithful` too: a mask that
keeps four characters in SQLite must not reveal the whole value on PostgreSQL.
"""

from __future__ import annotations

from sqlglot import ErrorLevel, exp
from sqlglot.errors import UnsupportedError

from crossroads.tools.sql._context import GovernContext, deny

__all__ = ["render_target", "to_target_sql", "unfaithful"]

# Dialects where SUBSTRING/SUBSTR with a negative start does not count from the end
# (PostgreSQL and T-SQL start before the string and shorten the result instead).
_NEGATIVE_SUBSTRING_DIFFERS = frozenset({"postgres", "tsql", "redshift"})


def _is_negative(node: exp.Expr | None) -> bool:
    if isinstance(node, exp.Neg):
        return True
    return isinstance(node, exp.Literal) and not node.is_string and str(node.this).startswith("-")


def unfaithful(tree: exp.Expr, target: str) -> tuple[exp.Expr, str] | None:
    """The first node of ``tree`` that would mean something else in ``target``, and why."""
    if target in _NEGATIVE_SUBSTRING_DIFFERS:
        for node in tree.find_all(exp.Substring):
            if _is_negative(node.args.get("start")):
                return node, (
                    f"SUBSTRING with a negative start counts from the end in SQLite and MySQL, "
                    f"but not in {target}, where it returns the start of the string instead; "
                    "use RIGHT(x, n) or a positive start"
                )
    return None


def to_target_sql(ctx: GovernContext) -> str:
    """The governed statement in the target dialect, or a denial when it cannot be
    written faithfully there."""
    if ctx.read_dialect != ctx.target_dialect:
        problem = unfaithful(ctx.root, ctx.target_dialect)
        if problem is not None:
            raise deny(
                ctx,
                "sql.transpile",
                f"the statement cannot be written faithfully in {ctx.target_dialect}: {problem[1]}",
                node=problem[0],
            )
    try:
        return ctx.root.sql(dialect=ctx.target_dialect, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise deny(
            ctx,
            "sql.transpile",
            f"the statement cannot be written faithfully in {ctx.target_dialect} "
            f"({exc}); write it in {ctx.target_dialect} SQL directly",
        ) from None


def render_target(ctx: GovernContext) -> None:
    """Fail early when the statement cannot be rendered for the target dialect."""
    to_target_sql(ctx)
