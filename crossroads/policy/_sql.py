"""SQL snippets in policies: parse them once, bind ``:name`` placeholders to principal attributes.

Row-filter predicates and column-mask expressions are parsed with sqlglot when
the rule is created, so a malformed snippet fails at load time. Binding copies
the tree and replaces each ``:name`` placeholder with a literal node built from
the principal's attribute; SQL text is never concatenated. A missing attribute
is a denial, never an empty string or NULL.
"""

from __future__ import annotations

import math
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from crossroads.errors import ConfigError, PolicyViolation
from crossroads.policy._principal import AttributeValue, Principal

__all__ = [
    "MASK_EXAMPLE",
    "ROW_FILTER_EXAMPLE",
    "bind_placeholders",
    "parse_sql_expression",
    "placeholder_names",
]

ROW_FILTER_EXAMPLE = "region = :region"
MASK_EXAMPLE = "'***-**-' || RIGHT(ssn, 4)"

# Top-level nodes that are statements, not expressions: a policy snippet must be
# an expression to be spliced into a query. Looked up by name so a sqlglot
# release that renames one cannot break the import.
_STATEMENTS: tuple[type[exp.Expression], ...] = tuple(
    cls
    for name in (
        "Query",
        "DDL",
        "DML",
        "Command",
        "Create",
        "Drop",
        "Alter",
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Transaction",
        "Commit",
        "Rollback",
        "Use",
        "Set",
        "Pragma",
        "Block",
    )
    if isinstance(cls := getattr(exp, name, None), type)
)


def parse_sql_expression(text: str, *, what: str, example: str) -> exp.Expression:
    """Parse one SQL expression (not a statement) or raise :class:`ConfigError`.

    ``what`` names the rule in the message (``row filter on table:sales``),
    ``example`` shows a well-formed snippet.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{what} needs a non-empty SQL expression, e.g. {example}, got {text!r}")
    try:
        parsed = [e for e in sqlglot.parse(text) if e is not None]
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        # "... missing for <class 'sqlglot.expressions.core.EQ'>" → "... missing for EQ"
        detail = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", first.get("description", str(err)))
        col = first.get("col")
        at = f" near column {col}" if col else ""
        raise ConfigError(
            f"{what}: cannot parse {text!r}: {detail}{at}; write one SQL expression, e.g. {example}"
        ) from err
    except TokenError as err:
        raise ConfigError(
            f"{what}: cannot read {text!r}: {err}; write one SQL expression, e.g. {example}"
        ) from err
    if len(parsed) != 1:
        raise ConfigError(
            f"{what}: {text!r} holds {len(parsed)} statements; write exactly one SQL "
            f"expression (no ';'), e.g. {example}"
        )
    tree = parsed[0]
    if isinstance(tree, _STATEMENTS) or not isinstance(tree, exp.Expression):
        raise ConfigError(
            f"{what}: {text!r} is a {type(tree).__name__.upper()} statement, not an expression; "
            f"write an expression to be spliced into queries, e.g. {example}"
        )
    for node in tree.find_all(exp.Placeholder, exp.Parameter):
        if isinstance(node, exp.Parameter) or not _name(node):
            raise ConfigError(
                f"{what}: {text!r} uses the parameter {node.sql()!r}; only named "
                "placeholders such as :region (bound to the principal's attribute) are supported"
            )
    return tree


def _name(placeholder: exp.Expression) -> str:
    # ``:name`` parses as Placeholder(this="name"); ``?`` as Placeholder() whose .name is "?".
    this = placeholder.args.get("this")
    return this if isinstance(this, str) else ""


def placeholder_names(tree: exp.Expression) -> frozenset[str]:
    """The names of the ``:name`` placeholders in ``tree``."""
    return frozenset(n for p in tree.find_all(exp.Placeholder) if (n := _name(p)))


def _replace(root: exp.Expression, node: exp.Expression, new: exp.Expression) -> exp.Expression:
    """Replace ``node`` by ``new``; return the (possibly new) root."""
    if node is root:
        return new
    node.replace(new)
    return root


def _literal(value: str | int | float | bool, *, deny: PolicyViolation) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise deny
        return exp.Literal.number(value)
    return exp.Literal.string(value)


def bind_placeholders(
    tree: exp.Expression, principal: Principal, *, what: str, securable: str
) -> exp.Expression:
    """A copy of ``tree`` with every ``:name`` replaced by the principal's attribute ``name``.

    Strings become string literals, numbers number literals, booleans TRUE/FALSE.
    A list attribute is expanded into the value list of an ``IN`` (``x IN :names``
    or ``x IN (:names)``); an empty list makes that ``IN`` false. A list anywhere
    else, or a missing attribute, raises :class:`PolicyViolation`.
    """
    bound = tree.copy()
    for placeholder in list(bound.find_all(exp.Placeholder)):
        name = _name(placeholder)
        if name not in principal.attributes:
            raise PolicyViolation(
                f"principal {principal.id!r} has no attribute {name!r}, which the {what} needs "
                f"to decide what {principal.id!r} may see; access is denied rather than "
                f"guessed. Ask an administrator to set the attribute {name!r} for "
                f"{principal.id!r}",
                principal=principal.id,
                securable=securable,
                rule=f"{what}: attribute {name!r}",
            )
        value: AttributeValue = principal.attributes[name]
        bad_value = PolicyViolation(
            f"attribute {name!r} of principal {principal.id!r} has the value {value!r}, which "
            f"the {what} cannot use here; ask an administrator to correct the attribute "
            "or the rule",
            principal=principal.id,
            securable=securable,
            rule=f"{what}: attribute {name!r}",
        )
        if not isinstance(value, tuple):
            bound = _replace(bound, placeholder, _literal(value, deny=bad_value))
            continue
        parent = placeholder.parent
        if not isinstance(parent, exp.In) or placeholder.arg_key not in ("field", "expressions"):
            raise PolicyViolation(
                f"attribute {name!r} of principal {principal.id!r} is a list, but the {what} "
                f"uses :{name} where only a single value fits; a list can only stand after IN "
                f"(x IN :{name}). Ask an administrator to fix the rule or the attribute",
                principal=principal.id,
                securable=securable,
                rule=f"{what}: attribute {name!r}",
            )
        items = [_literal(v, deny=bad_value) for v in value]
        if placeholder.arg_key == "field":
            parent.set("field", None)
            parent.set("expressions", items)
        else:
            expanded: list[exp.Expression] = []
            for e in parent.expressions:
                expanded.extend(items if e is placeholder else [e])
            parent.set("expressions", expanded)
        if not parent.expressions and not parent.args.get("query"):
            bound = _replace(bound, parent, exp.false())
    return bound
