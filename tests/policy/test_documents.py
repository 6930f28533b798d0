"""Document rules: READ on collections, narrowed by metadata, combined as a union."""

from __future__ import annotations

from typing import Any

import pytest

from crossroads.errors import ConfigError, PolicyViolation
from crossroads.policy import Catalog, DocumentFilter, Principal

MI_EU = Principal("m", groups=["medical_info"], attributes={"region": "EU", "tiers": ["1", "2"]})


def _catalog() -> Catalog:
    cat = Catalog()
    cat.add_document_rule("collection:labels", "group:medical_info", where={"region": ":region"})
    cat.add_document_rule(
        "collection:labels", "group:medical_info", where={"kind": "sop", "tier": ":tiers"}
    )
    cat.add_document_rule("collection:labels", "*", where={"audience": ["public", "hcp"]})
    cat.add_document_rule("collection:faq", "*")
    return cat


# (metadata, may MI_EU read it?)
METADATA = [
    ({"region": "EU"}, True),
    ({"region": ["US", "EU"]}, True),  # a list matches if any element is allowed
    ({"region": ["US", "JP"]}, False),
    ({"region": "US"}, False),
    ({}, False),  # a missing field does not match
    ({"kind": "sop", "tier": "2"}, True),
    ({"kind": "sop", "tier": "3"}, False),
    ({"kind": "sop"}, False),  # every field of a clause must match
    ({"kind": "faq", "tier": "1"}, False),
    ({"audience": "hcp", "region": "US"}, True),  # the rule granted to everyone
    ({"audience": {"nested": 1}}, False),  # unhashable metadata allows nothing
]


@pytest.mark.parametrize(("metadata", "expected"), METADATA)
def test_union_of_rules(metadata: dict[str, Any], expected: bool) -> None:
    f = _catalog().document_filter(MI_EU, "labels")
    assert f.matches(metadata) is expected


def test_clauses_are_exposed_for_vector_stores() -> None:
    f = _catalog().document_filter(MI_EU, "collection:labels")
    assert not f.allows_all
    assert [dict(c) for c in f.clauses] == [
        {"region": {"EU"}},
        {"kind": {"sop"}, "tier": {"1", "2"}},
        {"audience": {"public", "hcp"}},
    ]
    assert len(f.rules) == 3
    assert str(f.collection) == "collection:labels"


def test_a_rule_without_where_grants_the_whole_collection() -> None:
    f = _catalog().document_filter(Principal("anyone"), "faq")
    assert f.allows_all
    assert f.clauses == ()
    assert f.matches({})
    assert f.describe() == "collection:faq: all documents"


def test_rules_whose_attribute_is_missing_do_not_apply() -> None:
    no_region = Principal("n", groups=["medical_info"], attributes={"tiers": "1"})
    f = _catalog().document_filter(no_region, "labels")
    assert [dict(c) for c in f.clauses] == [
        {"kind": {"sop"}, "tier": {"1"}},
        {"audience": {"public", "hcp"}},
    ]
    assert not f.matches({"region": "EU"})


def test_a_denial_explains_missing_attributes() -> None:
    cat = Catalog()
    cat.add_document_rule("collection:labels", "group:medical_info", where={"region": ":region"})
    cat.add_document_rule("collection:other", "group:medical_info")
    with pytest.raises(PolicyViolation) as info:
        cat.document_filter(Principal("n", groups=["medical_info"]), "labels")
    err = info.value
    assert "need attributes it lacks" in str(err)
    assert "Ask an administrator to set 'region' for 'n'" in str(err)
    assert (err.securable, err.privilege) == ("collection:labels", "READ")
    assert "attribute 'region'" in err.rule
    with pytest.raises(PolicyViolation, match="needs attribute 'region'"):
        cat.check(Principal("n", groups=["medical_info"]), "READ", "collection:labels")
    assert not cat.is_allowed(Principal("n", groups=["medical_info"]), "READ", "collection:labels")
    assert cat.is_allowed(MI_EU, "READ", "collection:labels")


def test_no_rule_is_default_deny() -> None:
    with pytest.raises(PolicyViolation) as info:
        _catalog().document_filter(MI_EU, "contracts")
    assert info.value.rule == "default deny"
    assert "no rule gives READ on collection:contracts to principal 'm'" in str(info.value)


def test_literal_values_of_any_type() -> None:
    cat = Catalog()
    cat.add_document_rule("collection:c", "*", where={"year": [2023, 2024], "public": True})
    f = cat.document_filter(Principal("x"), "c")
    assert f.matches({"year": 2024, "public": True})
    assert not f.matches({"year": 2022, "public": True})


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ({"region": []}, "empty list, which no document can match"),
        ({"region": ":"}, "looks like an attribute reference"),
        ({"region": {"a": 1}}, "values are strings, numbers, booleans"),
        ({"": "x"}, "field names are non-empty strings"),
    ],
)
def test_bad_where(where: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Catalog().add_document_rule("collection:c", "*", where=where)
    assert fragment in str(info.value)


def test_document_rules_need_a_collection() -> None:
    with pytest.raises(ConfigError, match="a document rule applies to a collection"):
        Catalog().add_document_rule("table:c", "*")
    with pytest.raises(ConfigError, match="only READ on a collection"):
        Catalog().grant("SELECT", on="table:c", to="*", where={"a": 1})


def test_describe_and_value_semantics() -> None:
    cat = Catalog()
    grant = cat.add_document_rule("collection:c", "*", where={"region": [":region", "GLOBAL"]})
    assert grant.describe() == "READ on collection:c to * where region in (:region, 'GLOBAL')"
    f = cat.document_filter(MI_EU, "c")
    assert f.describe() == "collection:c where (region in {'EU', 'GLOBAL'})"
    same = DocumentFilter(
        collection="collection:c", allows_all=False, clauses=[{"region": ["EU", "GLOBAL"]}]
    )
    assert f == same


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, True),
        (True, False),  # True == 1 in Python, but a flag is not a clearance level
        (1.0, False),
        ("1", False),
        ([{"nested": 1}, 1], True),  # an unhashable element is skipped, not fatal
        ([1, {"nested": 1}], True),
        ({"nested": 1}, False),
    ],
)
def test_values_match_by_type_as_well_as_value(value: Any, expected: bool) -> None:
    cat = Catalog()
    cat.grant("READ", on="collection:c", to="*", where={"level": [1]})
    rule = cat.document_filter(Principal("p"), "c")
    assert rule.matches({"level": value}) is expected
