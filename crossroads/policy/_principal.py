"""The caller's identity: who is asking, in which groups, with which attributes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from crossroads.errors import ConfigError

__all__ = ["AttributeValue", "Principal"]

AttributeValue = str | int | float | bool | tuple[str | int | float | bool, ...]


def _freeze_attribute(name: str, value: Any) -> AttributeValue:
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = tuple(value)
        if all(isinstance(v, str | int | float | bool) for v in items):
            return items
    raise ConfigError(
        f"attribute {name!r} has value {value!r} of type {type(value).__name__}; "
        "attributes must be strings, numbers, booleans or lists of those"
    )


@dataclass(frozen=True, slots=True, init=False)
class Principal:
    """Who is calling. Every call carries one; nothing runs anonymously.

    >>> alice = Principal("alice", groups=["eu_sales"], attributes={"region": "EU"})
    >>> alice.in_group("eu_sales")
    True
    """

    id: str
    """A stable identifier (user name, service account)."""
    groups: tuple[str, ...]
    """Group memberships; grants to ``group:NAME`` apply to members."""
    attributes: Mapping[str, AttributeValue] = field(hash=False)
    """Attributes bound by ``:name`` placeholders in row filters, masks and document rules."""

    def __init__(
        self,
        id: str,
        groups: Iterable[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(id, str) or not id.strip():
            raise ConfigError(f"a principal needs a non-empty string id, got {id!r}")
        if isinstance(groups, str):
            raise ConfigError(
                f"groups of principal {id!r} must be a list of names, got the string {groups!r}; "
                f"write groups=[{groups!r}]"
            )
        frozen_groups = tuple(dict.fromkeys(str(g) for g in groups))
        attrs = {str(k): _freeze_attribute(str(k), v) for k, v in (attributes or {}).items()}
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "groups", frozen_groups)
        object.__setattr__(self, "attributes", MappingProxyType(attrs))

    def __hash__(self) -> int:
        return hash((self.id, self.groups, tuple(sorted(self.attributes.items()))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Principal):
            return NotImplemented
        return (
            self.id == other.id
            and self.groups == other.groups
            and dict(self.attributes) == dict(other.attributes)
        )

    def __repr__(self) -> str:
        return (
            f"Principal({self.id!r}, groups={list(self.groups)!r}, "
            f"attributes={dict(self.attributes)!r})"
        )

    def in_group(self, group: str) -> bool:
        """Whether the principal is a member of ``group``."""
        return group in self.groups

    def matches(self, grantee: str) -> bool:
        """Whether a grantee string (``user:ID``, ``group:NAME`` or ``*``) names this principal."""
        if grantee == "*":
            return True
        kind, _, name = grantee.partition(":")
        if kind == "user":
            return name == self.id
        if kind == "group":
            return name in self.groups
        return False

    def ref(self) -> dict[str, Any]:
        """The identity as written to the audit log: id and groups (attributes stay out)."""
        return {"id": self.id, "groups": list(self.groups)}
