"""Workflow runs kept in PostgreSQL (LangGraph's PostgresSaver and the run tables in one
database), and the errors around it that need no server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from workflow_app import POLICY, MiniApp, make_db

from crossroads.audit import AuditLog
from crossroads.errors import ConfigError, MissingDependency
from crossroads.graphs import Workflow, WorkflowRunner
from crossroads.graphs._workflow_store import RunStore, _postgres_urls
from crossroads.policy import Catalog

WORKFLOW = """\
name: pg
steps:
  - id: counts
    kind: sql
    query: SELECT COUNT(*) AS n FROM adverse_events
  - id: ok
    kind: approval
    message: "{{ steps.counts.rows[0][0] }} events: publish?"
    approvers: ["group:pv_officer"]
report: "{{ steps.counts.rows[0][0] }} events, approved: {{ steps.ok.approved }}"
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[MiniApp]:
    mini = MiniApp(Catalog.from_dict(POLICY), AuditLog.memory(), make_db(tmp_path / "app.sqlite"))
    yield mini
    mini.close()


@pytest.mark.postgres
def test_a_run_survives_in_postgres_across_runners(
    pg_url: str, app: MiniApp, tmp_path: Path
) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    with WorkflowRunner(app, checkpoint=pg_url) as first:
        state = first.start(Workflow.from_yaml(path), app.catalog.principal("alice"), {})
    assert (state.status, state.message) == ("waiting", "6 events: publish?")
    with WorkflowRunner(app, checkpoint=pg_url) as second:  # as if another process
        done = second.approve(state.run_id, "ok", app.catalog.principal("carol"))
        assert done.status == "done"
        assert done.report is not None
        assert done.report.startswith("6 events, approved: true")
        assert [r.run_id for r in second.runs()] == [state.run_id]
    sqlalchemy_url, _ = _postgres_urls(pg_url)
    engine = create_engine(sqlalchemy_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"checkpoints", "crossroads_workflow_runs", "crossroads_workflow_steps"} <= tables


def test_postgres_urls_become_a_psycopg_url_and_a_libpq_conninfo() -> None:
    url, conninfo = _postgres_urls("postgresql+psycopg://root:pw@127.0.0.1:5432/test?sslmode=off")
    assert url == "postgresql+psycopg://root:pw@127.0.0.1:5432/test?sslmode=off"
    assert conninfo == "postgresql://root:pw@127.0.0.1:5432/test?sslmode=off"
    assert _postgres_urls("postgres://h/db")[1] == "postgresql://h/db"


def test_a_missing_postgres_extra_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres", None)
    with pytest.raises(MissingDependency, match=r"pip install 'crossroads\[postgres\]'"):
        RunStore.open("postgresql://root@127.0.0.1:1/none")


def test_an_unknown_checkpoint_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match="neither a file path nor a postgresql:// URL"):
        RunStore.open("mysql://root@localhost/runs")
