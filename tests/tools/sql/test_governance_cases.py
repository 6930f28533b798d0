"""Data-driven governance cases (fixtures/governance.yaml) on real SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools.sql import GovernedSQL

FIXTURES = Path(__file__).parent / "fixtures"
CASES: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "governance.yaml").read_text())


def test_case_names_are_unique() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_governance_case(case: dict[str, Any], backend_url: str, audit: AuditLog) -> None:
    backend = backend_url.split(":", 1)[0].split("+")[0].replace("postgresql", "postgres")
    if case.get("only", backend) != backend:
        pytest.skip(f"{case['only']}-only case")
    catalog = Catalog.from_yaml(FIXTURES / case.get("policy", "policy.yaml"))
    principal = catalog.principal(case["as"])
    with SQLDatabase(backend_url) as db:
        governed = GovernedSQL(db, catalog, audit=audit, max_rows=4)
        _check(case, governed, principal, audit)


def _check(
    case: dict[str, Any], governed: GovernedSQL, principal: Principal, audit: AuditLog
) -> None:
    if "deny" in case:
        with pytest.raises(PolicyViolation) as info:
            governed.run(case["sql"], principal)
        assert case["deny"] in info.value.rule, str(info.value)
        assert info.value.principal == principal.id
        if "message" in case:
            assert case["message"] in str(info.value)
        # the denial is audited: a decision event that denies, then an error event
        events = audit.events()
        assert any(e.decision is not None and not e.decision.allowed for e in events)
        assert events[-1].stage == "error"
        return
    result = governed.run(case["sql"], principal)
    if "rows" in case:
        assert [list(r) for r in result.rows] == case["rows"], result.sql
    if "columns" in case:
        assert list(result.columns) == case["columns"]
    for fragment in case.get("contains", []):
        assert fragment in result.sql
    stages = [e.stage for e in audit.events()]
    assert stages == ["start", "decision", "end"]
