"""Grants, default deny, wildcards, revoke, column narrowing, graph rules, caching."""

from __future__ import annotations

import itertools

import pytest

from crossroads.errors import ConfigError, PolicyViolation
from crossroads.policy import Catalog, Grant, Principal

ALICE = Principal("alice", groups=["analysts", "eu_sales"], attributes={"region": "EU"})
BOB = Principal("bob", groups=["interns"])
CAROL = Principal("carol")


@pytest.fixture
def cat() -> Catalog:
    c = Catalog()
    for p in (ALICE, BOB, CAROL):
        c.add_principal(p)
    c.grant("SELECT", on="table:sales_*", to="group:analysts")
    c.grant("SELECT", on="table:crm.accounts", to="user:bob")
    c.grant("SELECT", on="table:products", to="*")
    c.grant("EXECUTE", on="tool:open_case", to="group:eu_sales")
    return c


# (principal, privilege, securable, allowed?)
DECISIONS = [
    (ALICE, "SELECT", "table:sales_eu", True),
    (ALICE, "SELECT", "table:SALES_EU", True),
    (ALICE, "select", "table:dw.sales_us", True),
    (ALICE, "SELECT", "table:sales", False),
    (ALICE, "SELECT", "table:crm.accounts", False),
    (BOB, "SELECT", "table:crm.accounts", True),
    (BOB, "SELECT", "table:prod.crm.accounts", True),
    (BOB, "SELECT", "table:accounts", False),  # the grant names a schema
    (BOB, "SELECT", "table:sales_eu", False),
    (CAROL, "SELECT", "table:products", True),  # granted to everyone
    (CAROL, "SELECT", "table:Products", True),
    (CAROL, "SELECT", "table:sales_eu", False),
    (ALICE, "EXECUTE", "tool:open_case", True),
    (BOB, "EXECUTE", "tool:open_case", False),
    (ALICE, "READ", "collection:labels", False),  # nothing granted: default deny
    (ALICE, "TRAVERSE", "relation:TREATS", False),
]


@pytest.mark.parametrize(("who", "privilege", "securable", "allowed"), DECISIONS)
def test_is_allowed(
    cat: Catalog, who: Principal, privilege: str, securable: str, allowed: bool
) -> None:
    assert cat.is_allowed(who, privilege, securable) is allowed


def test_check_returns_the_grant_that_allows(cat: Catalog) -> None:
    grant = cat.check(ALICE, "SELECT", "table:sales_eu")
    assert grant == Grant(privilege="SELECT", on="table:sales_*", to="group:analysts")
    assert grant.describe() == "SELECT on table:sales_* to group:analysts"


def test_default_deny_says_what_is_missing_and_what_to_do(cat: Catalog) -> None:
    with pytest.raises(PolicyViolation) as info:
        cat.check(BOB, "SELECT", "table:sales_eu")
    err = info.value
    assert (err.rule, err.principal, err.securable, err.privilege) == (
        "default deny",
        "bob",
        "table:sales_eu",
        "SELECT",
    )
    assert str(err) == (
        "no grant gives SELECT on table:sales_eu to principal 'bob' (groups: interns). "
        "Ask an administrator to grant SELECT on table:sales_eu to user:bob or to one of "
        "its groups"
    )
    assert isinstance(err, PermissionError)


def test_an_empty_catalog_denies_everything() -> None:
    cat = Catalog()
    for privilege, securable in [
        ("SELECT", "table:x"),
        ("SELECT", "column:x.y"),
        ("READ", "collection:x"),
        ("TRAVERSE", "graph:x"),
        ("EXECUTE", "tool:x"),
    ]:
        assert not cat.is_allowed(ALICE, privilege, securable)
    with pytest.raises(PolicyViolation):
        cat.document_filter(ALICE, "x")
    assert cat.visible_columns(ALICE, "x", ["a", "b"]) == []


@pytest.mark.parametrize(
    ("privilege", "securable", "fragment"),
    [
        ("SELECT", "collection:labels", "SELECT applies to table and column securables"),
        ("READ", "table:sales", "use SELECT on a table"),
        ("TRAVERSE", "tool:x", "use EXECUTE on a tool"),
        ("EXECUTE", "relation:TREATS", "use TRAVERSE on a relation"),
        ("WRITE", "table:sales", "unknown privilege 'WRITE'"),
        ("SELECT", "tabel:sales", "did you mean 'table'?"),
    ],
)
def test_a_privilege_on_the_wrong_kind_is_a_config_error(
    privilege: str, securable: str, fragment: str
) -> None:
    cat = Catalog()
    with pytest.raises(ConfigError) as info:
        cat.grant(privilege, on=securable, to="*")
    assert fragment in str(info.value)
    with pytest.raises(ConfigError):
        cat.is_allowed(ALICE, privilege, securable)


def test_bad_grantees_are_rejected() -> None:
    with pytest.raises(ConfigError, match="did you mean 'group:analysts'"):
        Catalog().grant("SELECT", on="table:x", to="grop:analysts")


def test_granting_twice_is_a_no_op(cat: Catalog) -> None:
    before = cat.grants
    again = cat.grant("select", on="TABLE:Sales_*", to="group:analysts")
    assert again is before[0]
    assert cat.grants == before


def test_revoke_removes_the_exact_grant(cat: Catalog) -> None:
    revoked = cat.revoke("SELECT", on="table:crm.accounts", to="user:bob")
    assert revoked.describe() == "SELECT on table:crm.accounts to user:bob"
    assert revoked not in cat.grants
    assert not cat.is_allowed(BOB, "SELECT", "table:crm.accounts")


def test_revoke_names_the_grants_that_still_give_the_privilege(cat: Catalog) -> None:
    cat.grant("SELECT", on="table:*", to="group:analysts")
    with pytest.raises(ConfigError) as info:
        cat.revoke("SELECT", on="table:sales_eu", to="user:alice")
    message = str(info.value)
    assert message.startswith(
        "user:alice has no grant of SELECT on table:sales_eu to revoke; "
        "SELECT on table:sales_* is granted to group:analysts; "
        "SELECT on table:* is granted to group:analysts"
    )
    assert "products" not in message  # table:products does not cover table:sales_eu


def test_revoke_counts_grants_to_everyone_and_column_grants(cat: Catalog) -> None:
    cat.grant("SELECT", on="column:orders.id", to="group:interns")
    with pytest.raises(
        ConfigError, match=r"SELECT on column:orders\.id is granted to group:interns"
    ):
        cat.revoke("SELECT", on="table:orders", to="user:bob")
    with pytest.raises(ConfigError, match=r"SELECT on table:products is granted to \*"):
        cat.revoke("SELECT", on="table:products", to="group:analysts")


def test_revoke_with_nothing_left_lists_what_the_grantee_holds(cat: Catalog) -> None:
    with pytest.raises(ConfigError) as info:
        cat.revoke("SELECT", on="table:crm.acounts", to="user:bob")
    assert "no other grant gives it that privilege" in str(info.value)
    assert "did you mean 'table:crm.accounts'?" in str(info.value)


def test_the_cache_follows_grant_and_revoke(cat: Catalog) -> None:
    assert not cat.is_allowed(CAROL, "SELECT", "table:orders")  # cached: denied
    cat.grant("SELECT", on="table:orders", to="user:carol")
    assert cat.is_allowed(CAROL, "SELECT", "table:orders")
    assert cat.visible_columns(CAROL, "orders", ["id"]) == ["id"]
    cat.revoke("SELECT", on="table:orders", to="user:carol")
    assert not cat.is_allowed(CAROL, "SELECT", "table:orders")
    assert cat.visible_columns(CAROL, "orders", ["id"]) == []


def test_the_cache_follows_rule_changes(cat: Catalog) -> None:
    assert cat.row_filters_for(ALICE, "sales_eu") == []
    cat.add_row_filter("table:sales_*", "region = :region")
    assert [b.predicate.sql() for b in cat.row_filters_for(ALICE, "sales_eu")] == ["region = 'EU'"]
    assert cat.masks_for(ALICE, "sales_eu", ["amount"]) == {}
    cat.add_column_mask("column:sales_eu.amount", "0")
    assert cat.masks_for(ALICE, "sales_eu", ["amount"])["amount"].expression.sql() == "0"


def test_answers_follow_the_principal_not_just_its_id() -> None:
    cat = Catalog()
    cat.add_row_filter("table:sales", "region = :region")
    cat.grant("SELECT", on="table:sales", to="group:eu_sales")
    eu = Principal("p", groups=["eu_sales"], attributes={"region": "EU"})
    us = Principal("p", groups=[], attributes={"region": "US"})
    assert cat.row_filters_for(eu, "sales")[0].predicate.sql() == "region = 'EU'"
    assert cat.row_filters_for(us, "sales")[0].predicate.sql() == "region = 'US'"
    assert cat.is_allowed(eu, "SELECT", "table:sales")
    assert not cat.is_allowed(us, "SELECT", "table:sales")


def test_principals_registry() -> None:
    cat = Catalog()
    cat.add_principal(ALICE)
    assert cat.principal("alice") is ALICE
    assert dict(cat.principals) == {"alice": ALICE}
    with pytest.raises(ConfigError, match=r"no principal 'alise'.*did you mean 'alice'"):
        cat.principal("alise")
    cat.add_principal(
        Principal("alice", groups=["analysts", "eu_sales"], attributes={"region": "EU"})
    )
    with pytest.raises(ConfigError, match="already defined"):
        cat.add_principal(Principal("alice"))


# -- columns ---------------------------------------------------------------------

PATIENT_COLUMNS = ["id", "name", "ssn", "diagnosis"]


def _columns_catalog() -> Catalog:
    cat = Catalog()
    cat.grant("SELECT", on="table:patients", to="group:doctors")
    cat.grant("SELECT", on="table:*", to="group:analysts")
    cat.grant("SELECT", on="column:patients.id", to="group:analysts")
    cat.grant("SELECT", on="column:patients.diag*", to="group:analysts")
    cat.grant("SELECT", on="column:patients.name", to="user:nurse")
    cat.grant("SELECT", on="column:*.id", to="group:auditors")
    return cat


# (groups, user id, visible columns of patients)
COLUMN_CASES = [
    (["doctors"], "u", ["id", "name", "ssn", "diagnosis"]),
    (["analysts"], "u", ["id", "diagnosis"]),  # column grants narrow the table grant
    (["auditors"], "u", ["id"]),
    ([], "nurse", ["name"]),  # a column grant alone opens the table
    (["analysts"], "nurse", ["id", "name", "diagnosis"]),
    (["analysts", "doctors"], "u", ["id", "name", "ssn", "diagnosis"]),
    ([], "u", []),
]


@pytest.mark.parametrize(("groups", "user", "expected"), COLUMN_CASES)
def test_visible_columns_narrow_per_grantee(
    groups: list[str], user: str, expected: list[str]
) -> None:
    who = Principal(user, groups=groups)
    cat = _columns_catalog()
    assert cat.visible_columns(who, "patients", PATIENT_COLUMNS) == expected
    assert cat.is_allowed(who, "SELECT", "table:patients") is bool(expected)
    for column in PATIENT_COLUMNS:
        assert cat.is_allowed(who, "SELECT", f"column:patients.{column}") is (column in expected)


def test_visible_columns_keep_the_given_order_and_spelling() -> None:
    cat = _columns_catalog()
    who = Principal("u", groups=["analysts"])
    assert cat.visible_columns(who, "PATIENTS", ["Diagnosis", "SSN", "ID"]) == ["Diagnosis", "ID"]
    # narrowing is per table: analysts still see every column of other tables
    assert cat.visible_columns(who, "visits", ["a", "b"]) == ["a", "b"]


def test_joining_a_group_never_hides_a_column() -> None:
    cat = _columns_catalog()
    groups = ["doctors", "analysts", "auditors", "nobody"]
    for r in range(len(groups) + 1):
        for subset in itertools.combinations(groups, r):
            base = set(
                cat.visible_columns(Principal("u", groups=subset), "patients", PATIENT_COLUMNS)
            )
            for extra in groups:
                more = Principal("u", groups=[*subset, extra])
                grown = set(cat.visible_columns(more, "patients", PATIENT_COLUMNS))
                assert base <= grown, (subset, extra)


def test_a_narrowed_column_denial_explains_the_narrowing() -> None:
    cat = _columns_catalog()
    with pytest.raises(PolicyViolation) as info:
        cat.check(Principal("u", groups=["analysts"]), "SELECT", "column:patients.ssn")
    assert "may query patients, but the column grants to group:analysts do not include ssn" in str(
        info.value
    )


# -- graph -----------------------------------------------------------------------


def test_graph_rules() -> None:
    cat = Catalog()
    cat.add_graph_rule("relation:INTERACTS_WITH", to="group:medical_info")
    cat.add_graph_rule("relation:METABOLISED_*", to="group:medical_info")
    cat.add_graph_rule("label:Drug", to="*")
    cat.add_graph_rule("graph:pharma", to="group:medical_info")
    mi, other = Principal("m", groups=["medical_info"]), Principal("o")
    relations = ["INTERACTS_WITH", "METABOLISED_BY", "TREATS"]
    assert cat.traversable_relations(mi, relations) == {"INTERACTS_WITH", "METABOLISED_BY"}
    assert cat.traversable_relations(other, relations) == frozenset()
    assert cat.may_traverse(mi, "interacts_with")
    assert not cat.may_traverse(mi, "TREATS")
    assert cat.visible_labels(other, ["Drug", "Gene"]) == {"Drug"}
    assert cat.is_allowed(mi, "TRAVERSE", "graph:pharma")
    assert not cat.is_allowed(other, "TRAVERSE", "graph:pharma")
    assert all(g.privilege == "TRAVERSE" for g in cat.grants)
    with pytest.raises(ConfigError, match="TRAVERSE applies to relation, label and graph"):
        cat.add_graph_rule("table:x", to="*")


def test_a_principal_id_instead_of_a_principal_gets_a_hint() -> None:
    from crossroads.errors import ConfigError
    from crossroads.policy import Catalog

    catalog = Catalog()
    catalog.grant("SELECT", on="table:t", to="user:alice")
    with pytest.raises(ConfigError, match=r"catalog\.principal\('alice'\)"):
        catalog.check("alice", "SELECT", "table:t")  # type: ignore[arg-type]
