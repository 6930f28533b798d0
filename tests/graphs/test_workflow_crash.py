"""Exactly once: a run whose process is SIGKILLed resumes without running finished steps
again, and every step keeps exactly one ``workflow.step`` span with one ``end`` event —
whether the process dies inside a step, after a step's outcome is journaled but before its
span ends, or after its span ends but before the journal knows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from workflow_app import build

from crossroads.audit import AuditEvent, AuditLog
from crossroads.graphs import WorkflowRunner

HERE = Path(__file__).parent

WORKFLOW = """\
name: crash
inputs:
  dir: {}
steps:
  - id: counts
    kind: sql
    query: SELECT COUNT(*) AS n FROM adverse_events
  - id: once
    kind: tool
    name: wftest.flaky
    args: {counter: "{{ inputs.dir }}/once.count", fail_times: 0}
  - id: wait
    kind: tool
    name: wftest.wait
    args: {count: "{{ inputs.dir }}/wait.count", release: "{{ inputs.dir }}/release"}
  - id: last
    kind: tool
    name: wftest.echo
    args: {n: "{{ steps.counts.rows[0][0] }}", waited: "{{ steps.wait.value.waited }}"}
"""

# a process that runs the workflow and SIGKILLs itself at a chosen point of step "once"
KILLER = """\
import os, signal, sys
from crossroads.graphs import _workflow_store
point = sys.argv[1]
store = _workflow_store.RunStore
original = getattr(store, point)
def patched(self, run_id, step_id, **kwargs):
    if point == "mark_audited" and step_id == "once":
        os.kill(os.getpid(), signal.SIGKILL)  # the end event is written, the journal not told
    original(self, run_id, step_id, **kwargs)
    if point == "finish_step" and step_id == "once":
        os.kill(os.getpid(), signal.SIGKILL)  # journaled done, no end event, no checkpoint
setattr(store, point, patched)
from crossroads.agents._workflow_cli import main
sys.exit(main(sys.argv[2:]))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


def _cli(tmp_path: Path) -> list[str]:
    return [
        "run",
        str(tmp_path / "wf.yaml"),
        "--as",
        "alice",
        "--app",
        "workflow_app:build",
        "--audit",
        str(tmp_path / "audit.jsonl"),
        "--checkpoint",
        str(tmp_path / "runs.sqlite"),
        "--input",
        f"dir={tmp_path}",
    ]


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"the run ended early ({proc.returncode}): {out}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _resume(tmp_path: Path) -> tuple[str, dict[str, object], list[AuditEvent]]:
    audit = AuditLog(tmp_path / "audit.jsonl")
    app = build(audit=audit)
    try:
        with WorkflowRunner(app, checkpoint=tmp_path / "runs.sqlite") as runner:
            (record,) = runner.runs()
            assert record.status == "running"  # the process died: nobody updated it
            state = runner.resume(record.run_id)
        assert state.status == "done", state.error
        assert audit.verify().ok
        return state.run_id, dict(state.outputs), audit.events(state.trace_id)
    finally:
        app.close()
        audit.close()


def _spans(events: list[AuditEvent]) -> dict[str, list[AuditEvent]]:
    """workflow.step events by step id; fails if a step has more than one span."""
    by_span: dict[str, list[AuditEvent]] = {}
    for e in events:
        if e.name == "workflow.step":
            by_span.setdefault(e.span_id, []).append(e)
    out: dict[str, list[AuditEvent]] = {}
    for evs in by_span.values():
        step = next(e.input["step"] for e in evs if e.input and "step" in e.input)
        assert step not in out, f"step {step} has two workflow.step spans"
        out[step] = evs
    return out


def _tool_starts(events: list[AuditEvent]) -> Counter[str]:
    return Counter(e.name for e in events if e.kind == "tool" and e.stage == "start")


def _check_every_step_once(events: list[AuditEvent]) -> dict[str, list[AuditEvent]]:
    spans = _spans(events)
    assert set(spans) == {"counts", "once", "wait", "last"}
    for step, evs in spans.items():
        stages = Counter(e.stage for e in evs)
        assert (stages["start"], stages["end"], stages["error"]) == (1, 1, 0), step
    return spans


@pytest.mark.timeout(60)
def test_a_run_killed_inside_a_step_resumes_without_rerunning_finished_steps(
    tmp_path: Path,
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    with subprocess.Popen(
        [sys.executable, "-m", "crossroads.agents._workflow_cli", *_cli(tmp_path)],
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as proc:
        _wait_for(tmp_path / "wait.count", proc)  # step 3 is running, blocked
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    (tmp_path / "release").touch()

    _run_id, outputs, events = _resume(tmp_path)
    assert outputs["last"]["value"] == {"n": 6, "waited": True}  # type: ignore[index]
    spans = _check_every_step_once(events)
    # the finished steps did not run again: one sql.query, one wftest.flaky call in all
    assert (tmp_path / "once.count").read_text() == "1"
    starts = _tool_starts(events)
    assert starts["sql.query"] == 1
    assert starts["wftest.flaky"] == 1
    assert starts["wftest.echo"] == 1
    # the step the process died in ran again, under its one span, marked resumed
    assert (tmp_path / "wait.count").read_text().count("ran") == 2
    assert starts["wftest.wait"] == 2
    resumed = [e for e in spans["wait"] if e.stage == "event"]
    assert len(resumed) == 1
    assert resumed[0].result == {"resumed": True}
    assert [e.stage for e in spans["counts"]] == ["start", "end"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("point", ["finish_step", "mark_audited"])
def test_a_run_killed_between_journal_and_audit_neither_reruns_nor_double_audits(
    tmp_path: Path, point: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    (tmp_path / "release").touch()
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, point, *_cli(tmp_path)],
        env=_env(),
        cwd=tmp_path,
        capture_output=True,
        timeout=50,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert (tmp_path / "once.count").read_text() == "1"

    _run_id, _outputs, events = _resume(tmp_path)
    spans = _check_every_step_once(events)
    assert (tmp_path / "once.count").read_text() == "1"  # never ran again
    assert _tool_starts(events)["wftest.flaky"] == 1
    end = next(e for e in spans["once"] if e.stage == "end")
    # killed before the end event: resume writes it (marked); after it: not again
    assert bool(end.result and end.result.get("recovered")) is (point == "finish_step")
