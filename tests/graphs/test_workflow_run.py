"""Running workflows in-process: approvals, rejection, denial, conditions, retries,
failures and resume, a changed file, governed SQL templates, the report and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workflow_app import MiniApp, make_db

from crossroads.agents._workflow_cli import main as workflow_main
from crossroads.audit import AuditEvent, AuditLog
from crossroads.errors import ConfigError, PolicyViolation
from crossroads.graphs import RunState, Workflow, WorkflowRunner
from crossroads.policy import Catalog

ROOT = Path(__file__).parent.parent.parent

SIGNAL = """\
name: signal
inputs:
  since: {default: "2024-01-01"}
  threshold: {default: 2}
steps:
  - id: counts
    kind: sql
    query: |
      SELECT p.name AS product, COUNT(*) AS n
      FROM adverse_events a JOIN products p ON p.id = a.product_id
      WHERE a.serious = 1 AND a.reported_on >= {{ inputs.since }}
      GROUP BY p.name ORDER BY n DESC
  - id: interactions
    kind: graph
    when: steps.counts.rows[0][1] > inputs.threshold
    start: "{{ steps.counts.rows[0][0] | lower }}"
    path: interacts_with
  - id: label
    kind: rag
    when: steps.counts.rows[0][1] > inputs.threshold
    question: What does the label say about rash with {{ steps.counts.rows[0][0] }}?
  - id: publish
    kind: approval
    when: steps.counts.rows[0][1] > inputs.threshold
    message: "Publish the signal for {{ steps.counts.rows[0][0] }}?"
    approvers: [carol, "group:pv_officer"]
  - id: notify
    kind: tool
    name: wftest.echo
    args: {product: "{{ steps.counts.rows[0][0] }}", events: "{{ steps.counts.rows[0][1] }}"}
report: |
  # Signal since {{ inputs.since }}
  {{ steps.counts | table }}

  Interacts with: {{ steps.interactions.names | join(", ") }}

  Label: {{ steps.label.text }}

  Decision: {{ "approved by " + steps.publish.by if steps.publish.approved else "not published" }}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[MiniApp]:
    from workflow_app import POLICY

    mini = MiniApp(Catalog.from_dict(POLICY), AuditLog.memory(), make_db(tmp_path / "app.sqlite"))
    yield mini
    mini.close()


@pytest.fixture
def runner(app: MiniApp, tmp_path: Path) -> Iterator[WorkflowRunner]:
    with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as r:
        yield r


def _write(tmp_path: Path, text: str, name: str = "wf.yaml") -> Workflow:
    path = tmp_path / name
    path.write_text(text)
    return Workflow.from_yaml(path)


def _step_spans(events: list[AuditEvent]) -> dict[str, dict[str, list[AuditEvent]]]:
    """workflow.step events by step id, then by span id."""
    spans: dict[str, list[AuditEvent]] = {}
    names: dict[str, str] = {}
    for e in events:
        if e.name == "workflow.step":
            spans.setdefault(e.span_id, []).append(e)
            if e.input and "step" in e.input:
                names[e.span_id] = e.input["step"]
    out: dict[str, dict[str, list[AuditEvent]]] = {}
    for span_id, evs in spans.items():
        out.setdefault(names[span_id], {})[span_id] = evs
    return out


def test_run_waits_for_approval_then_finishes_with_a_cited_report(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    wf = _write(tmp_path, SIGNAL)
    state = runner.start(wf, app.catalog.principal("alice"), {})
    assert isinstance(state, RunState)
    assert (state.status, state.waiting_on) == ("waiting", "publish")
    assert state.message == "Publish the signal for Cardiozol?"
    assert set(state.outputs) == {"counts", "interactions", "label"}
    assert state.outputs["counts"]["rows"] == [["Cardiozol", 3], ["Neurovia", 1]]  # EU only

    done = runner.approve(state.run_id, "publish", app.catalog.principal("carol"), note="ok")
    assert done.status == "done"
    assert done.waiting_on is None
    assert done.outputs["publish"]["approved"] is True
    assert done.outputs["notify"]["value"] == {"product": "Cardiozol", "events": 3}  # an int
    report = done.report or ""
    assert "| Cardiozol | 3 |" in report
    assert "Interacts with: Ketoconazole, Clarithromycin" in report
    assert "Decision: approved by carol" in report
    sources = report.split("## Sources", 1)[1]
    assert "**counts** (sql): `SELECT" in sources
    assert "region = 'EU'" in sources
    assert "**interactions** (graph): interacts_with" in sources
    assert "**label** (document): label-cardiozol-eu" in sources

    events = app.audit.events(done.trace_id)
    spans = _step_spans(events)
    assert set(spans) == {"counts", "interactions", "label", "publish", "notify"}
    for step, by_span in spans.items():
        assert len(by_span) == 1, step
        (evs,) = by_span.values()
        assert [e.stage for e in evs].count("end") == 1, step
    (approval,) = spans["publish"].values()
    assert approval[0].principal["id"] == "carol"
    decision = next(e for e in approval if e.stage == "decision")
    assert decision.decision is not None
    assert decision.decision.allowed
    assert decision.decision.reason == "carol is an approver of publish (carol)"
    # the tools nest under their step's span
    (counts_span,) = spans["counts"]
    sql = [e for e in events if e.name == "sql.query"]
    assert sql
    assert all(e.parent_id == counts_span for e in sql)
    runs = runner.runs()
    assert [(r.run_id, r.status) for r in runs] == [(done.run_id, "done")]
    assert runs[0].principal["id"] == "alice"
    assert runs[0].digest == wf.digest


def test_a_rejection_ends_the_run_and_the_report_says_so(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    state = runner.start(_write(tmp_path, SIGNAL), app.catalog.principal("alice"), {})
    rejected = runner.approve(
        state.run_id, "publish", app.catalog.principal("carol"), approved=False, note="noise"
    )
    assert rejected.status == "rejected"
    assert "notify" not in rejected.outputs  # the steps after it never ran
    assert rejected.report is not None
    assert rejected.report.startswith("> **Rejected** at step `publish` by carol: noise.")
    assert "Decision: not published" in rejected.report
    assert not [e for e in app.audit.events() if e.name == "wftest.echo"]
    assert runner.resume(state.run_id).status == "rejected"  # nothing more to run


def test_an_approver_not_listed_is_denied_and_the_denial_is_audited(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    state = runner.start(_write(tmp_path, SIGNAL), app.catalog.principal("alice"), {})
    with pytest.raises(PolicyViolation, match="approvers are carol, group:pv_officer") as info:
        runner.approve(state.run_id, "publish", app.catalog.principal("bob"))
    assert info.value.rule == "workflow.approvers"
    denial = [e for e in app.audit.events(state.trace_id) if e.name == "workflow.approve"]
    assert len(denial) == 1
    assert denial[0].decision is not None
    assert not denial[0].decision.allowed
    assert denial[0].principal["id"] == "bob"
    assert runner.state(state.run_id).status == "waiting"  # still waiting for carol
    with pytest.raises(ConfigError, match="'label' of 'signal' is a rag step, not an approval"):
        runner.approve(state.run_id, "label", app.catalog.principal("carol"))


def test_a_false_condition_skips_steps_and_the_report_notes_it(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    state = runner.start(
        _write(tmp_path, SIGNAL), app.catalog.principal("alice"), {"threshold": "5"}
    )
    assert state.status == "done"  # the approval was skipped too: nothing to approve
    assert state.outputs["interactions"]["skipped"] is True
    assert "Interacts with: _(steps.interactions was skipped)_" in (state.report or "")
    spans = _step_spans(app.audit.events(state.trace_id))
    (skipped,) = spans["interactions"].values()
    assert [e.stage for e in skipped] == ["start", "end"]
    assert skipped[-1].result is not None
    assert skipped[-1].result["skipped"] is True
    assert not [e for e in app.audit.events() if e.name == "graph.traverse"]


RETRY = """\
name: retry
inputs:
  counter: {}
  fail_times: {default: 2}
steps:
  - id: flaky
    kind: tool
    name: wftest.flaky
    args: {counter: "{{ inputs.counter }}", fail_times: "{{ inputs.fail_times }}"}
    retries: RETRIES
"""


def test_retries_run_again_inside_one_span(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    wf = _write(tmp_path, RETRY.replace("RETRIES", "2"))
    state = runner.start(wf, app.catalog.principal("alice"), {"counter": str(tmp_path / "c")})
    assert state.status == "done"
    assert state.outputs["flaky"]["value"]["calls"] == 3
    (span,) = _step_spans(app.audit.events(state.trace_id))["flaky"].values()
    assert [e.stage for e in span] == ["start", "event", "event", "end"]
    assert [e.result["retry"] for e in span if e.stage == "event"] == [1, 2]  # type: ignore[index]


def test_a_failed_step_fails_the_run_and_resume_runs_it_again(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    wf = _write(tmp_path, RETRY.replace("RETRIES", "0"))
    inputs = {"counter": str(tmp_path / "c"), "fail_times": "1"}
    failed = runner.start(wf, app.catalog.principal("alice"), inputs)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "flaky failure 1" in failed.error
    done = runner.resume(failed.run_id)
    assert done.status == "done"
    assert done.outputs["flaky"]["value"]["calls"] == 2
    spans = _step_spans(app.audit.events(done.trace_id))["flaky"]
    assert len(spans) == 2  # two attempts, each its own complete span
    stages = sorted(tuple(e.stage for e in evs) for evs in spans.values())
    assert stages == [("start", "end"), ("start", "error")]


def test_a_denied_sql_step_fails_without_retrying(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    text = SIGNAL.replace("    kind: sql\n", "    kind: sql\n    retries: 3\n", 1)
    state = runner.start(_write(tmp_path, text), app.catalog.principal("bob"), {})
    assert state.status == "failed"
    assert state.error is not None
    assert state.error.startswith("PolicyViolation")
    assert len([e for e in app.audit.events() if e.name == "sql.query" and e.stage == "start"]) == 1


def test_template_values_are_sql_literals_never_sql(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    text = SIGNAL.split("  - id: interactions")[0]
    state = runner.start(
        _write(tmp_path, text), app.catalog.principal("alice"), {"since": "x' OR 1=1 --"}
    )
    assert state.status == "done"
    assert state.outputs["counts"]["rows"] == []
    assert "'x'' OR 1=1 --'" in state.outputs["counts"]["sql"]


def test_resume_refuses_a_changed_workflow_file(
    app: MiniApp, tmp_path: Path, runner: WorkflowRunner
) -> None:
    wf = _write(tmp_path, SIGNAL)
    state = runner.start(wf, app.catalog.principal("alice"), {})
    Path(wf.path or "").write_text(SIGNAL.replace("Signal since", "Signal from"))
    with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as other:  # a new process
        with pytest.raises(ConfigError, match="the workflow file changed since run"):
            other.approve(state.run_id, "publish", app.catalog.principal("carol"))
        with pytest.raises(ConfigError, match="no workflow run 'nope'"):
            other.resume("nope")


def test_a_tool_the_app_lacks_is_refused_before_anything_runs(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    text = SIGNAL.replace("name: wftest.echo", "name: wftest.ecko")
    with pytest.raises(
        ConfigError, match=r"needs the tool 'wftest.ecko'.*did you mean 'wftest.echo'"
    ):
        runner.start(_write(tmp_path, text), app.catalog.principal("alice"), {})
    assert runner.runs() == []


def test_an_ask_step_uses_the_apps_router(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    text = "name: a\nsteps:\n  - {id: q, kind: ask, question: 'Rash with Cardiozol?'}\n"
    state = runner.start(_write(tmp_path, text), app.catalog.principal("alice"), {})
    assert state.status == "done"
    assert state.outputs["q"]["route"] == "rag"
    assert "Rash is common" in state.outputs["q"]["text"]
    assert "**q** (document)" in (state.report or "")


def test_the_cli_runs_approves_and_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wf.yaml").write_text(SIGNAL)
    common = ["--checkpoint", str(tmp_path / "runs.sqlite")]
    args: list[Any] = ["run", "wf.yaml", "--as", "alice", "--app", "workflow_app:build"]
    app = ["--app", "workflow_app:build"]  # named again: the run store never names code
    args += ["--input", "threshold=1"]
    code = workflow_main([*args, "--audit", "audit.jsonl", "--input", "since=2024-01-03", *common])
    assert code == 0
    err = capsys.readouterr().err
    assert "waiting on the approval 'publish'" in err
    run_id = err.split("run ", 1)[1].split(":", 1)[0]

    assert workflow_main(["approve", run_id[:6], "publish", "--as", "carol", *common]) == 2
    assert "pass --app workflow_app:build again" in capsys.readouterr().err
    assert workflow_main(["approve", run_id[:6], "publish", "--as", "bob", *app, *common]) == 3
    assert "DENIED" in capsys.readouterr().err
    out = tmp_path / "report.md"
    code = workflow_main(
        [
            "approve",
            run_id,
            "publish",
            "--as",
            "carol",
            "--note",
            "fine",
            "--out",
            str(out),
            *app,
            *common,
        ]
    )
    assert code == 0
    assert "| Cardiozol | 2 |" in out.read_text()  # since 2024-01-03: one event fewer
    assert workflow_main(["runs", *common]) == 0
    listing = capsys.readouterr().out
    assert run_id in listing
    assert "done" in listing
    assert "alice" in listing
    assert workflow_main(["resume", run_id, *app, *common]) == 0
    assert workflow_main(["run", "wf.yaml", "--as", "alice", "--app", "nope:build", *common]) == 2
    assert "cannot import 'nope'" in capsys.readouterr().err
    assert AuditLog(tmp_path / "audit.jsonl").verify().ok


def test_the_pharma_example_workflow_runs_on_the_example_app(tmp_path: Path) -> None:
    import crossroads as xr

    app = xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())
    path = ROOT / "examples" / "pharma" / "workflows" / "weekly_safety_signal.yaml"
    with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as runner:
        carol = app.principal("carol")
        state = runner.start(Workflow.from_yaml(path), carol, {})
        assert (state.status, state.waiting_on) == ("waiting", "publish")
        assert state.outputs["counts"]["rows"][0] == ["Lipidex", 3]
        done = runner.approve(state.run_id, "publish", carol, note="reviewed")
        quiet = runner.start(Workflow.from_yaml(path), carol, {"threshold": "50"})
    assert done.status == "done"
    report = done.report or ""
    assert "**Signal:** Lipidex reached the threshold of 3 serious events." in report
    assert "Approved by carol: reviewed" in report
    assert "**interactions** (graph): interacts_with" in report
    assert quiet.status == "done"
    assert "No product reached the threshold of 50" in (quiet.report or "")


def test_an_ask_step_on_the_example_app_goes_through_the_router(tmp_path: Path) -> None:
    import crossroads as xr

    app = xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())
    text = (
        "name: a\nsteps:\n"
        "  - {id: q, kind: ask, question: 'How many adverse events were reported in 2024?'}\n"
    )
    with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as runner:
        state = runner.start(_write(tmp_path, text), app.principal("carol"), {})
    assert state.status == "done", state.error
    assert state.outputs["q"]["route"] == "sql"
    assert state.outputs["q"]["sources"][0]["kind"] == "sql"
    events = app.audit.events(state.trace_id)  # the router's spans nest under the step's
    (step,) = {e.span_id for e in events if e.name == "workflow.step"}
    assert next(e.parent_id for e in events if e.name == "router.ask") == step
