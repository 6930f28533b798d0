"""Row filters and column masks: parsing at creation, binding to principal attributes."""

from __future__ import annotations

import pytest
from sqlglot import exp

from crossroads.errors import ConfigError, PolicyViolation
from crossroads.policy import Catalog, ColumnMask, Principal, RowFilter

EU = Principal(
    "alice",
    groups=["eu_sales"],
    attributes={
        "region": "EU",
        "regions": ["EU", "CH"],
        "level": 3,
        "ratio": 0.5,
        "active": True,
        "name": "O'Brien",
        "none": [],
    },
)

# (predicate, bound SQL for EU)
BINDINGS = [
    ("region = :region", "region = 'EU'"),
    ("level >= :level", "level >= 3"),
    ("score < :ratio", "score < 0.5"),
    ("is_active = :active", "is_active = TRUE"),
    ("owner = :name", "owner = 'O''Brien'"),  # a literal node, never concatenated text
    ("region IN :regions", "region IN ('EU', 'CH')"),
    ("region IN (:regions)", "region IN ('EU', 'CH')"),
    ("region IN ('US', :regions, 'JP')", "region IN ('US', 'EU', 'CH', 'JP')"),
    ("region NOT IN :regions", "NOT region IN ('EU', 'CH')"),
    ("region IN :none", "FALSE"),
    (
        "region = :region AND (level > :level OR owner = :name)",
        "region = 'EU' AND (level > 3 OR owner = 'O''Brien')",
    ),
    ("tenant_id IS NOT NULL", "NOT tenant_id IS NULL"),
    (":active", "TRUE"),  # a placeholder at the root of the tree
]


@pytest.mark.parametrize(("where", "expected"), BINDINGS)
def test_row_filter_binding(where: str, expected: str) -> None:
    cat = Catalog()
    rule = cat.add_row_filter("table:sales", where)
    (bound,) = cat.row_filters_for(EU, "sales")
    assert bound.rule is rule
    assert bound.predicate.sql() == expected
    assert not list(bound.predicate.find_all(exp.Placeholder))
    assert rule.predicate.find(exp.Placeholder) is not None or ":" not in where  # left unbound


def test_a_missing_attribute_is_a_denial_not_an_empty_value() -> None:
    cat = Catalog()
    cat.add_row_filter("table:sales", "tenant = :tenant")
    with pytest.raises(PolicyViolation) as info:
        cat.row_filters_for(EU, "sales")
    err = info.value
    assert err.principal == "alice"
    assert err.securable == "table:sales"
    assert err.rule == "row filter on table:sales (tenant = :tenant): attribute 'tenant'"
    assert "has no attribute 'tenant'" in str(err)
    assert "Ask an administrator to set the attribute 'tenant' for 'alice'" in str(err)


def test_a_list_outside_in_is_a_denial() -> None:
    cat = Catalog()
    cat.add_row_filter("table:sales", "region = :regions")
    with pytest.raises(PolicyViolation, match="a list can only stand after IN"):
        cat.row_filters_for(EU, "sales")


def test_filters_apply_to_to_and_spare_except() -> None:
    cat = Catalog()
    cat.add_row_filter("table:sales", "region = :region", except_=["group:global"])
    cat.add_row_filter("table:sales", "level <= 2", to="group:interns")
    cat.add_row_filter("table:other", "1 = 0")
    globe = Principal("g", groups=["global", "eu_sales"])  # no region: exempt, so no denial
    intern = Principal("i", groups=["interns"], attributes={"region": "US"})
    assert cat.row_filters_for(globe, "sales") == []
    assert [b.predicate.sql() for b in cat.row_filters_for(intern, "sales")] == [
        "region = 'US'",
        "level <= 2",
    ]
    assert [b.predicate.sql() for b in cat.row_filters_for(EU, "sales")] == ["region = 'EU'"]


def test_several_filters_are_anded() -> None:
    cat = Catalog()
    cat.add_row_filter("table:sales", "region = :region")
    cat.add_row_filter("table:sales_*", "a = 1 OR b = 2")
    cat.add_row_filter("table:*", "tenant IN :regions")
    assert len(cat.row_filters_for(EU, "sales_eu")) == 2
    combined = cat.row_predicate(EU, "dw.Sales")
    assert combined is not None
    assert combined.sql() == "region = 'EU' AND tenant IN ('EU', 'CH')"
    both = cat.row_predicate(EU, "sales_eu")
    assert both is not None
    assert both.sql() == "(a = 1 OR b = 2) AND tenant IN ('EU', 'CH')"
    assert cat.row_predicate(EU, "nothing_here") is not None  # table:* still applies
    assert Catalog().row_predicate(EU, "sales") is None


def test_bound_predicates_are_fresh_trees() -> None:
    cat = Catalog()
    rule = cat.add_row_filter("table:sales", "region = :region")
    first = cat.row_filters_for(EU, "sales")[0].predicate
    first.set("this", exp.column("hacked"))
    assert cat.row_filters_for(EU, "sales")[0].predicate.sql() == "region = 'EU'"
    assert rule.predicate.sql() == "region = :region"


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("region = ", "cannot parse 'region = '"),
        ("region = :region; DROP TABLE sales", "holds 2 statements"),
        ("DROP TABLE sales", "is a DROP statement, not an expression"),
        ("SELECT 1", "is a SELECT statement"),
        ("region = ?", "only named placeholders such as :region"),
        ("region = @region", "only named placeholders"),
        ("", "needs a non-empty SQL expression"),
        ("region = 'EU", "cannot"),
    ],
)
def test_malformed_predicates_fail_at_creation(where: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        RowFilter(on="table:sales", where=where)
    assert fragment in str(info.value)
    assert "row filter on table:sales" in str(info.value)


def test_a_row_filter_needs_a_table_and_someone() -> None:
    with pytest.raises(ConfigError, match=r"a row filter applies to a table, not to column:a\.b"):
        RowFilter(on="column:a.b", where="x = 1")
    with pytest.raises(ConfigError, match="would apply to nobody"):
        RowFilter(on="table:a", where="x = 1", to=[])
    with pytest.raises(ConfigError, match="did you mean '\\*'"):
        RowFilter(on="table:a", where="x = 1", except_=["everyone"])


def test_describe() -> None:
    rule = RowFilter(on="table:sales", where="region = :region", except_=("group:global",))
    assert (
        rule.describe() == "row filter on table:sales: region = :region (to *; except group:global)"
    )
    assert rule.bind(EU).describe() == "row filter on table:sales: region = 'EU'"
    assert rule.attributes == {"region"}
    mask = ColumnMask(on="column:patients.ssn", mask="'***'", to="group:x")
    assert mask.describe() == "mask on column:patients.ssn: '***' (to group:x)"


# -- masks -----------------------------------------------------------------------


def _masked() -> Catalog:
    cat = Catalog()
    cat.add_column_mask(
        "column:patients.ssn", "'***-**-' || RIGHT(ssn, 4)", except_=["group:pv_officer"]
    )
    cat.add_column_mask("column:*.ssn", "'***'")
    cat.add_column_mask("column:patients.name", "CASE WHEN region = :region THEN name END")
    cat.add_column_mask("column:*.email", "NULL", to=["group:contractors"])
    return cat


def test_the_first_declared_mask_that_applies_wins() -> None:
    masks = _masked().masks_for(EU, "patients", ["ssn", "name", "email", "dob"])
    assert {k: v.expression.sql() for k, v in masks.items()} == {
        "ssn": "'***-**-' || RIGHT(ssn, 4)",
        "name": "CASE WHEN region = 'EU' THEN name END",
    }
    assert masks["ssn"].rule.on.name == "patients.ssn"
    assert masks["ssn"].describe() == "mask on column:patients.ssn: '***-**-' || RIGHT(ssn, 4)"
    visits = _masked().masks_for(EU, "visits", ["SSN"])
    assert visits["SSN"].expression.sql() == "'***'"


def test_exempt_principals_fall_through_to_the_next_mask_that_applies() -> None:
    officer = Principal("o", groups=["pv_officer"], attributes={"region": "EU"})
    masks = _masked().masks_for(officer, "patients", ["ssn", "email"])
    # exempt from the partial mask, still under the catch-all mask on every ssn column
    assert {k: v.expression.sql() for k, v in masks.items()} == {"ssn": "'***'"}
    contractor = Principal("c", groups=["contractors"], attributes={"region": "US"})
    masks = _masked().masks_for(contractor, "patients", ["email"])
    assert masks["email"].expression.sql() == "NULL"


def test_a_mask_with_a_missing_attribute_is_a_denial() -> None:
    with pytest.raises(PolicyViolation) as info:
        _masked().masks_for(Principal("x"), "patients", ["name"])
    assert info.value.securable == "column:patients.name"
    assert "attribute 'region'" in info.value.rule


def test_two_masks_on_the_same_column_are_rejected() -> None:
    cat = _masked()
    with pytest.raises(ConfigError, match=r"column:Patients\.SSN already has a mask"):
        cat.add_column_mask("column:Patients.SSN", "'x'")
    assert len(cat.column_masks) == 4


@pytest.mark.parametrize(
    ("on", "mask", "fragment"),
    [
        ("table:patients", "'x'", "a column mask applies to a column, not to table:patients"),
        ("column:patients.ssn", "RIGHT(ssn,", "cannot parse"),
        ("column:patients.ssn", "UPDATE t SET a = 1", "not an expression"),
    ],
)
def test_malformed_masks_fail_at_creation(on: str, mask: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        ColumnMask(on=on, mask=mask)
    assert fragment in str(info.value)
