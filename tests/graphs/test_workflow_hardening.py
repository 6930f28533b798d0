"""Hardening of the YAML workflow engine, from an adversarial review: each test failed on
the code as reviewed; its ``# Was (severity): …`` comment says what the problem was, where,
and the fix that was suggested.

Run: ``.venv/bin/python -m pytest -q tests/graphs/test_workflow_hardening.py``
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from workflow_app import POLICY, MiniApp, make_db

from crossroads.agents._workflow_cli import main as workflow_main
from crossroads.audit import AuditLog
from crossroads.connectors import SQLDatabase
from crossroads.errors import ConfigError, CrossroadsError, PolicyViolation
from crossroads.graphs import Workflow, WorkflowRunner
from crossroads.graphs import _workflow as workflow_module
from crossroads.graphs._workflow_store import RunStore
from crossroads.policy import Catalog, Principal
from crossroads.tools import ToolRunner
from crossroads.tools.sql import GovernedSQL

HERE = Path(__file__).parent


@pytest.fixture
def app(tmp_path: Path) -> Iterator[MiniApp]:
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


def _sql_workflow(query: str, defaults: str = "v: {default: x}") -> str:
    return (
        f"name: review\ninputs:\n  {defaults}\nsteps:\n  - id: q\n    kind: sql\n"
        "    query: |\n" + textwrap.indent(query.strip("\n") + "\n", "      ")
    )


# --- 1. templated SQL ---------------------------------------------------------------------


# Was (critical): a workflow input rendered after IN reads a table the principal has no grant
# on. `_sql_literal` (crossroads/graphs/_workflow_steps.py:91-106) writes a string input as
# a string literal, so `id IN {{ inputs.ids }}` becomes `id IN 'secret_ids'`. sqlglot (and
# so every governance pass of GovernedSQL: grants, row filters, masks) sees a harmless
# literal, but SQLite resolves `IN 'name'` as `IN (SELECT * FROM name)`: a membership oracle
# over any single-column table, with no grant check and no row filter. From the CLI every
# input is a string (InputSpec.coerce leaves list defaults alone), so the natural IN-list
# workflow is exploitable by whoever runs it. The same bypass works through plain
# `sql.query` (`... IN 'secret_ids'`).
# Fix: in the SQL governance, refuse (or rewrite to `IN ('x')`) an IN whose right side is a
# bare literal, for every dialect; in the workflow, render a scalar after IN as a
# one-element tuple — better, substitute values into the parsed tree (see the next one).
def test_an_input_after_in_cannot_read_a_table_without_a_grant(tmp_path: Path) -> None:
    db = make_db(tmp_path / "app.sqlite")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE secret_ids (id INTEGER)")
    con.execute("INSERT INTO secret_ids VALUES (2)")
    con.commit()
    con.close()
    policy = {
        **POLICY,
        "grants": [{"to": "group:analysts", "privilege": "SELECT", "on": "table:products"}],
    }
    mini = MiniApp(Catalog.from_dict(policy), AuditLog.memory(), db)
    alice = mini.catalog.principal("alice")
    with pytest.raises(PolicyViolation):  # alice may not read it directly
        mini.sql.run("SELECT id FROM secret_ids", alice)
    text = _sql_workflow(
        "SELECT name FROM products WHERE id IN {{ inputs.ids }}", "ids: {default: [1]}"
    )
    with WorkflowRunner(mini, checkpoint=tmp_path / "runs.sqlite") as runner:
        state = runner.start(_write(tmp_path, text), alice, {"ids": "secret_ids"})
    mini.close()
    leaked = state.status == "done" and state.outputs["q"]["rows"] == [["Neurovia"]]
    assert not leaked, f"secret_ids read without a grant: {state.outputs['q']['sql']}"


# Was (high): a value can change the SQL's structure when its hole sits inside a string
# literal, an identifier or a comment of the query. The query is built by text splicing
# (`Template.render(quote=...)`, crossroads/graphs/_workflow_steps.py:158-165), and the only
# load-time guard is a regex for a quote right next to the braces
# (crossroads/agents/_workflow_spec.py:504), so `LIKE '%{{ v }}%'`, `-- {{ v }}`,
# `/* {{ v }} */` and `"{{ v }}"` all pass; the quoted value then closes the string / ends
# the comment (a newline in a `--` comment) and the rest is SQL: `OR 1=1` returns every row.
# The governance passes still apply (rows the principal may not see stay hidden), but
# inside that, whoever controls an input or an earlier step's output (a product name in
# the database) writes the query's WHERE.
# Fix: at load time replace each hole by a placeholder, parse the query with sqlglot,
# refuse any hole that is not a whole value expression (inside a string, an identifier or
# a comment), and at run time substitute literal nodes into the parsed tree (or pass bind
# parameters) instead of splicing text.
@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("SELECT name FROM products WHERE name LIKE '%{{ inputs.v }}%'", " OR 1=1 OR '"),
        ("SELECT name FROM products WHERE name = 'nope' -- for {{ inputs.v }}", "\n OR 1=1 --"),
        ("SELECT name FROM products WHERE name = 'nope' /* {{ inputs.v }} */", "*/ OR 1=1 /*"),
        (
            "SELECT name FROM products AS \"{{ inputs.v }}\" WHERE name = 'nope'",
            'a" WHERE 1=1 --',
        ),
    ],
    ids=["inside-like-string", "inside-line-comment", "inside-block-comment", "inside-identifier"],
)
def test_a_hole_inside_a_string_or_comment_cannot_inject_sql(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path, query: str, value: str
) -> None:
    try:
        wf = _write(tmp_path, _sql_workflow(query))
    except ConfigError:
        return  # refused at load time: fine
    state = runner.start(wf, app.catalog.principal("alice"), {"v": value})
    rows = state.outputs.get("q", {}).get("rows") if state.status == "done" else None
    assert rows != [["Cardiozol"], ["Neurovia"], ["Pulmorex"]], state.outputs["q"]["sql"]


# Was (medium): a negative number written right after '-' turns the rest of the line into
# a comment. `_sql_literal` writes -1 as `-1`, so `id = 2-{{ inputs.k }} AND name <> 'x'`
# becomes `id = 2--1 AND …`: the governed SQL is `id = 2 /* 1 AND name <> 'x' */` — a
# number input silently drops a condition and selects the wrong rows (here Neurovia, not
# Pulmorex). Where: crossroads/graphs/_workflow_steps.py:106.
# Fix: parenthesise negative numbers (`(-1)`), or substitute into the parse tree.
def test_a_negative_number_input_is_a_number_not_a_comment(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    text = _sql_workflow(
        "SELECT name FROM products WHERE id = 2-{{ inputs.k }} AND name <> 'x'",
        "k: {default: 1}",
    )
    state = runner.start(_write(tmp_path, text), app.catalog.principal("alice"), {"k": "-1"})
    assert state.status == "done", state.error
    assert state.outputs["q"]["rows"] == [["Pulmorex"]], state.outputs["q"]["sql"]


class _WarehouseApp:
    """A conforming WorkflowApp (catalog, audit, runner, ask) whose governed SQL reads the
    MySQL dialect and is not stored as ``app.sql``."""

    def __init__(self, db: Path) -> None:
        self.catalog = Catalog.from_dict(POLICY)
        self.audit = AuditLog.memory()
        self.runner = ToolRunner(self.catalog, audit=self.audit)
        self.database = SQLDatabase(f"sqlite:///{db}")
        self.warehouse = GovernedSQL(
            self.database, self.catalog, runner=self.runner, dialect="mysql"
        )

    def ask(self, question: str, *, principal: Principal) -> Any:
        raise NotImplementedError


# Was (medium): values are quoted for a dialect guessed from `app.sql.dialect`, falling
# back to SQLite (crossroads/graphs/_workflow_steps.py:111-114), while the `sql.query` tool
# parses in its own dialect. The WorkflowApp protocol has no `sql`, so a conforming app
# whose SQL reads MySQL (or BigQuery, Databricks, Snowflake: backslash-escape dialects)
# gets SQLite quoting: `x\' OR 1=1 -- ` becomes `'x\'' OR 1=1 -- '`, which MySQL reads
# as the string "x'" followed by `OR 1=1`: every row.
# Fix: take the dialect from the registered `sql.query` tool (its GovernedSQL), or refuse
# to run a sql step when it cannot be known; better, substitute into the parsed tree.
def test_values_are_quoted_for_the_dialect_the_sql_tool_reads(tmp_path: Path) -> None:
    wapp = _WarehouseApp(make_db(tmp_path / "a.sqlite"))
    text = _sql_workflow("SELECT name FROM products WHERE name = {{ inputs.v }}")
    with WorkflowRunner(wapp, checkpoint=tmp_path / "runs.sqlite") as runner:
        state = runner.start(
            _write(tmp_path, text), wapp.catalog.principal("alice"), {"v": "x\\' OR 1=1 -- "}
        )
    wapp.database.close()
    rows = state.outputs.get("q", {}).get("rows") if state.status == "done" else None
    assert rows != [["Cardiozol"], ["Neurovia"], ["Pulmorex"]], state.outputs["q"]["sql"]


# --- 2. identity and approvals ------------------------------------------------------------

GATED = """\
name: gated
steps:
  - id: gate
    kind: approval
    message: go?
    approvers: [APPROVERS]
  - id: after
    kind: sql
    query: SELECT COUNT(*) AS n FROM adverse_events
"""


# Was (medium): an approver entry is compared to the principal's id before its prefix is
# read: `entry in ("*", who.id, f"user:{who.id}")` (crossroads/graphs/_workflow.py:287).
# A principal whose id is literally "group:pv_officer" (the catalog accepts any id) passes
# the entry "group:pv_officer" without being in the group, and one whose id is
# "user:carol" passes the entry "user:carol" — impersonating carol.
# Fix: parse each entry into (kind, name): group:NAME matches only who.groups,
# user:NAME / NAME only who.id == NAME; refuse ids containing ':' (and "*") in the catalog.
@pytest.mark.parametrize(
    ("entry", "impostor"),
    [('"group:pv_officer"', "group:pv_officer"), ('"user:carol"', "user:carol")],
)
def test_an_id_that_looks_like_an_approver_entry_does_not_approve(
    tmp_path: Path, entry: str, impostor: str
) -> None:
    policy = {
        **POLICY,
        "principals": {**cast(dict[str, Any], POLICY["principals"]), impostor: {"groups": []}},
    }
    mini = MiniApp(Catalog.from_dict(policy), AuditLog.memory(), make_db(tmp_path / "a.sqlite"))
    wf = _write(tmp_path, GATED.replace("APPROVERS", entry))
    try:
        with WorkflowRunner(mini, checkpoint=tmp_path / "runs.sqlite") as runner:
            state = runner.start(wf, mini.catalog.principal("alice"), {})
            assert state.status == "waiting"
            with pytest.raises(PolicyViolation):
                runner.approve(state.run_id, "gate", mini.catalog.principal(impostor))
    finally:
        mini.close()


# Was (high): approve is check-then-act without a lock or a compare-and-swap: it reads the
# status `waiting` (crossroads/graphs/_workflow.py:260-270), then sets `running`
# unconditionally (:272) and resumes the graph. Two approvers deciding at once (one
# approves, one rejects) both succeed: two `decision` events are audited, both callers are
# told they decided, and the run record's status can contradict the stored decision (a
# `rejected` run whose gate output says approved, or the reverse).
# Fix: claim the decision atomically — `UPDATE runs SET status='running' WHERE run_id=?
# AND status='waiting' AND waiting_on=?` and refuse when no row changed (SELECT … FOR
# UPDATE on PostgreSQL).
def test_two_concurrent_decisions_on_one_gate_cannot_both_succeed(
    app: MiniApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = _write(tmp_path, GATED.replace("APPROVERS", "carol"))
    with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as first:
        state = first.start(wf, app.catalog.principal("alice"), {})
    assert state.status == "waiting"
    barrier = threading.Barrier(2)
    original = workflow_module.WorkflowRunner._check_approver

    def both_checked(self: WorkflowRunner, run: Any, step: Any, who: Principal) -> str:
        reason = original(self, run, step, who)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)  # both callers have passed the status check
        return reason

    monkeypatch.setattr(workflow_module.WorkflowRunner, "_check_approver", both_checked)
    results: dict[bool, Any] = {}

    def decide(approved: bool) -> None:
        with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as r:
            try:
                results[approved] = r.approve(
                    state.run_id, "gate", app.catalog.principal("carol"), approved=approved
                )
            except CrossroadsError as exc:
                results[approved] = exc

    threads = [threading.Thread(target=decide, args=(a,)) for a in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # exactly one caller decides; the other is refused (a CrossroadsError), not handed a
    # RunState (seen: `done` for one, and `rejected` — or `failed` with an IntegrityError
    # from the step journal — for the other)
    accepted = {a: r.status for a, r in results.items() if not isinstance(r, Exception)}
    decisions = [
        e
        for e in app.audit.events(state.trace_id)
        if e.name == "workflow.step" and e.stage == "decision"
    ]
    assert len(accepted) == 1, f"both decisions were accepted: {accepted}"
    assert len(decisions) == 1


# Was (high): nothing stops a second process from resuming a run that is still running.
# `resume` accepts any `running` run (crossroads/graphs/_workflow.py:233) and a step
# journaled `running` is taken for a crashed one (:541) and run again: the live step's
# tool runs twice (a side-effecting tool step — "open a safety case" — happens twice),
# breaking the exactly-once promise. `crossroads runs` shows a live run and a dead one
# the same way, so an operator cannot tell.
# Fix: a lease on the run (owner id + heartbeat/expiry, claimed with a conditional
# UPDATE); resume refuses a run whose lease is live (or waits for it to expire).
def test_resuming_a_run_that_is_still_running_does_not_run_its_step_twice(
    app: MiniApp, tmp_path: Path
) -> None:
    text = f"""\
name: live
steps:
  - id: wait
    kind: tool
    name: wftest.wait
    args: {{count: "{tmp_path}/count", release: "{tmp_path}/release", timeout_s: 30}}
"""
    wf = _write(tmp_path, text)
    results: dict[str, Any] = {}

    def first() -> None:
        with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as r:
            results["first"] = r.start(wf, app.catalog.principal("alice"), {})

    def second(run_id: str) -> None:
        with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as r:
            try:
                results["second"] = r.resume(run_id)
            except CrossroadsError as exc:  # refusing is fine
                results["second"] = exc

    t1 = threading.Thread(target=first)
    t1.start()
    deadline = time.monotonic() + 20
    while not (tmp_path / "count").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with RunStore.open(tmp_path / "runs.sqlite") as store:
        (record,) = store.runs()
    t2 = threading.Thread(target=second, args=(record.run_id,))
    t2.start()
    time.sleep(1.5)
    (tmp_path / "release").write_text("")
    t1.join(timeout=60)
    t2.join(timeout=60)
    runs = (tmp_path / "count").read_text().count("ran")
    assert runs == 1, f"the live step ran {runs} times"


# Was (medium): a run continues as a principal the catalog no longer knows. `_load`
# (crossroads/graphs/_workflow.py:330-335) looks the stored principal up in the current
# catalog and, when it is gone, rebuilds it from the run record with its old groups and
# attributes. A user removed from the policy (left the company, revoked) keeps querying
# with their old grants once someone approves or resumes their run; and whoever edits the
# run record's `principal` JSON picks any id, groups and attributes (row filters bind to
# attributes).
# Fix: refuse to resume/approve a run whose principal is not in the current catalog (and
# never take groups/attributes from the store), failing the run with a clear message.
def test_a_run_does_not_continue_as_a_principal_removed_from_the_policy(
    tmp_path: Path,
) -> None:
    db = make_db(tmp_path / "a.sqlite")
    wf = _write(tmp_path, GATED.replace("APPROVERS", "carol"))
    before = MiniApp(Catalog.from_dict(POLICY), AuditLog.memory(), db)
    with WorkflowRunner(before, checkpoint=tmp_path / "runs.sqlite") as runner:
        state = runner.start(wf, before.catalog.principal("alice"), {})
    before.close()
    assert state.status == "waiting"
    principals = {
        k: v for k, v in cast(dict[str, Any], POLICY["principals"]).items() if k != "alice"
    }
    after = MiniApp(Catalog.from_dict({**POLICY, "principals": principals}), AuditLog.memory(), db)
    try:
        with WorkflowRunner(after, checkpoint=tmp_path / "runs.sqlite") as runner:
            try:
                done = runner.approve(state.run_id, "gate", after.catalog.principal("carol"))
            except CrossroadsError:
                return  # refused: fine
        assert "after" not in done.outputs, "the sql step ran as the removed principal alice"
    finally:
        after.close()


# Was (high): the stored app spec is code. `resume` and `approve` rebuild the app from the
# run record (crossroads/agents/_workflow_cli.py:121-128 → build_app :36-56), and a
# `{"factory": "module:function"}` there is imported and called. Whoever can write the
# run store (a shared `.crossroads/runs.sqlite`, a PostgreSQL table) runs code as the
# next operator who types `crossroads resume`/`approve` — exactly the threat
# crossroads/graphs/_serde.py closes for the checkpoints in the same database. The other
# keys are as bad: `policy`/`db`/`docs` swap the policy and data source, `audit` diverts
# the audit trail.
# Fix: never import from the store. Require the operator to pass the app options again on
# resume/approve (or an allow-list of factories configured outside the store), and store
# a digest of the spec and of the policy file to refuse a changed one, like the workflow
# file's digest.
def test_resume_does_not_import_code_named_by_the_run_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wf.yaml").write_text(GATED.replace("APPROVERS", "carol"))
    checkpoint = ["--checkpoint", str(tmp_path / "runs.sqlite")]
    code = workflow_main(
        [
            *("run", "wf.yaml", "--as", "alice", "--app", "workflow_app:build"),
            *("--audit", str(tmp_path / "audit.jsonl"), *checkpoint),
        ]
    )
    assert code == 0
    plant = tmp_path / "planted"
    plant.mkdir()
    marker = tmp_path / "pwned"
    (plant / "wfreview_planted.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('code ran')\n"
        "from workflow_app import build\n"
    )
    monkeypatch.syspath_prepend(str(plant))
    with RunStore.open(tmp_path / "runs.sqlite") as store:
        (record,) = store.runs()
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE crossroads_workflow_runs SET app = ? WHERE run_id = ?",
                ('{"factory": "wfreview_planted:build"}', record.run_id),
            )
    workflow_main(["approve", record.run_id, "gate", "--as", "carol", *checkpoint])
    assert not marker.exists(), "approve imported a module named by the run store"


# --- 4. bad input ------------------------------------------------------------------------


# Was (medium): the workflow YAML accepts aliases, so a few hundred bytes expand
# exponentially while the spec is checked (`_Builder.parametrise` copies every shared
# node) and again when a run stores its inputs as JSON: ten levels of ten is 10^10 values
# (memory/CPU exhaustion at `crossroads run`). parse_yaml's docstring says "no aliases,
# no tags" but `_PolicyYAMLLoader` is a plain SafeLoader
# (crossroads/policy/_loader.py:66, :298-307; the policy loader shares it).
# Fix: refuse alias events in the loader (override compose_node / check for AliasEvent)
# with a ConfigError at its line; cap the file size.
def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    levels = ["  a0: {default: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}"]
    for i in range(1, 6):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        levels.append(f"  a{i}: {{default: &a{i} [{refs}]}}")
    text = (
        "name: bomb\ninputs:\n"
        + "\n".join(levels)
        + "\nsteps:\n  - {id: s, kind: tool, name: wftest.echo, args: {x: *a5}}\n"
    )
    started = time.monotonic()
    with pytest.raises(ConfigError, match="alias"):
        Workflow.from_text(text)
    assert time.monotonic() - started < 1.0


# Was (low): a long expression is a RecursionError, not a ConfigError: `ast.parse` and the
# recursive `_Checker.check` (crossroads/agents/_templating.py:543-550) overflow the stack
# at a few thousand terms, and the CLI prints a traceback (dispatch only catches
# CrossroadsError).
# Fix: cap an expression's length / AST depth and turn RecursionError (and MemoryError
# from ast.parse) into "the expression is too deeply nested".
def test_a_deeply_nested_expression_is_a_clear_error() -> None:
    expression = " + ".join(["inputs.n"] * 3000)
    text = (
        "name: deep\ninputs:\n  n: {default: 1}\nsteps:\n"
        f'  - {{id: a, kind: tool, name: wftest.echo, args: {{x: "{{{{ {expression} }}}}"}}}}\n'
    )
    with pytest.raises(ConfigError):
        Workflow.from_text(text)


# Was (low): some filter and arithmetic errors escape the templating error contract
# ("ConfigError for a type error"): `column(9)` past the last column raises IndexError,
# `1e999 | round` OverflowError, a huge int divided OverflowError
# (crossroads/agents/_templating.py:149-158, :172-175; Expression.evaluate :527 catches only
# ValueError/TypeError/ZeroDivisionError). In the report, which is rendered leniently so a
# bad hole becomes a note, they instead fail the whole run after every step succeeded — and
# every `resume` fails again at the report.
# Fix: catch ArithmeticError, IndexError, KeyError (and RecursionError) in evaluate, and
# bound-check column().
@pytest.mark.parametrize("hole", ["steps.q | column(9)", "1e999 | round"])
def test_a_bad_hole_in_the_report_is_a_note_not_a_failed_run(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path, hole: str
) -> None:
    text = _sql_workflow("SELECT name FROM products") + f'report: "x {{{{ {hole} }}}}"\n'
    state = runner.start(_write(tmp_path, text), app.catalog.principal("alice"), {})
    assert state.status == "done", state.error


# Was (low): a checkpoint that cannot be used is a traceback, not a one-line error:
# a file that is not a SQLite database (`saver.setup()` raises sqlite3.DatabaseError,
# crossroads/graphs/_workflow_store.py:253), a parent that is a file
# (`mkdir` NotADirectoryError, :247), a PostgreSQL URL with a bad port
# (`make_url` ValueError, :193).
# Fix: wrap setup()/mkdir/make_url in RunStore.open and raise ConnectorError/ConfigError
# naming the checkpoint.
@pytest.mark.parametrize("kind", ["not-a-database", "parent-is-a-file", "bad-port"])
def test_an_unusable_checkpoint_is_a_one_line_error(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "not-a-database":
        target = tmp_path / "runs.sqlite"
        target.write_text("this is not a database " * 20)
    elif kind == "parent-is-a-file":
        (tmp_path / "file").write_text("")
        target = tmp_path / "file" / "runs.sqlite"
    else:
        target = "postgresql://root@127.0.0.1:notaport/test"  # type: ignore[assignment]
    code = workflow_main(["runs", "--checkpoint", str(target)])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: ")


# Was (low): ids and names are not bounded to the run store's columns
# (crossroads/graphs/_workflow_store.py:62-77: workflow String(200), step_id String(200)).
# On PostgreSQL a workflow name over 200 characters makes `RunStore.create` raise
# sqlalchemy's DataError (a traceback at `crossroads run`), and a step id over 200 fails
# the run at that step for good (every resume fails the same way).
# Fix: cap name/id lengths in the spec (ConfigError at load time with the line), or use
# Text columns.
@pytest.mark.skipif(
    not os.environ.get("CROSSROADS_TEST_PG_URL"), reason="needs CROSSROADS_TEST_PG_URL"
)
def test_a_long_workflow_name_is_refused_before_postgres_sees_it(
    app: MiniApp, tmp_path: Path
) -> None:
    text = f"name: {'w' * 250}\nsteps:\n  - {{id: a, kind: tool, name: wftest.echo}}\n"
    try:
        wf = _write(tmp_path, text)
    except ConfigError:
        return  # refused at load time: fine
    pg = os.environ["CROSSROADS_TEST_PG_URL"]
    with WorkflowRunner(app, checkpoint=pg) as runner, pytest.raises(CrossroadsError):
        runner.start(wf, app.catalog.principal("alice"), {})


# --- the fixes, beyond the review's cases -------------------------------------------------


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("SELECT name FROM {{ inputs.v }}", "a hole can only be a value"),
        ("SELECT name FROM products WHERE p.{{ inputs.v }} = 1", "a hole can only be a value"),
        ("SELECT name_{{ inputs.v }} FROM products", "joined to the text around it"),
        ("SELECT name FROM products WHERE name = '{{ inputs.v }}'", "inside a quoted string"),
    ],
)
def test_a_hole_that_is_not_a_value_is_refused_at_load_time(
    tmp_path: Path, query: str, where: str
) -> None:
    with pytest.raises(ConfigError, match=where):
        _write(tmp_path, _sql_workflow(query))


def test_values_after_in_become_a_list_of_literals(
    app: MiniApp, runner: WorkflowRunner, tmp_path: Path
) -> None:
    text = _sql_workflow(
        "SELECT name FROM products WHERE id IN {{ inputs.ids }} ORDER BY id",
        "ids: {default: [1, 3]}",
    )
    state = runner.start(_write(tmp_path, text), app.catalog.principal("alice"), {})
    assert state.status == "done", state.error
    assert state.outputs["q"]["rows"] == [["Cardiozol"], ["Pulmorex"]]


def test_a_changed_policy_file_is_refused_on_approve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    make_db(tmp_path / "app.sqlite")
    (tmp_path / "wf.yaml").write_text(GATED.replace("APPROVERS", "carol"))
    checkpoint = ["--checkpoint", str(tmp_path / "runs.sqlite")]
    app = ["--policy", str(policy), "--db", f"sqlite:///{tmp_path / 'app.sqlite'}"]
    assert workflow_main(["run", "wf.yaml", "--as", "alice", *app, *checkpoint]) == 0
    with RunStore.open(tmp_path / "runs.sqlite") as store:
        (record,) = store.runs()
    assert set(record.app["digests"]) == {"policy"}  # data may change while a run waits
    policy.write_text(policy.read_text() + "\n# edited\n")
    capsys.readouterr()
    assert workflow_main(["approve", record.run_id, "gate", "--as", "carol", *checkpoint]) == 2
    assert "the policy of run" in capsys.readouterr().err
    approve = ["approve", record.run_id, "gate", "--as", "carol", *checkpoint]
    assert workflow_main([*approve, "--app", "m:f"]) == 2  # it was not built by a function
    assert "leave --app out" in capsys.readouterr().err


def test_runs_shows_whether_a_running_run_is_live_or_stale(
    app: MiniApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"""\
name: live
steps:
  - id: wait
    kind: tool
    name: wftest.wait
    args: {{count: "{tmp_path}/count", release: "{tmp_path}/release", timeout_s: 30}}
"""
    wf = _write(tmp_path, text)

    def first() -> None:
        with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as r:
            r.start(wf, app.catalog.principal("alice"), {})

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 20
    while not (tmp_path / "count").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    checkpoint = ["--checkpoint", str(tmp_path / "runs.sqlite")]
    assert workflow_main(["runs", *checkpoint]) == 0
    assert "live until" in capsys.readouterr().out
    (tmp_path / "release").write_text("")
    thread.join(timeout=60)
    with RunStore.open(tmp_path / "runs.sqlite") as store:
        (record,) = store.runs()
        with store.engine.begin() as conn:  # as if its process died mid-run, long ago
            conn.exec_driver_sql(
                "UPDATE crossroads_workflow_runs SET status = 'running', lease_owner = 'x', "
                "lease_expires = '2000-01-01T00:00:00.000000Z' WHERE run_id = ?",
                (record.run_id,),
            )
    assert workflow_main(["runs", *checkpoint]) == 0
    assert "stale since 2000-01-01" in capsys.readouterr().out
