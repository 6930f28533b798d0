"""What can be governed (securables), what may be done to it (privileges), and by whom (grantees).

A securable is written ``KIND:NAME``::

    table:sales            table:crm.accounts        table:sales_*
    column:patients.ssn    column:patients.*         column:*.ssn
    collection:labels      relation:INTERACTS_WITH   label:Drug
    graph:pharma           tool:open_case

Names may hold fnmatch wildcards (``*``, ``?``, ``[...]``) and match
case-insensitively. Table names match by their trailing dotted parts: a pattern
without a dot (``sales``) matches the bare table name (``sales``,
``crm.sales``), a pattern ``crm.sales`` matches ``crm.sales`` and
``prod.crm.sales`` but not ``sales``.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from crossroads.errors import ConfigError

__all__ = [
    "PRIVILEGES",
    "SECURABLE_KINDS",
    "Securable",
    "and_list",
    "check_privilege_applies",
    "did_you_mean",
    "parse_grantee",
    "parse_privilege",
]

PRIVILEGES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "SELECT": frozenset({"table", "column"}),
        "READ": frozenset({"collection"}),
        "TRAVERSE": frozenset({"relation", "label", "graph"}),
        "EXECUTE": frozenset({"tool"}),
    }
)
"""Each privilege and the securable kinds it applies to."""

SECURABLE_KINDS: tuple[str, ...] = (
    "table",
    "column",
    "collection",
    "relation",
    "label",
    "graph",
    "tool",
)
"""Every securable kind, in the order the documentation lists them."""

_EXAMPLES = {
    "table": "table:sales",
    "column": "column:patients.ssn",
    "collection": "collection:labels",
    "relation": "relation:INTERACTS_WITH",
    "label": "label:Drug",
    "graph": "graph:pharma",
    "tool": "tool:open_case",
}


def and_list(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1]))) if items else ""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` when ``word`` is close to one of ``choices``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.casefold()))


@lru_cache(maxsize=65536)
def _match_name(pattern: str, name: str) -> bool:
    return _compile(pattern).match(name.casefold()) is not None


@lru_cache(maxsize=65536)
def _match_table(pattern: str, table: str) -> bool:
    """Match a table pattern against a table name by the table's trailing dotted parts."""
    wanted = pattern.count(".") + 1
    parts = table.split(".")
    if len(parts) < wanted:
        return False
    return _match_name(pattern, ".".join(parts[-wanted:]))


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class Securable:
    """A governed object, ``KIND:NAME``; the name may be an fnmatch pattern.

    Equality and hashing ignore case (``table:Sales == table:sales``); ``str()``
    keeps the spelling it was written with.

    >>> Securable.parse("column:patients.*").matches("column:Patients.SSN")
    True
    """

    kind: str
    """One of :data:`SECURABLE_KINDS` (always lower case)."""
    name: str
    """The name as written: ``sales``, ``crm.sales``, ``patients.ssn``, ``sales_*``."""
    key: str = field(init=False, repr=False)
    """``kind:name`` case-folded: what equality, hashing and lookups use."""

    def __post_init__(self) -> None:
        if self.kind not in SECURABLE_KINDS or not self.name:
            raise ConfigError(
                f"Securable(kind={self.kind!r}, name={self.name!r}) is not a securable; "
                "use Securable.parse('KIND:NAME'), which validates and explains"
            )
        object.__setattr__(self, "key", f"{self.kind}:{self.name}".casefold())

    @classmethod
    def parse(cls, text: str | Securable) -> Securable:
        """Parse and validate ``KIND:NAME``; raise :class:`ConfigError` saying how to fix it."""
        if isinstance(text, Securable):
            return text
        if isinstance(text, str):
            return _parse_text(text)
        raise ConfigError(
            f"a securable must be a string KIND:NAME such as 'table:sales', "
            f"got {type(text).__name__} {text!r}"
        )

    @classmethod
    def column_of(cls, table: str, column: str) -> Securable:
        """The column securable ``column:TABLE.COLUMN``."""
        return cls.parse(f"column:{table}.{column}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Securable):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def is_pattern(self) -> bool:
        """Whether the name holds a wildcard (``*``, ``?`` or ``[``)."""
        return any(c in self.name for c in "*?[")

    @property
    def table(self) -> str:
        """The table part: the name of a table, ``TABLE`` of ``column:TABLE.COLUMN``."""
        if self.kind == "column":
            return self.name.rpartition(".")[0]
        if self.kind == "table":
            return self.name
        raise ValueError(f"{self} is a {self.kind}, not a table or column")

    @property
    def column(self) -> str:
        """The column part of ``column:TABLE.COLUMN``."""
        if self.kind != "column":
            raise ValueError(f"{self} is a {self.kind}, not a column")
        return self.name.rpartition(".")[2]

    def matches_table(self, table: str) -> bool:
        """Whether this table pattern (or a column pattern's table part) matches ``table``."""
        return _match_table(self.table, table)

    def matches_column(self, column: str) -> bool:
        """Whether the column part of this column pattern matches ``column``."""
        return _match_name(self.column, column)

    def matches(self, other: Securable | str) -> bool:
        """Whether this securable (possibly a pattern) covers ``other`` (taken literally).

        Kinds must be equal; a table pattern matches by trailing dotted parts and
        a column pattern matches table part and column part separately.
        """
        target = Securable.parse(other)
        if target.kind != self.kind:
            return False
        if self.kind == "table":
            return _match_table(self.name, target.name)
        if self.kind == "column":
            return _match_table(self.table, target.table) and _match_name(
                self.column, target.column
            )
        return _match_name(self.name, target.name)


@lru_cache(maxsize=8192)
def _parse_text(text: str) -> Securable:
    """Parse ``KIND:NAME`` (cached: securables are immutable)."""
    kind, sep, name = text.strip().partition(":")
    kind, name = kind.strip().lower(), name.strip()
    kinds = ", ".join(SECURABLE_KINDS)
    if not sep:
        raise ConfigError(
            f"securable {text!r} has no kind; write it as KIND:NAME, "
            f"e.g. 'table:{text.strip()}' (kinds: {kinds})"
        )
    if kind not in SECURABLE_KINDS:
        raise ConfigError(
            f"unknown securable kind {kind!r} in {text!r}; "
            f"{did_you_mean(kind, SECURABLE_KINDS)}the kinds are: {kinds}"
        )
    if not name:
        raise ConfigError(
            f"securable {text!r} has an empty name; write e.g. {_EXAMPLES[kind]!r}, "
            f"or {kind}:* for every {kind}"
        )
    if kind == "column":
        table, dot, column = name.rpartition(".")
        if not dot or not table.strip() or not column.strip():
            raise ConfigError(
                f"column securable {text!r} needs a table and a column part: write "
                "column:TABLE.COLUMN, e.g. 'column:patients.ssn', 'column:patients.*' "
                "or 'column:*.ssn'"
            )
    if kind in ("table", "column") and any(not part.strip() for part in name.split(".")):
        raise ConfigError(
            f"securable {text!r} has an empty dotted part; write e.g. {_EXAMPLES[kind]!r}"
        )
    return Securable(kind=kind, name=name)


def parse_privilege(privilege: str) -> str:
    """Validate a privilege name; return it upper-cased (``select`` → ``SELECT``)."""
    if not isinstance(privilege, str):
        raise ConfigError(
            f"a privilege must be a string, one of {', '.join(PRIVILEGES)}; "
            f"got {type(privilege).__name__} {privilege!r}"
        )
    name = privilege.strip().upper()
    if name not in PRIVILEGES:
        raise ConfigError(
            f"unknown privilege {privilege!r}; {did_you_mean(name, PRIVILEGES)}"
            f"the privileges are: {', '.join(PRIVILEGES)}"
        )
    return name


def check_privilege_applies(privilege: str, securable: Securable) -> None:
    """Raise :class:`ConfigError` when ``privilege`` does not apply to ``securable``'s kind."""
    if securable.kind in PRIVILEGES[privilege]:
        return
    fitting = next(p for p, kinds in PRIVILEGES.items() if securable.kind in kinds)
    kinds = and_list([k for k in SECURABLE_KINDS if k in PRIVILEGES[privilege]])
    raise ConfigError(
        f"{privilege} applies to {kinds} securables, not to {securable}; "
        f"use {fitting} on a {securable.kind}"
    )


def parse_grantee(grantee: str) -> str:
    """Validate a grantee: ``user:ID``, ``group:NAME`` or ``*`` (everyone); return it normalised."""
    if not isinstance(grantee, str):
        raise ConfigError(
            f"a grantee must be a string ('user:ID', 'group:NAME' or '*'), "
            f"got {type(grantee).__name__} {grantee!r}"
        )
    text = grantee.strip()
    if text == "*":
        return text
    kind, sep, name = text.partition(":")
    kind, name = kind.strip().lower(), name.strip()
    if sep and kind in ("user", "group") and name:
        return f"{kind}:{name}"
    if sep and kind in ("user", "group"):
        example = "user:alice" if kind == "user" else "group:analysts"
        raise ConfigError(f"grantee {grantee!r} has an empty name; write e.g. {example!r}")
    hint = ""
    if text.lower() in ("everyone", "all", "public", "any"):
        hint = "did you mean '*' (everyone)? "
    elif sep:
        close = difflib.get_close_matches(kind, ["user", "group"], n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}:{name}'? " if close else ""
    raise ConfigError(
        f"grantee {grantee!r} is not 'user:ID', 'group:NAME' or '*'; "
        f"{hint}name a user, a group, or everyone"
    )
