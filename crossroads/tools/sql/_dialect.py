"""Pass 8: write the governed tree in the target database's dialect.

sqlglot raises on constructs the target cannot express (``unsupported_level=RAISE``);
such a statement is refused rather than run with a different meaning. The connector
then validates the result on the target (EXPLAIN) before executing it.
"""

from __future__ import annotations

from sqlglot import ErrorLevel
from sqlglot.errors import UnsupportedError

from crossroads.tools.sql._context import GovernContext, deny

__all__ = ["render_target", "to_target_sql"]


def to_target_sql(ctx: GovernContext) -> str:
    """The governed statement in the target dialect, or a denial when it cannot be
    written faithfully there."""
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
