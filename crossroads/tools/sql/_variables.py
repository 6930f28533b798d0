"""Pass 1c: no session variables, server variables or unbound parameters.

``SELECT @leak := GROUP_CONCAT(name) FROM patients`` stores data in a MySQL user variable
that outlives the statement on a pooled connection, where ``SELECT @leak`` run by another
principal would read it; ``@@version`` reads server settings; ``?`` and ``:name`` are
parameters nothing will bind. Governed SQL is self-contained: literals only.
"""

from __future__ import annotations

from sqlglot import exp

from crossroads.tools.sql._context import GovernContext, deny

__all__ = ["no_variables"]


def no_variables(ctx: GovernContext) -> None:
    """Deny ``@var``, ``@var := …``, ``@@setting`` and unbound placeholders."""
    for node in ctx.root.walk():
        if isinstance(node, exp.Parameter | exp.SessionParameter):
            raise deny(
                ctx,
                "sql.variables",
                "session and server variables are not allowed: they can carry data between "
                "statements and principals; write the value as a literal",
                node=node,
            )
        if isinstance(node, exp.Placeholder):
            raise deny(
                ctx,
                "sql.variables",
                "the statement has a parameter placeholder that nothing binds; write the "
                "value as a literal",
                node=node,
            )
