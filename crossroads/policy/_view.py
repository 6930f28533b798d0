"""One principal's slice of a catalog, with its answers cached.

A catalog builds a :class:`PrincipalView` the first time a principal asks and
drops every view on any mutation. The view holds only the grants whose grantee
names the principal, indexed by grantee, (privilege, kind) and literal name, so a question
scans a handful of grants instead of the whole catalog.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crossroads.policy._principal import Principal
from crossroads.policy._rules import ColumnMask, Grant, RowFilter
from crossroads.policy._securable import Securable

__all__ = ["Bucket", "GrantIndex", "PrincipalView", "grantees_of", "index_grants"]


def _name_key(kind: str, name: str) -> str:
    """What literal names are indexed by: a table's bare name, or the whole name."""
    if kind in ("table", "column"):
        return name.rpartition(".")[2].casefold()
    return name.casefold()


class Bucket:
    """The grants of one privilege on one kind to one grantee, literal names indexed."""

    __slots__ = ("grants", "literal", "patterns")

    def __init__(self) -> None:
        self.grants: list[Grant] = []
        self.literal: defaultdict[str, list[Grant]] = defaultdict(list)
        self.patterns: list[Grant] = []

    def add(self, grant: Grant) -> None:
        """Add a grant, indexed by its (table) name unless that holds a wildcard."""
        self.grants.append(grant)
        on = grant.on
        name = on.table if on.kind in ("table", "column") else on.name
        if any(c in name for c in "*?["):
            self.patterns.append(grant)
        else:
            self.literal[_name_key(on.kind, name)].append(grant)

    def candidates(self, kind: str, name: str) -> list[Grant]:
        """Grants that may match ``name`` (a table name for table and column grants)."""
        return self.literal.get(_name_key(kind, name), []) + self.patterns


GrantIndex = Mapping[str, Mapping[tuple[str, str], Bucket]]
"""grantee → (privilege, kind) → grants."""

_EMPTY = Bucket()


def grantees_of(principal: Principal) -> tuple[str, ...]:
    """Every grantee string that names ``principal``: its user, its groups, everyone."""
    return (f"user:{principal.id}", *(f"group:{g}" for g in principal.groups), "*")


@dataclass(frozen=True, slots=True)
class _ColumnAccess:
    """One grantee's access to one table: all columns, or those its column grants match."""

    table_grant: Grant | None
    column_grants: tuple[Grant, ...]

    def grant_for(self, column: str) -> Grant | None:
        """The grant through which this grantee sees ``column``, if any."""
        if not self.column_grants:
            return self.table_grant
        return next((g for g in self.column_grants if g.on.matches_column(column)), None)


class PrincipalView:
    """The grants, filters and masks that concern one principal, with cached answers."""

    __slots__ = ("_columns", "_decisions", "_grants", "_masks", "_row_filters", "principal")

    def __init__(
        self,
        principal: Principal,
        index: GrantIndex,
        row_filters: Sequence[RowFilter],
        masks: Sequence[ColumnMask],
    ) -> None:
        self.principal = principal
        self._grants: dict[str, Mapping[tuple[str, str], Bucket]] = {
            g: index[g] for g in grantees_of(principal) if g in index
        }
        self._row_filters = [f for f in row_filters if f.applies_to(principal)]
        self._masks = [m for m in masks if m.applies_to(principal)]
        self._decisions: dict[tuple[str, str], Grant | None] = {}
        self._columns: dict[str, tuple[_ColumnAccess, ...]] = {}

    def grants(self, privilege: str, kind: str) -> list[Grant]:
        """Every grant of ``privilege`` on a ``kind`` securable that names the principal."""
        return [
            g
            for by_kind in self._grants.values()
            for g in by_kind.get((privilege, kind), _EMPTY).grants
        ]

    def column_access(self, table: str) -> tuple[_ColumnAccess, ...]:
        """Per matching grantee, its access to ``table`` (grantees without any left out)."""
        key = table.casefold()
        cached = self._columns.get(key)
        if cached is not None:
            return cached
        access: list[_ColumnAccess] = []
        for by_kind in self._grants.values():
            tables = [
                g
                for g in by_kind.get(("SELECT", "table"), _EMPTY).candidates("table", table)
                if g.on.matches_table(table)
            ]
            columns = tuple(
                g
                for g in by_kind.get(("SELECT", "column"), _EMPTY).candidates("column", table)
                if g.on.matches_table(table)
            )
            if tables or columns:
                access.append(_ColumnAccess(tables[0] if tables else None, columns))
        result = tuple(access)
        self._columns[key] = result
        return result

    def column_grant(self, table: str, column: str) -> Grant | None:
        """The grant that lets the principal see ``table.column``, if any."""
        for access in self.column_access(table):
            grant = access.grant_for(column)
            if grant is not None:
                return grant
        return None

    def decide(self, privilege: str, securable: Securable) -> Grant | None:
        """The grant giving ``privilege`` on ``securable`` (taken literally), or ``None``."""
        key = (privilege, securable.key)
        if key in self._decisions:
            return self._decisions[key]
        grant: Grant | None
        if securable.kind == "table":
            access = self.column_access(securable.name)
            grant = next((a.table_grant for a in access if a.table_grant), None)
            if grant is None and access:
                grant = access[0].column_grants[0]
        elif securable.kind == "column":
            grant = self.column_grant(securable.table, securable.column)
        else:
            attributes = self.principal.attributes
            candidates = (
                g
                for by_kind in self._grants.values()
                for g in by_kind.get((privilege, securable.kind), _EMPTY).candidates(
                    securable.kind, securable.name
                )
            )
            grant = next(
                (
                    g
                    for g in candidates
                    if g.on.matches(securable) and all(a in attributes for a in g.attributes)
                ),
                None,
            )
        self._decisions[key] = grant
        return grant

    def row_filters(self, table: str) -> list[RowFilter]:
        """The row filters on ``table`` that restrict the principal, in declaration order."""
        return [f for f in self._row_filters if f.on.matches_table(table)]

    def mask(self, table: str, column: str) -> ColumnMask | None:
        """The first declared mask on ``table.column`` that applies to the principal."""
        target = Securable.column_of(table, column)
        return next((m for m in self._masks if m.on.matches(target)), None)


def index_grants(grants: Sequence[Grant]) -> GrantIndex:
    """Index grants by grantee, then by (privilege, kind), then by literal name."""
    index: defaultdict[str, defaultdict[tuple[str, str], Bucket]] = defaultdict(
        lambda: defaultdict(Bucket)
    )
    for grant in grants:
        index[grant.to][(grant.privilege, grant.on.kind)].add(grant)
    return {g: dict(by_kind) for g, by_kind in index.items()}
