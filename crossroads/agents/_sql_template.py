"""SQL templates of workflow ``sql:`` steps: a ``{{ hole }}`` may only stand where a value
goes, and each value enters the parse tree as a literal, never as SQL text.

The query is parsed with each hole replaced by a placeholder name; every placeholder
must come out as one plain column reference (a value position). A hole inside a string,
a quoted name or a comment, or in place of a table, column or keyword, is refused with
advice. At run time each placeholder node is swapped for a literal (a list for a tuple;
after ``IN``, one value as a one-element tuple) and sqlglot writes the statement in the
target dialect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import TokenType

from crossroads.agents._templating import Expression, Template, _problem, _strict
from crossroads.errors import ConfigError

__all__ = ["SQLTemplate", "parse_sql_template"]


# --- SQL templates -------------------------------------------------------------------------

_STRING_TOKENS = frozenset(
    name
    for name in (
        "STRING",
        "NATIONAL_STRING",
        "RAW_STRING",
        "BYTE_STRING",
        "HEX_STRING",
        "BIT_STRING",
        "HEREDOC_STRING",
        "UNICODE_STRING",
    )
    if hasattr(TokenType, name)
)
_QUOTE_ADVICE = (
    "a {{ value }} in a query is written as a SQL literal (quoted and escaped), so write it "
    "where a value goes, never inside quotes, a name or a comment: region = "
    "{{ inputs.region }} (do not put quotes around it), name LIKE '%' || {{ inputs.word }} "
    "|| '%'"
)


@dataclass(frozen=True, slots=True)
class SQLTemplate:
    """A query template parsed with each hole as a placeholder value: its holes can only
    ever be values, so no input can change the statement's structure."""

    tree: exp.Expr
    holes: tuple[tuple[str, Expression], ...]
    """Each placeholder name with the expression that fills it."""
    dialect: str | None

    def render(self, context: Mapping[str, Any]) -> str:
        """The statement with every hole replaced by a literal node, written by sqlglot
        in the template's dialect. ConfigError for a hole that cannot be filled."""
        tree = self.tree.copy()
        nodes = {_placeholder_of(c): c for c in tree.find_all(exp.Column)}
        for name, expression in self.holes:
            value = _strict(expression, context)
            _substitute(nodes[name], value, expression)
        return tree.sql(dialect=self.dialect)


def _placeholder_of(column: exp.Column) -> str | None:
    ident = column.this
    if column.table or not isinstance(ident, exp.Identifier) or ident.quoted:
        return None
    return str(ident.this).lower()


def _literal(value: Any, expression: Expression) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _problem(expression.source, None, f"{value} cannot be written into a query")
        number = exp.Literal.number(value)
        # a negative number in parentheses: never `2--1` (a comment), whatever is around it
        return exp.Paren(this=number) if value < 0 else number
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, Mapping):
        raise _problem(
            expression.source,
            None,
            "a mapping cannot be written into a query; pick one value "
            "(steps.x.rows[0][0]) or a column (steps.x | column('name'))",
        )
    if isinstance(value, list | tuple):
        raise _problem(expression.source, None, "a list inside a list cannot go into a query")
    return exp.Literal.string(str(value))


def _substitute(node: exp.Column, value: Any, expression: Expression) -> None:
    parent = node.parent
    if not isinstance(value, list | tuple):
        literal = _literal(value, expression)
        if isinstance(parent, exp.In) and node.arg_key == "field":
            # `x IN {{ v }}`: one value is a one-element list, never `IN 'name'` (a table)
            parent.set("field", None)
            parent.set("expressions", [literal])
        else:
            node.replace(literal)
        return
    items: list[exp.Expr] = [_literal(v, expression) for v in value] or [exp.Null()]
    if isinstance(parent, exp.In) and (
        node.arg_key == "field" or (node.arg_key == "expressions" and len(parent.expressions) == 1)
    ):
        # `x IN {{ list }}` and `x IN ({{ list }})`; an empty list is `IN (NULL)`: no match
        parent.set("field", None)
        parent.set("expressions", items)
    else:
        node.replace(exp.Tuple(expressions=items))


def _where_in_tokens(
    text: str, holes: Sequence[tuple[str, Expression]], dialect: str | None
) -> None:
    """ConfigError when a placeholder sits inside a string, a quoted name or a comment."""
    for token in Dialect.get_or_raise(dialect).tokenize(text):
        for name, expression in holes:
            if any(name in comment.lower() for comment in token.comments):
                raise _problem(
                    expression.source, None, f"a hole inside a SQL comment; {_QUOTE_ADVICE}"
                )
            body = token.text.lower()
            if name not in body:
                continue
            if token.token_type.name in _STRING_TOKENS:
                where = "inside a quoted string"
            elif token.token_type == TokenType.IDENTIFIER:
                where = "inside a quoted name"
            elif body != name:
                where = "joined to the text around it"
            else:
                continue
            raise _problem(expression.source, None, f"a hole {where}; {_QUOTE_ADVICE}")


def parse_sql_template(
    template: Template, dialect: str | None, *, strict: bool = True
) -> SQLTemplate | None:
    """Check that every hole of a query template stands where a value goes (not inside a
    string, a quoted name, a comment, a name or a keyword) by parsing it with sqlglot in
    ``dialect``, each hole replaced by a placeholder. ConfigError otherwise. With
    ``strict=False`` (load time, before the app's dialect is known), a query that does not
    parse is left to the run-time check (``None``)."""
    lowered = template.source.lower()
    tag = "xrhole"
    while tag in lowered:
        tag += "x"
    pieces: list[str] = []
    holes: list[tuple[str, Expression]] = []
    for part in template.parts:
        if isinstance(part, str):
            pieces.append(part)
        else:
            name = f"{tag}_{len(holes)}"
            holes.append((name, part))
            pieces.append(name)
    text = "".join(pieces)
    names = [n for n, _ in holes]
    shown = dialect or "generic"
    try:
        _where_in_tokens(text, holes, dialect)
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except (ParseError, TokenError) as err:
        if not strict:
            return None
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"the query cannot be read as {shown} SQL ({first})") from None
    except RecursionError:
        raise ConfigError("the query is too deeply nested to check") from None
    if len(statements) != 1:
        raise ConfigError(f"a sql step runs one statement, this query has {len(statements)}")
    tree = statements[0]
    found: dict[str, int] = {}
    for column in tree.find_all(exp.Column):
        key = _placeholder_of(column)
        if key in names:
            found[key] = found.get(key, 0) + 1
    for name, expression in holes:
        if found.get(name) != 1:
            raise _problem(
                expression.source,
                None,
                "this hole stands where a table, column, alias or keyword goes; a hole can "
                f"only be a value (a literal) in a query. {_QUOTE_ADVICE}",
            )
    return SQLTemplate(tree, tuple(holes), dialect)
