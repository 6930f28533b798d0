"""Governed text-to-SQL: every statement parsed with sqlglot, checked against grants,
rewritten with row filters and column masks, limited, and run read-only.

The pipeline is a tuple of small passes (:data:`DEFAULT_PASSES`), each a pure function
over the parse tree that raises ``PolicyViolation`` naming its rule.
"""

from crossroads.tools.sql._context import GovernancePass, GovernContext, GovernedQuery
from crossroads.tools.sql._dialect import faithful, faithful_rewrites, render_target, unfaithful
from crossroads.tools.sql._functions import DENIED_FUNCTIONS, SAFE_FUNCTIONS, allowed_functions
from crossroads.tools.sql._governed import (
    DEFAULT_PASSES,
    GovernedSQL,
    SQLQueryTool,
    SQLResult,
    SQLSchemaTool,
    VisibleColumn,
    VisibleTable,
)
from crossroads.tools.sql._limits import row_limit
from crossroads.tools.sql._resolve import column_grants, resolve_tables, table_grants
from crossroads.tools.sql._rewrite import row_filters_and_masks
from crossroads.tools.sql._statement import parse_single_statement, read_only
from crossroads.tools.sql._variables import no_variables

__all__ = [
    "DEFAULT_PASSES",
    "DENIED_FUNCTIONS",
    "SAFE_FUNCTIONS",
    "GovernContext",
    "GovernancePass",
    "GovernedQuery",
    "GovernedSQL",
    "SQLQueryTool",
    "SQLResult",
    "SQLSchemaTool",
    "VisibleColumn",
    "VisibleTable",
    "allowed_functions",
    "column_grants",
    "faithful",
    "faithful_rewrites",
    "no_variables",
    "parse_single_statement",
    "read_only",
    "render_target",
    "resolve_tables",
    "row_filters_and_masks",
    "row_limit",
    "table_grants",
    "unfaithful",
]
