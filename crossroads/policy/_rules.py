"""The rules a catalog holds: grants, row filters and column masks, and their bound forms.

Each is a frozen value, validated when it is made. ``describe()`` gives the
short text used in audit events and error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlglot import exp

from crossroads.errors import ConfigError
from crossroads.policy._principal import Principal
from crossroads.policy._securable import (
    Securable,
    check_privilege_applies,
    parse_grantee,
    parse_privilege,
)
from crossroads.policy._sql import (
    MASK_EXAMPLE,
    ROW_FILTER_EXAMPLE,
    bind_placeholders,
    parse_sql_expression,
    placeholder_names,
)

__all__ = [
    "BoundMask",
    "BoundRowFilter",
    "ColumnMask",
    "Grant",
    "RowFilter",
    "Scalar",
    "attribute_ref",
    "freeze_where",
    "grantees",
]

Scalar = str | int | float | bool
"""A literal value in a document rule's ``where``."""

_ATTRIBUTE_REF = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


def attribute_ref(value: Scalar) -> str | None:
    """The attribute name when ``value`` is a ``":name"`` reference, else ``None``."""
    if isinstance(value, str) and (m := _ATTRIBUTE_REF.fullmatch(value)):
        return m.group(1)
    return None


def grantees(value: str | Iterable[str], *, what: str, allow_empty: bool) -> tuple[str, ...]:
    """Validate one grantee or several; return them normalised, duplicates dropped."""
    items = [value] if isinstance(value, str) else list(value)
    if not items and not allow_empty:
        raise ConfigError(
            f"{what} is an empty list, so the rule would apply to nobody; "
            "name at least one grantee, or '*' for everyone"
        )
    return tuple(dict.fromkeys(parse_grantee(g) for g in items))


def _applies(to: tuple[str, ...], except_: tuple[str, ...], principal: Principal) -> bool:
    return any(principal.matches(g) for g in to) and not any(principal.matches(g) for g in except_)


def _audience(to: tuple[str, ...], except_: tuple[str, ...]) -> str:
    text = f"to {', '.join(to)}"
    return f"{text}; except {', '.join(except_)}" if except_ else text


def freeze_where(where: Mapping[str, Any] | None) -> Mapping[str, tuple[Scalar, ...]] | None:
    """Validate a document rule's ``where``; return it read-only, each value a tuple."""
    if where is None:
        return None
    if not isinstance(where, Mapping):
        raise ConfigError(
            f"where must be a mapping of metadata field to value, e.g. "
            f"{{'region': ':region'}}, got {type(where).__name__} {where!r}"
        )
    frozen: dict[str, tuple[Scalar, ...]] = {}
    for key, raw in where.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(
                f"where has the field name {key!r}; field names are non-empty strings"
            )
        values = tuple(raw) if isinstance(raw, list | tuple) else (raw,)
        if not values:
            raise ConfigError(
                f"where.{key} is an empty list, which no document can match; "
                "list the allowed values, or remove the rule"
            )
        for v in values:
            if not isinstance(v, str | int | float | bool):
                raise ConfigError(
                    f"where.{key} holds {type(v).__name__} {v!r}; values are strings, numbers, "
                    "booleans, ':attribute' references, or lists of those"
                )
            if isinstance(v, str) and v.startswith(":") and attribute_ref(v) is None:
                raise ConfigError(
                    f"where.{key} holds {v!r}, which looks like an attribute reference but is "
                    "not ':' followed by a name (letters, digits, '_'); write e.g. ':region'"
                )
        frozen[key] = tuple(dict.fromkeys(values))
    return MappingProxyType(frozen) if frozen else None


def _show(value: Scalar) -> str:
    if attribute_ref(value) is not None or not isinstance(value, str):
        return str(value)
    return repr(value)


@dataclass(frozen=True, slots=True, init=False)
class Grant:
    """A privilege on a securable (possibly a pattern) to a grantee.

    >>> Grant(privilege="SELECT", on="table:sales", to="group:analysts").describe()
    'SELECT on table:sales to group:analysts'
    """

    privilege: str
    """``SELECT``, ``READ``, ``TRAVERSE`` or ``EXECUTE``."""
    on: Securable
    """What is granted; may be a pattern (``table:sales_*``)."""
    to: str
    """The grantee: ``user:ID``, ``group:NAME`` or ``*``."""
    where: Mapping[str, tuple[Scalar, ...]] | None = field(default=None, hash=False)
    """Document rules only: metadata field → allowed values (literals or ``:attribute``)."""

    def __init__(
        self,
        *,
        privilege: str,
        on: Securable | str,
        to: str,
        where: Mapping[str, Any] | None = None,
    ) -> None:
        priv = parse_privilege(privilege)
        securable = Securable.parse(on)
        check_privilege_applies(priv, securable)
        frozen = freeze_where(where)
        if frozen is not None and (priv, securable.kind) != ("READ", "collection"):
            raise ConfigError(
                f"{priv} on {securable} cannot have a where: only READ on a collection "
                "(a document rule) filters by metadata"
            )
        object.__setattr__(self, "privilege", priv)
        object.__setattr__(self, "on", securable)
        object.__setattr__(self, "to", parse_grantee(to))
        object.__setattr__(self, "where", frozen)

    def __hash__(self) -> int:
        where = tuple(sorted(self.where.items())) if self.where else None
        return hash((self.privilege, self.on, self.to, where))

    @property
    def attributes(self) -> frozenset[str]:
        """The principal attributes the ``where`` refers to."""
        refs = (attribute_ref(v) for vs in (self.where or {}).values() for v in vs)
        return frozenset(r for r in refs if r is not None)

    def describe(self) -> str:
        """``SELECT on table:sales to group:analysts`` (``… where region = :region``)."""
        text = f"{self.privilege} on {self.on} to {self.to}"
        if not self.where:
            return text
        conditions = [
            f"{k} = {_show(vs[0])}" if len(vs) == 1 else f"{k} in ({', '.join(map(_show, vs))})"
            for k, vs in self.where.items()
        ]
        return f"{text} where {' and '.join(conditions)}"


@dataclass(frozen=True, slots=True, init=False)
class RowFilter:
    """A SQL predicate ANDed into every governed query on matching tables.

    ``:name`` placeholders bind the principal's attributes. The filter applies to
    principals matching a grantee in ``to`` and none in ``except_``.
    """

    on: Securable
    """The table (or table pattern) filtered."""
    where: str
    """The predicate as written, e.g. ``region = :region``."""
    to: tuple[str, ...]
    """Grantees the filter applies to (``("*",)``: everyone)."""
    except_: tuple[str, ...]
    """Grantees exempt from the filter, e.g. ``("group:global",)``."""
    predicate: exp.Expression = field(compare=False, hash=False, repr=False)
    """The parsed predicate, placeholders unbound. Do not mutate; :meth:`bind` copies it."""

    def __init__(
        self,
        *,
        on: Securable | str,
        where: str,
        to: str | Iterable[str] = ("*",),
        except_: str | Iterable[str] = (),
    ) -> None:
        securable = Securable.parse(on)
        if securable.kind != "table":
            raise ConfigError(
                f"a row filter applies to a table, not to {securable}; write on: 'table:NAME' "
                "(masks hide columns: use a column mask for those)"
            )
        what = f"row filter on {securable}"
        tree = parse_sql_expression(where, what=what, example=ROW_FILTER_EXAMPLE)
        object.__setattr__(self, "on", securable)
        object.__setattr__(self, "where", where.strip())
        object.__setattr__(self, "to", grantees(to, what=f"{what}: to", allow_empty=False))
        object.__setattr__(self, "except_", grantees(except_, what="except", allow_empty=True))
        object.__setattr__(self, "predicate", tree)

    @property
    def attributes(self) -> frozenset[str]:
        """The principal attributes the predicate binds."""
        return placeholder_names(self.predicate)

    def applies_to(self, principal: Principal) -> bool:
        """Whether the filter restricts ``principal`` (in ``to``, not in ``except_``)."""
        return _applies(self.to, self.except_, principal)

    def bind(self, principal: Principal, table: str | None = None) -> BoundRowFilter:
        """Bind the placeholders to ``principal``; :class:`PolicyViolation` if one is missing."""
        predicate = bind_placeholders(
            self.predicate,
            principal,
            what=f"row filter on {self.on} ({self.where})",
            securable=f"table:{table}" if table else str(self.on),
        )
        return BoundRowFilter(rule=self, predicate=predicate)

    def describe(self) -> str:
        """``row filter on table:sales: region = :region (to *; except group:global)``."""
        return f"row filter on {self.on}: {self.where} ({_audience(self.to, self.except_)})"


@dataclass(frozen=True, slots=True, init=False)
class ColumnMask:
    """An SQL expression shown instead of a column's value.

    It may reference the column itself and ``:name`` placeholders. It applies to
    principals matching a grantee in ``to`` and none in ``except_``.
    """

    on: Securable
    """The column (or column pattern) masked."""
    mask: str
    """The expression as written, e.g. ``'***-**-' || RIGHT(ssn, 4)``."""
    to: tuple[str, ...]
    """Grantees who see the mask (``("*",)``: everyone)."""
    except_: tuple[str, ...]
    """Grantees who see the real value, e.g. ``("group:pv_officer",)``."""
    expression: exp.Expression = field(compare=False, hash=False, repr=False)
    """The parsed mask, placeholders unbound. Do not mutate; :meth:`bind` copies it."""

    def __init__(
        self,
        *,
        on: Securable | str,
        mask: str,
        to: str | Iterable[str] = ("*",),
        except_: str | Iterable[str] = (),
    ) -> None:
        securable = Securable.parse(on)
        if securable.kind != "column":
            raise ConfigError(
                f"a column mask applies to a column, not to {securable}; write on: "
                "'column:TABLE.COLUMN' (e.g. column:patients.ssn or column:*.ssn)"
            )
        what = f"column mask on {securable}"
        tree = parse_sql_expression(mask, what=what, example=MASK_EXAMPLE)
        object.__setattr__(self, "on", securable)
        object.__setattr__(self, "mask", mask.strip())
        object.__setattr__(self, "to", grantees(to, what=f"{what}: to", allow_empty=False))
        object.__setattr__(self, "except_", grantees(except_, what="except", allow_empty=True))
        object.__setattr__(self, "expression", tree)

    @property
    def attributes(self) -> frozenset[str]:
        """The principal attributes the mask binds."""
        return placeholder_names(self.expression)

    def applies_to(self, principal: Principal) -> bool:
        """Whether ``principal`` sees the mask (in ``to``, not in ``except_``)."""
        return _applies(self.to, self.except_, principal)

    def bind(self, principal: Principal, column: str | None = None) -> BoundMask:
        """Bind the placeholders to ``principal``; :class:`PolicyViolation` if one is missing."""
        expression = bind_placeholders(
            self.expression,
            principal,
            what=f"column mask on {self.on} ({self.mask})",
            securable=f"column:{column}" if column else str(self.on),
        )
        return BoundMask(rule=self, expression=expression)

    def describe(self) -> str:
        """``mask on column:patients.ssn: '***' (to *; except group:pv_officer)``."""
        return f"mask on {self.on}: {self.mask} ({_audience(self.to, self.except_)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundRowFilter:
    """A row filter with its placeholders bound for one principal."""

    rule: RowFilter
    """The filter as declared."""
    predicate: exp.Expression
    """The predicate to AND into the query (a fresh tree: callers may splice it)."""

    def describe(self) -> str:
        """``row filter on table:sales: region = 'EU'``."""
        return f"row filter on {self.rule.on}: {self.predicate.sql()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundMask:
    """A column mask with its placeholders bound for one principal."""

    rule: ColumnMask
    """The mask as declared."""
    expression: exp.Expression
    """The expression to select instead of the column (a fresh tree)."""

    def describe(self) -> str:
        """``mask on column:patients.ssn: '***'``."""
        return f"mask on {self.rule.on}: {self.expression.sql()}"
