"""Governance: who may read which tables, columns, documents and graph relations.

One :class:`Catalog` holds principals, grants (default deny), row filters,
column masks, document rules and graph rules; every route asks it the same
questions. Load it from YAML with :meth:`Catalog.from_yaml` or build it in Python.
"""

from crossroads.policy._catalog import Catalog
from crossroads.policy._documents import DocumentFilter
from crossroads.policy._principal import AttributeValue, Principal
from crossroads.policy._rules import BoundMask, BoundRowFilter, ColumnMask, Grant, RowFilter
from crossroads.policy._securable import (
    PRIVILEGES,
    SECURABLE_KINDS,
    Securable,
    parse_grantee,
    parse_privilege,
)

__all__ = [
    "PRIVILEGES",
    "SECURABLE_KINDS",
    "AttributeValue",
    "BoundMask",
    "BoundRowFilter",
    "Catalog",
    "ColumnMask",
    "DocumentFilter",
    "Grant",
    "Principal",
    "RowFilter",
    "Securable",
    "parse_grantee",
    "parse_privilege",
]
