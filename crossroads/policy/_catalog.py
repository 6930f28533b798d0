"""The policy catalog: principals, grants, row filters, masks, and the questions tools ask."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, cast

from sqlglot import exp

from crossroads.errors import ConfigError, PolicyViolation
from crossroads.policy._documents import DocumentFilter, build_document_filter
from crossroads.policy._principal import Principal
from crossroads.policy._rules import BoundMask, BoundRowFilter, ColumnMask, Grant, RowFilter
from crossroads.policy._securable import (
    Securable,
    check_privilege_applies,
    did_you_mean,
    parse_privilege,
)
from crossroads.policy._view import GrantIndex, PrincipalView, grantees_of, index_grants

__all__ = ["Catalog"]

_MAX_VIEWS = 4096  # cached principals; past this the cache starts over


def _covers(granted: Securable, wanted: Securable) -> bool:
    """Whether a grant on ``granted`` gives access to ``wanted`` (taken literally)."""
    if granted.kind == wanted.kind:
        return granted.matches(wanted)
    if granted.kind == "column" and wanted.kind == "table":  # a column grant opens its table
        return granted.matches_table(wanted.name)
    if granted.kind == "table" and wanted.kind == "column":
        return granted.matches_table(wanted.table)
    return False


class Catalog:
    """Who may do what: grants (default deny), row filters, column masks, document and graph rules.

    Build it in Python or load it with :meth:`from_yaml` / :meth:`from_dict`::

        cat = Catalog()
        cat.grant("SELECT", on="table:sales", to="group:analysts")
        cat.add_row_filter("table:sales", "region = :region", except_=["group:global"])
        cat.check(alice, "SELECT", "table:sales")   # the Grant, or PolicyViolation

    Answers are cached per principal; any mutation drops the cache.
    """

    def __init__(self) -> None:
        self._principals: dict[str, Principal] = {}
        self._grants: dict[Grant, Grant] = {}  # ordered; each grant maps to itself
        self._row_filters: list[RowFilter] = []
        self._masks: list[ColumnMask] = []
        self._index: GrantIndex | None = None
        self._views: dict[Principal, PrincipalView] = {}
        self._version = 0

    @property
    def version(self) -> int:
        """Grows with every change (grant, revoke, filter, mask, principal): a cache of
        anything derived from the catalog is stale when the version it saw differs."""
        return self._version

    def __repr__(self) -> str:
        return (
            f"<Catalog: {len(self._principals)} principals, {len(self._grants)} grants, "
            f"{len(self._row_filters)} row filters, {len(self._masks)} column masks>"
        )

    # -- building ------------------------------------------------------------------

    def _changed(self) -> None:
        self._index = None
        self._views.clear()
        self._version += 1

    def add_principal(self, principal: Principal) -> Principal:
        """Register a principal, so :meth:`principal` can find it by id."""
        if not isinstance(principal, Principal):
            raise ConfigError(f"add_principal takes a Principal, got {type(principal).__name__}")
        known = self._principals.get(principal.id)
        if known is not None and known != principal:
            raise ConfigError(
                f"principal {principal.id!r} is already defined as {known!r}; "
                "give each principal one definition"
            )
        self._principals[principal.id] = principal
        self._changed()
        return principal

    def grant(
        self,
        privilege: str,
        *,
        on: str | Securable,
        to: str,
        where: Mapping[str, Any] | None = None,
    ) -> Grant:
        """Grant ``privilege`` on ``on`` to ``to``; granting the same thing twice is a no-op."""
        new = Grant(privilege=privilege, on=on, to=to, where=where)
        existing = self._grants.get(new)
        if existing is not None:
            return existing
        self._grants[new] = new
        self._changed()
        return new

    def revoke(
        self,
        privilege: str,
        *,
        on: str | Securable,
        to: str,
        where: Mapping[str, Any] | None = None,
    ) -> Grant:
        """Remove the grant of ``privilege`` on exactly ``on`` to exactly ``to``.

        ``where`` picks one of several document rules that differ only by it.
        When no grant matches, the :class:`ConfigError` names the grants through
        which ``to`` still holds the privilege.
        """
        wanted = Grant(privilege=privilege, on=on, to=to, where=where)
        found = [
            g
            for g in self._grants
            if (g.privilege, g.on, g.to) == (wanted.privilege, wanted.on, wanted.to)
            and (where is None or g.where == wanted.where)
        ]
        if len(found) > 1:
            listed = "; ".join(g.describe() for g in found)
            raise ConfigError(
                f"{wanted.to} has {len(found)} grants of {wanted.privilege} on {wanted.on} "
                f"({listed}); pass where= to say which one to revoke"
            )
        if not found:
            raise ConfigError(self._nothing_to_revoke(wanted))
        del self._grants[found[0]]
        self._changed()
        return found[0]

    def _nothing_to_revoke(self, wanted: Grant) -> str:
        head = f"{wanted.to} has no grant of {wanted.privilege} on {wanted.on} to revoke"
        kind, _, name = wanted.to.partition(":")
        if kind == "user" and name in self._principals:
            names = set(grantees_of(self._principals[name]))
        else:
            names = {wanted.to, "*"}
        still = [
            g
            for g in self._grants
            if g.privilege == wanted.privilege and g.to in names and _covers(g.on, wanted.on)
        ]
        if still:
            via = "; ".join(
                g.describe().replace(f" to {g.to}", f" is granted to {g.to}", 1) for g in still
            )
            return (
                f"{head}; {via}. To take {wanted.privilege} away from {wanted.to}, revoke "
                "those grants (or remove it from the groups they name)"
            )
        own = [str(g.on) for g in self._grants if g.to == wanted.to]
        hint = did_you_mean(str(wanted.on), own)
        listed = f"{wanted.to} holds: {', '.join(own)}" if own else f"{wanted.to} holds no grants"
        return f"{head}, and no other grant gives it that privilege; {hint}{listed}"

    def add_row_filter(
        self,
        on: str | Securable,
        where: str,
        *,
        to: str | Iterable[str] = ("*",),
        except_: str | Iterable[str] = (),
    ) -> RowFilter:
        """Declare a row filter; several on one table are ANDed."""
        rule = RowFilter(on=on, where=where, to=to, except_=except_)
        if rule in self._row_filters:
            return rule
        self._row_filters.append(rule)
        self._changed()
        return rule

    def add_column_mask(
        self,
        on: str | Securable,
        mask: str,
        *,
        to: str | Iterable[str] = ("*",),
        except_: str | Iterable[str] = (),
    ) -> ColumnMask:
        """Declare a column mask; the first declared mask that matches and applies wins."""
        rule = ColumnMask(on=on, mask=mask, to=to, except_=except_)
        for existing in self._masks:
            if existing.on == rule.on:
                raise ConfigError(
                    f"{rule.on} already has a mask ({existing.describe()}); a column takes one "
                    "mask: merge the two (a CASE expression can vary it by attribute) or "
                    "remove one"
                )
        self._masks.append(rule)
        self._changed()
        return rule

    def add_document_rule(
        self, on: str | Securable, to: str, where: Mapping[str, Any] | None = None
    ) -> Grant:
        """Grant READ on a collection, limited to documents whose metadata match ``where``."""
        securable = Securable.parse(on)
        if securable.kind != "collection":
            raise ConfigError(
                f"a document rule applies to a collection, not to {securable}; "
                "write on: 'collection:NAME'"
            )
        return self.grant("READ", on=securable, to=to, where=where)

    def add_graph_rule(self, on: str | Securable, to: str) -> Grant:
        """Grant TRAVERSE on a ``relation:``, ``label:`` or ``graph:`` securable."""
        return self.grant("TRAVERSE", on=on, to=to)

    # -- reading -------------------------------------------------------------------

    @property
    def principals(self) -> Mapping[str, Principal]:
        """The registered principals by id (a read-only view)."""
        return MappingProxyType(self._principals)

    def principal(self, id: str) -> Principal:
        """The registered principal ``id``; :class:`ConfigError` (with a suggestion) if unknown."""
        try:
            return self._principals[id]
        except KeyError:
            known = ", ".join(sorted(self._principals)) or "none"
            raise ConfigError(
                f"no principal {id!r} in the catalog; {did_you_mean(id, self._principals)}"
                f"known principals: {known}"
            ) from None

    @property
    def grants(self) -> tuple[Grant, ...]:
        """Every grant, in declaration order."""
        return tuple(self._grants)

    @property
    def row_filters(self) -> tuple[RowFilter, ...]:
        """Every row filter, in declaration order."""
        return tuple(self._row_filters)

    @property
    def column_masks(self) -> tuple[ColumnMask, ...]:
        """Every column mask, in declaration order (the first that matches wins)."""
        return tuple(self._masks)

    # -- questions -----------------------------------------------------------------

    def _view(self, principal: Principal) -> PrincipalView:
        view = self._views.get(principal)
        if view is not None:
            return view
        _require_principal(principal)
        if self._index is None:
            self._index = index_grants(list(self._grants))
        if len(self._views) >= _MAX_VIEWS:
            self._views.clear()
        view = PrincipalView(principal, self._index, self._row_filters, self._masks)
        self._views[principal] = view
        return view

    @staticmethod
    def _question(privilege: str, securable: str | Securable) -> tuple[str, Securable]:
        priv = parse_privilege(privilege)
        target = Securable.parse(securable)
        check_privilege_applies(priv, target)
        return priv, target

    def is_allowed(self, principal: Principal, privilege: str, securable: str | Securable) -> bool:
        """Whether some grant gives ``principal`` ``privilege`` on ``securable``."""
        priv, target = self._question(privilege, securable)
        return self._view(principal).decide(priv, target) is not None

    def check(self, principal: Principal, privilege: str, securable: str | Securable) -> Grant:
        """The grant that allows the access; :class:`PolicyViolation` (default deny) if none."""
        priv, target = self._question(privilege, securable)
        view = self._view(principal)
        grant = view.decide(priv, target)
        if grant is not None:
            return grant
        if target.kind == "collection":  # explains rules whose attributes the principal lacks
            rules = [g for g in view.grants("READ", "collection") if g.on.matches(target)]
            build_document_filter(principal, target, rules)
        raise self._denial(view, priv, target)

    def _denial(self, view: PrincipalView, privilege: str, target: Securable) -> PolicyViolation:
        p = view.principal
        why = ""
        if target.kind == "column" and view.column_access(target.table):
            narrowing = sorted(
                {g.to for a in view.column_access(target.table) for g in a.column_grants}
            )
            why = (
                f"; {p.id!r} may query {target.table}, but the column grants to "
                f"{', '.join(narrowing)} do not include {target.column}"
            )
        return PolicyViolation(
            f"no grant gives {privilege} on {target} to principal {p.id!r} "
            f"(groups: {', '.join(p.groups) or 'none'}){why}. Ask an administrator to grant "
            f"{privilege} on {target} to user:{p.id} or to one of its groups",
            principal=p.id,
            securable=str(target),
            rule="default deny",
            privilege=privilege,
        )

    def visible_columns(
        self, principal: Principal, table: str, columns: Sequence[str]
    ) -> list[str]:
        """The columns of ``table`` the principal may select, in the given order.

        Per grantee naming the principal: all columns if it holds a table grant
        and no column grants on the table, else exactly those its column grants
        match. The union over grantees, so joining a group never hides a column.
        """
        access = self._view(principal).column_access(table)
        if any(not a.column_grants for a in access):
            return list(columns)
        return [c for c in columns if any(a.grant_for(c) for a in access)]

    def row_filters_for(self, principal: Principal, table: str) -> list[BoundRowFilter]:
        """The row filters on ``table`` that apply to the principal, bound to its attributes.

        Raises :class:`PolicyViolation` when the principal lacks an attribute a filter needs.
        """
        return [f.bind(principal, table) for f in self._view(principal).row_filters(table)]

    def row_predicate(self, principal: Principal, table: str) -> exp.Expression | None:
        """The AND of :meth:`row_filters_for` (``None`` when no filter applies)."""
        bound = self.row_filters_for(principal, table)
        if not bound:
            return None
        if len(bound) == 1:
            return bound[0].predicate
        # and_ parenthesises OR-predicates; its result is an exp.And, an Expression.
        return cast(exp.Expression, exp.and_(*(b.predicate for b in bound), copy=False))

    def masks_for(
        self, principal: Principal, table: str, columns: Sequence[str]
    ) -> dict[str, BoundMask]:
        """Column (as given) → bound mask, for the given columns masked for the principal.

        For each column the first declared mask that matches it and applies to
        the principal wins. Raises :class:`PolicyViolation` on a missing attribute.
        """
        view = self._view(principal)
        masks: dict[str, BoundMask] = {}
        for column in columns:
            rule = view.mask(table, column)
            if rule is not None:
                masks[column] = rule.bind(principal, f"{table}.{column}")
        return masks

    def document_filter(self, principal: Principal, collection: str) -> DocumentFilter:
        """Which documents of ``collection`` (``labels`` or ``collection:labels``) it may read.

        Raises :class:`PolicyViolation` when no rule applies (naming missing attributes).
        """
        if not collection.lower().startswith("collection:"):
            collection = f"collection:{collection}"
        target = Securable.parse(collection)
        rules = [
            g for g in self._view(principal).grants("READ", "collection") if g.on.matches(target)
        ]
        return build_document_filter(principal, target, rules)

    def may_traverse(self, principal: Principal, relation: str) -> bool:
        """Whether the principal may follow relations of type ``relation``."""
        return self.is_allowed(principal, "TRAVERSE", f"relation:{relation}")

    def traversable_relations(
        self, principal: Principal, relations: Iterable[str]
    ) -> frozenset[str]:
        """The relation types among ``relations`` the principal may traverse."""
        return frozenset(r for r in relations if self.may_traverse(principal, r))

    def visible_labels(self, principal: Principal, labels: Iterable[str]) -> frozenset[str]:
        """The node labels among ``labels`` the principal may see."""
        return frozenset(
            label for label in labels if self.is_allowed(principal, "TRAVERSE", f"label:{label}")
        )

    # -- serialisation -------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Catalog:
        """Build a catalog from the dict form (as in YAML); ``source`` names it in errors."""
        from crossroads.policy._loader import load_dict

        return load_dict(cls(), data, source=source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Catalog:
        """Load a policy file; every problem is a :class:`ConfigError` naming file, line and key."""
        from crossroads.policy._loader import load_yaml

        return load_yaml(cls(), path)

    def to_dict(self) -> dict[str, Any]:
        """The dict form; ``Catalog.from_dict(cat.to_dict())`` rebuilds an equal catalog."""
        from crossroads.policy._loader import dump_dict

        return dump_dict(self)


def _require_principal(value: object) -> None:
    """Callers outside the type checker pass ids too: say which lookup they meant."""
    if not isinstance(value, Principal):
        hint = f"; look it up with catalog.principal({value!r})" if isinstance(value, str) else ""
        raise ConfigError(
            f"policy questions take a Principal, got {type(value).__name__} {value!r}{hint}"
        )
