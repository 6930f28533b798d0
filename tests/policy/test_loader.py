"""Loading policies from YAML and dicts: the happy path, round trips, and every error class.

Each file in ``fixtures/errors/`` is one broken policy; its first line says
where the error must point and what the message must say::

    # expect line=5 key=row_filters[0].exept: unknown key 'exept'; did you mean 'except'?
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from crossroads.errors import ConfigError
from crossroads.policy import Catalog, Grant, Principal

FIXTURES = Path(__file__).parent / "fixtures"
ERROR_FILES = sorted((FIXTURES / "errors").glob("*.yaml"))
EXPECT = re.compile(r"# expect line=(\d+)(?: key=(\S+))?: (.+)")


def test_there_are_error_fixtures() -> None:
    assert len(ERROR_FILES) >= 30


@pytest.mark.parametrize("path", ERROR_FILES, ids=lambda p: p.stem)
def test_error_points_at_file_line_and_key(path: Path) -> None:
    header = EXPECT.fullmatch(path.read_text().splitlines()[0])
    assert header, f"{path.name}: the first line must be '# expect line=N key=K: message'"
    line, key, fragment = int(header[1]), header[2], header[3]
    with pytest.raises(ConfigError) as info:
        Catalog.from_yaml(path)
    err = info.value
    assert (err.file, err.line, err.key) == (str(path), line, key), str(err)
    assert fragment in err.reason, str(err)
    assert str(err).startswith(f"{path}:{line}: ")


def test_the_example_policy_loads() -> None:
    cat = Catalog.from_yaml(FIXTURES / "policy.yaml")
    alice, bob, nina = cat.principal("alice"), cat.principal("bob"), cat.principal("nina")
    assert bob.attributes["region"] == "NO"  # YAML 1.2 booleans: NO stays a string
    assert bob.attributes["regions"] == ("NO", "SE")
    assert cat.principal("guest") == Principal("guest")
    assert cat.check(alice, "SELECT", "table:sales").to == "user:alice" or cat.is_allowed(
        alice, "SELECT", "table:sales"
    )
    assert cat.is_allowed(bob, "EXECUTE", "tool:open_case")
    assert cat.is_allowed(alice, "EXECUTE", "tool:open_case")
    assert not cat.is_allowed(nina, "EXECUTE", "tool:open_case")
    assert cat.visible_columns(alice, "patients", ["ssn", "name"]) == ["ssn", "name"]
    assert [b.predicate.sql() for b in cat.row_filters_for(alice, "sales")] == ["region = 'EU'"]
    assert cat.row_filters_for(bob, "sales") == []  # group:global is exempt
    assert [b.predicate.sql() for b in cat.row_filters_for(bob, "orders")] == [
        "region IN ('NO', 'SE')"
    ]
    assert cat.masks_for(alice, "patients", ["ssn"])["ssn"].expression.sql() == (
        "'***-**-' || RIGHT(ssn, 4)"
    )
    labels = cat.document_filter(nina, "labels")
    assert labels.matches({"region": "EU"})
    assert labels.matches({"clearance": 4, "kind": "sop"})
    assert not labels.matches({"clearance": 4, "kind": "faq"})
    assert cat.document_filter(alice, "faq").allows_all
    assert cat.may_traverse(nina, "INTERACTS_WITH")
    assert cat.visible_labels(nina, ["Drug", "Gene"]) == {"Drug"}
    assert not cat.may_traverse(alice, "INTERACTS_WITH")


def _snapshot(cat: Catalog) -> tuple[Any, ...]:
    return (
        dict(cat.principals),
        set(cat.grants),
        cat.row_filters,
        cat.column_masks,
    )


def test_round_trip_through_to_dict() -> None:
    cat = Catalog.from_yaml(FIXTURES / "policy.yaml")
    data = cat.to_dict()
    again = Catalog.from_dict(data)
    assert again.to_dict() == data
    assert _snapshot(again) == _snapshot(cat)
    assert len(again.grants) == len(cat.grants) == 10


def test_round_trip_through_yaml_text(tmp_path: Path) -> None:
    cat = Catalog.from_yaml(FIXTURES / "policy.yaml")
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(cat.to_dict(), sort_keys=False))
    assert _snapshot(Catalog.from_yaml(path)) == _snapshot(cat)


def test_to_dict_of_a_catalog_built_in_python() -> None:
    cat = Catalog()
    cat.add_principal(Principal("a", groups=["g"], attributes={"r": ["x", "y"]}))
    cat.grant("SELECT", on="table:t", to="group:g")
    cat.add_row_filter("table:t", "r IN :r", to=["group:g", "user:a"], except_="user:b")
    cat.add_column_mask("column:t.c", "NULL")
    cat.add_document_rule("collection:d", "*", where={"r": [":r", "z"], "k": 1})
    cat.add_graph_rule("relation:R", "*")
    assert cat.to_dict() == {
        "version": 1,
        "principals": {"a": {"groups": ["g"], "attributes": {"r": ["x", "y"]}}},
        "grants": [{"to": "group:g", "privilege": "SELECT", "on": "table:t"}],
        "row_filters": [
            {"on": "table:t", "where": "r IN :r", "to": ["group:g", "user:a"], "except": ["user:b"]}
        ],
        "column_masks": [{"on": "column:t.c", "mask": "NULL"}],
        "documents": [
            {
                "to": "*",
                "privilege": "READ",
                "on": "collection:d",
                "where": {"r": [":r", "z"], "k": 1},
            }
        ],
        "graph": [{"to": "*", "privilege": "TRAVERSE", "on": "relation:R"}],
    }
    assert _snapshot(Catalog.from_dict(cat.to_dict())) == _snapshot(cat)
    assert Catalog().to_dict() == {"version": 1}


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\n"
        "grants:\n"
        "  - {to: '*', privilege: SELECT, on: 'table:ok'}\n"
        "  - {to: '*', privilege: SELCT, on: 'table:x'}\n"
        "  - {to: 'everyone', privilege: SELECT, on: 'table:y'}\n"
        "row_filters:\n"
        "  - {on: 'table:x', where: 'a ='}\n"
    )
    with pytest.raises(ConfigError) as info:
        Catalog.from_yaml(path)
    err = info.value
    assert (err.line, err.key) == (4, "grants[1].privilege")
    message = str(err)
    assert "2 more problems:" in message
    assert f"{path}:5: grants[2].to: grantee 'everyone'" in message
    assert f"{path}:7: row_filters[0].where: row filter on table:x: cannot parse" in message


def test_shape_problems_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\ngrants:\n  - {to: '*', on: 'table:x'}\nrow_filter: []\n")
    with pytest.raises(ConfigError) as info:
        Catalog.from_yaml(path)
    assert (info.value.line, info.value.key) == (3, "grants[0].privilege")
    assert f"{path}:4: row_filter: unknown key 'row_filter'; did you mean 'row_filters'?" in str(
        info.value
    )


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        Catalog.from_yaml(path)
    assert info.value.file == str(path)
    assert f"the policy file {path} does not exist" in str(info.value)


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a policy file"):
        Catalog.from_yaml(tmp_path)


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\n# Zürich\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        Catalog.from_yaml(path)


def test_empty_sections_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nprincipals:\ngrants:\nrow_filters: []\n")
    assert Catalog.from_yaml(path).to_dict() == {"version": 1}


# -- from_dict errors: no lines, but the source and the key path ----------------------

DICT_ERRORS: list[tuple[Any, str, str]] = [
    ({"version": 1, "grants": [{"to": "*", "privilege": "SELECT"}]}, "grants[0].on", "missing"),
    ({"grants": [{"to": "*", "privilege": "SELECT", "on": "x"}]}, "grants[0].on", "has no kind"),
    ({"version": 3}, "version", "unsupported policy version 3"),
    ({"version": True}, "version", "expected a whole number, got bool True"),
    (
        {"principals": {"a": {"attributes": {"r": None}}}},
        "principals.a.attributes.r",
        "got NoneType None",
    ),
    ({"row_filters": [{"on": "table:t", "where": 1}]}, "row_filters[0].where", "expected a string"),
    (
        {"column_masks": [{"on": "column:t.c", "mask": "'x'", "to": []}]},
        "column_masks[0].to",
        "applies to nobody",
    ),
    (["not", "a", "mapping"], "", "expected a mapping with the keys version, principals"),
]


@pytest.mark.parametrize(("data", "key", "fragment"), DICT_ERRORS)
def test_from_dict_errors(data: Any, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Catalog.from_dict(data, source="inline policy")
    err = info.value
    assert (err.file, err.line, err.key or "") == ("inline policy", None, key)
    assert fragment in err.reason


def test_from_dict_without_version_reads_version_1() -> None:
    cat = Catalog.from_dict({"grants": [{"to": "*", "privilege": "SELECT", "on": "table:t"}]})
    assert cat.grants == (Grant(privilege="SELECT", on="table:t", to="*"),)
