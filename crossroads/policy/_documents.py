"""Which documents of a collection a principal may read: the union of its document rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from crossroads.errors import PolicyViolation
from crossroads.policy._principal import Principal
from crossroads.policy._rules import Grant, Scalar, attribute_ref
from crossroads.policy._securable import Securable

__all__ = ["DocumentFilter", "build_document_filter"]


def _freeze_clauses(
    clauses: Iterable[Mapping[str, Iterable[Scalar]]],
) -> tuple[Mapping[str, frozenset[Scalar]], ...]:
    frozen: list[Mapping[str, frozenset[Scalar]]] = []
    for clause in clauses:
        item = MappingProxyType({k: frozenset(v) for k, v in clause.items()})
        if item not in frozen:
            frozen.append(item)
    return tuple(frozen)


@dataclass(frozen=True, slots=True, init=False)
class DocumentFilter:
    """The documents of one collection a principal may read.

    A document matches when ``allows_all``, or when its metadata satisfies at
    least one clause: every field of the clause is present and holds an allowed
    value (a list-valued field matches if any element is allowed). When
    ``allows_all`` is true, ``clauses`` is empty.
    """

    collection: Securable
    """The collection asked about, ``collection:NAME``."""
    allows_all: bool
    """True when some rule without ``where`` applies: the whole collection is readable."""
    clauses: tuple[Mapping[str, frozenset[Scalar]], ...] = field(hash=False)
    """OR of clauses; each clause ANDs its fields; each field allows any of a set of values."""
    rules: tuple[Grant, ...] = field(compare=False, hash=False)
    """The document rules that applied (for the audit log)."""

    def __init__(
        self,
        *,
        collection: Securable | str,
        allows_all: bool,
        clauses: Iterable[Mapping[str, Iterable[Scalar]]] = (),
        rules: Iterable[Grant] = (),
    ) -> None:
        object.__setattr__(self, "collection", Securable.parse(collection))
        object.__setattr__(self, "allows_all", bool(allows_all))
        object.__setattr__(self, "clauses", () if allows_all else _freeze_clauses(clauses))
        object.__setattr__(self, "rules", tuple(rules))

    def __hash__(self) -> int:
        return hash((self.collection, self.allows_all, len(self.clauses)))

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a document with this metadata may be read."""
        if self.allows_all:
            return True
        return any(_clause_matches(clause, metadata) for clause in self.clauses)

    def describe(self) -> str:
        """``collection:labels: all documents`` or ``collection:labels where region in {'EU'}``."""
        if self.allows_all:
            return f"{self.collection}: all documents"
        if not self.clauses:
            return f"{self.collection}: no documents"
        ors = [
            " and ".join(f"{k} in {{{', '.join(sorted(map(repr, vs)))}}}" for k, vs in c.items())
            for c in self.clauses
        ]
        return f"{self.collection} where " + " or ".join(f"({o})" for o in ors)


def _clause_matches(clause: Mapping[str, frozenset[Scalar]], metadata: Mapping[str, Any]) -> bool:
    for key, allowed in clause.items():
        if key not in metadata:
            return False
        value = metadata[key]
        values = value if isinstance(value, list | tuple | set | frozenset) else (value,)
        if not any(_allowed(v, allowed) for v in values):
            return False
    return True


def _allowed(value: Any, allowed: frozenset[Scalar]) -> bool:
    """``value`` is one of ``allowed`` by type as well as value: ``True`` is not ``1``
    and ``1`` is not ``"1"``; an unhashable value (a dict) is never allowed."""
    try:
        hit = value in allowed
    except TypeError:
        return False
    return hit and any(type(a) is type(value) and a == value for a in allowed)


def _bind_where(grant: Grant, principal: Principal) -> dict[str, set[Scalar]] | list[str]:
    """The rule's clause for ``principal``, or the attributes it lacks."""
    missing = sorted(a for a in grant.attributes if a not in principal.attributes)
    if missing:
        return missing
    clause: dict[str, set[Scalar]] = {}
    for key, values in (grant.where or {}).items():
        allowed: set[Scalar] = set()
        for v in values:
            name = attribute_ref(v)
            if name is None:
                allowed.add(v)
                continue
            bound = principal.attributes[name]
            allowed.update(bound if isinstance(bound, tuple) else (bound,))
        clause[key] = allowed
    return clause


def build_document_filter(
    principal: Principal, collection: Securable, rules: Sequence[Grant]
) -> DocumentFilter:
    """Combine the READ rules matching ``principal`` and ``collection`` into one filter.

    Raises :class:`PolicyViolation` when none applies, naming the attributes the
    principal lacks when that is why.
    """
    clauses: list[dict[str, set[Scalar]]] = []
    applied: list[Grant] = []
    skipped: list[tuple[Grant, list[str]]] = []
    allows_all = False
    for rule in rules:
        if rule.where is None:
            allows_all = True
            applied.append(rule)
            continue
        bound = _bind_where(rule, principal)
        if isinstance(bound, list):
            skipped.append((rule, bound))
        else:
            clauses.append(bound)
            applied.append(rule)
    if applied:
        return DocumentFilter(
            collection=collection, allows_all=allows_all, clauses=clauses, rules=applied
        )
    groups = ", ".join(principal.groups) or "none"
    if skipped:
        lacks = "; ".join(
            f"{rule.describe()} needs attribute{'s' if len(m) > 1 else ''} "
            f"{', '.join(map(repr, m))}"
            for rule, m in skipped
        )
        needed = sorted({a for _, m in skipped for a in m})
        raise PolicyViolation(
            f"principal {principal.id!r} (groups: {groups}) may not read {collection}: the only "
            f"rules that could apply need attributes it lacks ({lacks}). Ask an administrator "
            f"to set {', '.join(map(repr, needed))} for {principal.id!r}",
            principal=principal.id,
            securable=str(collection),
            rule=f"{skipped[0][0].describe()}: attribute {skipped[0][1][0]!r}",
            privilege="READ",
        )
    raise PolicyViolation(
        f"no rule gives READ on {collection} to principal {principal.id!r} (groups: {groups}); "
        f"ask an administrator to grant READ on {collection} to user:{principal.id} or to "
        "one of its groups",
        principal=principal.id,
        securable=str(collection),
        rule="default deny",
        privilege="READ",
    )
