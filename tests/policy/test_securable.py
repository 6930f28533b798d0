"""Securables, privileges and grantees: parsing, validation and pattern matching."""

from __future__ import annotations

import pytest

from crossroads.errors import ConfigError
from crossroads.policy import Securable, parse_grantee, parse_privilege

# (pattern, target, matches?)
MATCHES = [
    ("table:sales", "table:sales", True),
    ("table:sales", "table:SALES", True),
    ("table:Sales", "table:sales", True),
    ("table:sales", "table:crm.sales", True),  # no dot: the bare table name
    ("table:sales", "table:sales_eu", False),
    ("table:crm.sales", "table:crm.sales", True),
    ("table:crm.sales", "table:prod.crm.sales", True),
    ("table:crm.sales", "table:sales", False),
    ("table:crm.sales", "table:erp.sales", False),
    ("table:crm.*", "table:crm.sales", True),
    ("table:crm.*", "table:erp.sales", False),
    ("table:sales_*", "table:sales_eu", True),
    ("table:sales_*", "table:crm.SALES_US", True),
    ("table:sales_*", "table:sales", False),
    ("table:*", "table:anything", True),
    ("table:*", "table:schema.anything", True),
    ("table:sale?", "table:sales", True),
    ("column:patients.ssn", "column:patients.ssn", True),
    ("column:patients.ssn", "column:PATIENTS.SSN", True),
    ("column:patients.ssn", "column:patients.name", False),
    ("column:patients.*", "column:patients.name", True),
    ("column:patients.*", "column:visits.name", False),
    ("column:*.ssn", "column:patients.ssn", True),
    ("column:*.ssn", "column:clinic.patients.ssn", True),
    ("column:*.ssn", "column:patients.ssn_hash", False),
    ("column:clinic.patients.ssn", "column:patients.ssn", False),
    ("collection:labels", "collection:LABELS", True),
    ("collection:lab*", "collection:labels", True),
    ("relation:INTERACTS_WITH", "relation:interacts_with", True),
    ("relation:*", "relation:TREATS", True),
    ("label:Drug", "label:Disease", False),
    ("tool:open_*", "tool:open_case", True),
    ("table:sales", "collection:sales", False),  # kinds must agree
]


@pytest.mark.parametrize(("pattern", "target", "expected"), MATCHES)
def test_pattern_matching(pattern: str, target: str, expected: bool) -> None:
    assert Securable.parse(pattern).matches(target) is expected


def test_parse_normalises_kind_and_keeps_the_name() -> None:
    s = Securable.parse(" TABLE:Crm.Sales ")
    assert (s.kind, s.name, str(s)) == ("table", "Crm.Sales", "table:Crm.Sales")
    assert s == Securable.parse("table:crm.sales")
    assert hash(s) == hash(Securable.parse("table:crm.sales"))
    column = Securable.parse("column:clinic.patients.ssn")
    assert (column.table, column.column) == ("clinic.patients", "ssn")
    assert Securable.parse("table:sales_*").is_pattern
    assert not Securable.parse("table:sales").is_pattern


# (text, a fragment the message must hold)
BAD_SECURABLES = [
    ("tabel:sales", "did you mean 'table'?"),
    ("colum:patients.ssn", "did you mean 'column'?"),
    ("colection:labels", "did you mean 'collection'?"),
    ("widget:x", "the kinds are: table, column, collection"),
    ("sales", "has no kind; write it as KIND:NAME, e.g. 'table:sales'"),
    ("table:", "has an empty name"),
    ("table:  ", "has an empty name"),
    ("column:ssn", "needs a table and a column part"),
    ("column:.ssn", "needs a table and a column part"),
    ("column:patients.", "needs a table and a column part"),
    ("table:crm..sales", "empty dotted part"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD_SECURABLES)
def test_bad_securables_are_config_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Securable.parse(text)
    assert fragment in str(info.value)


def test_a_securable_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="must be a string KIND:NAME"):
        Securable.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("*", "*"), ("user:alice", "user:alice"), ("Group:Analysts", "group:Analysts")],
)
def test_grantees(text: str, expected: str) -> None:
    assert parse_grantee(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("users:alice", "did you mean 'user:alice'?"),
        ("grp:analysts", "did you mean 'group:analysts'?"),
        ("everyone", "did you mean '*' (everyone)?"),
        ("alice", "is not 'user:ID', 'group:NAME' or '*'"),
        ("group:", "has an empty name"),
    ],
)
def test_bad_grantees(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_grantee(text)
    assert fragment in str(info.value)


def test_privileges() -> None:
    assert parse_privilege("select") == "SELECT"
    with pytest.raises(ConfigError, match="did you mean 'TRAVERSE'"):
        parse_privilege("TRAVRSE")
    with pytest.raises(ConfigError, match="the privileges are: SELECT, READ, TRAVERSE, EXECUTE"):
        parse_privilege("WRITE")
