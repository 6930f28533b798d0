"""Run workflows as LangGraph graphs: resumable, with approval gates, each step once.

A :class:`~crossroads.agents._workflow_spec.Workflow` compiles (once, cached by its
digest) to a ``StateGraph`` with one node per step and a final ``_report`` node. A step
whose ``when`` is false is skipped (and says so); after each step a conditional edge
ends the run early when an approval was rejected. Approval steps call
``langgraph.types.interrupt``; :meth:`WorkflowRunner.approve` resumes them with
``Command(resume=...)`` after checking the approver. Every run uses ``durability="sync"``,
so LangGraph persists each step's writes and checkpoint before the next step starts, in
the same database as the run records and the step journal (:mod:`._workflow_store`).

Exactly once
------------
LangGraph alone re-runs a node whose process died after the node returned but before its
writes were saved. The step journal closes that window. A step runs like this:

1. read its journal entry: ``done``/``skipped`` → return the journaled output, run and
   audit nothing (only finish an ``end`` event a crash left unwritten, see 5);
2. journal ``running`` with the span id it is about to use (committed);
3. open the ``workflow.step`` span (``start`` event; the tools it calls nest under it);
4. run, then journal ``done`` with the output (committed) — from here on the step is
   never run again, whatever dies when;
5. end the span (``end`` event), then journal ``audited``. On recovery, a ``done`` step
   not yet ``audited`` gets its ``end`` event only if the audit log does not hold it.

A step found ``running`` (its process died inside it) runs again under the *same* span:
the span gets an ``event`` marked ``resumed`` instead of a second ``start`` (and a
``start`` first, if the crash came between steps 2 and 3), so every step keeps exactly one
``workflow.step`` span with one ``end``.

What remains: a step interrupted *while running* (between 2 and 4) runs again from its
beginning, so the tool calls it made before the crash are made again (their first,
unfinished spans stay in the audit log, honestly orphaned). Read-only steps (sql, graph,
rag, ask) do not care; a ``tool`` step with side effects should be idempotent (pass an
idempotency key derived from ``run.id``). The run-level ``workflow.run`` events are
written once per invocation and may repeat if a process dies right after writing one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from crossroads.agents._templating import Missing
from crossroads.agents._workflow_spec import Step, Workflow
from crossroads.audit import AuditLog, Decision
from crossroads.audit._event import utc_now
from crossroads.errors import ConfigError, PolicyViolation
from crossroads.graphs._workflow_steps import (
    WorkflowApp,
    check_app,
    execute_step,
    render_report,
    summary,
)
from crossroads.graphs._workflow_store import (
    DEFAULT_CHECKPOINT,
    JournalEntry,
    RunRecord,
    RunStatus,
    RunStore,
    StepStatus,
    utc_in,
)
from crossroads.policy import Principal

__all__ = ["RunState", "WorkflowRunner"]

_REPORT = "_report"


def _merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


class _State(TypedDict, total=False):
    inputs: dict[str, Any]
    steps: Annotated[dict[str, Any], _merge]
    halt: dict[str, Any] | None
    report: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunState:
    """Where a run stands, as :meth:`WorkflowRunner.start` / ``resume`` / ``approve``
    return it."""

    run_id: str
    """The run's id (also its LangGraph thread id)."""
    status: RunStatus
    """``running`` (stopped mid-way: resume it), ``waiting`` (on an approval), ``done``,
    ``failed`` (``error`` says why; ``resume`` retries the failed step) or ``rejected``."""
    waiting_on: str | None = None
    """The approval step the run waits on."""
    outputs: Mapping[str, Any]
    """Each finished step's output by step id."""
    report: str | None = None
    """The Markdown report, once the run is done or rejected."""
    error: str | None = None
    """Why the run failed."""
    message: str | None = None
    """What the approval step asks, while waiting."""
    trace_id: str = ""
    """The audit trace holding every event of the run."""


@dataclass(frozen=True, slots=True)
class _Run:
    record: RunRecord
    workflow: Workflow
    principal: Principal


def _owner_is_dead(owner: str | None) -> bool:
    """True when a lease owner (``host:pid:token``) is a process of this host that no
    longer exists; False when it cannot be told."""
    parts = (owner or "").split(":")
    if len(parts) < 3 or not parts[-2].isdigit():
        return False
    host, pid = ":".join(parts[:-2]), int(parts[-2])
    if host != socket.gethostname() or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _principal_dict(p: Principal) -> dict[str, Any]:
    attrs = {k: list(v) if isinstance(v, tuple) else v for k, v in p.attributes.items()}
    return {"id": p.id, "groups": list(p.groups), "attributes": attrs}


class WorkflowRunner:
    """Starts, resumes and approves workflow runs for one app.

    >>> runner = WorkflowRunner(app)                                   # doctest: +SKIP
    >>> state = runner.start(Workflow.from_yaml("weekly.yaml"), carol, {"week": "2024-W05"})
    >>> state = runner.approve(state.run_id, "publish", carol)          # doctest: +SKIP
    >>> print(state.report)                                            # doctest: +SKIP

    ``checkpoint`` is a SQLite file (default ``.crossroads/runs.sqlite``) or a
    ``postgresql://`` URL; ``app_spec`` says how the app was built (the CLI stores its app
    options with digests of the files they name, and checks them on ``resume``).

    A running run holds a *lease* (this runner's :attr:`owner`, renewed while it runs,
    expiring ``lease_seconds`` after the last renewal): ``resume`` refuses a run whose
    lease is live, so no step runs in two processes at once. A lease whose process is
    known dead (same host, no such pid) counts as expired.
    """

    def __init__(
        self,
        app: WorkflowApp,
        *,
        checkpoint: str | os.PathLike[str] | RunStore = DEFAULT_CHECKPOINT,
        app_spec: Mapping[str, Any] | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        if lease_seconds <= 0:
            raise ConfigError(f"lease_seconds must be positive, got {lease_seconds}")
        self.app = app
        self.store = checkpoint if isinstance(checkpoint, RunStore) else RunStore.open(checkpoint)
        self._owns_store = not isinstance(checkpoint, RunStore)
        self.app_spec = dict(app_spec or {})
        self._graphs: dict[str, Any] = {}
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self.lease_seconds = lease_seconds
        """How long a run's lease lasts unless renewed (it is renewed every third of it
        while the run runs, and released when it stops)."""
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """This runner's lease owner token: ``host:pid:token``."""

    @property
    def audit(self) -> AuditLog:
        """The app's audit log."""
        return self.app.audit

    def close(self) -> None:
        """Close the run store (when this runner opened it)."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> WorkflowRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public --------------------------------------------------------------------------

    def start(
        self,
        workflow: Workflow | str | os.PathLike[str],
        principal: Principal,
        inputs: Mapping[str, Any] | None = None,
    ) -> RunState:
        """Start a run of ``workflow`` as ``principal``; returns when it is done, waits
        on an approval, or fails."""
        if not isinstance(workflow, Workflow):
            workflow = Workflow.from_yaml(workflow)
        if not isinstance(principal, Principal):
            raise ConfigError(f"a workflow runs as a Principal, got {principal!r}")
        if workflow.path is None:
            raise ConfigError(
                "a run must be resumable from its file: load the workflow with "
                "Workflow.from_yaml(path)"
            )
        values = workflow.resolve_inputs(inputs or {})
        check_app(self.app, workflow)
        now = utc_now()
        record = RunRecord(
            run_id=uuid.uuid4().hex[:12],
            workflow=workflow.name,
            path=workflow.path,
            digest=workflow.digest,
            inputs=values,
            principal=_principal_dict(principal),
            app=self.app_spec,
            status="running",
            waiting_on=None,
            trace_id=uuid.uuid4().hex,
            span_id=uuid.uuid4().hex,
            error=None,
            report=None,
            created_at=now,
            updated_at=now,
            lease_owner=self.owner,
            lease_expires=utc_in(self.lease_seconds),
        )
        self.store.create(record)
        self.audit.emit(
            kind="workflow",
            name="workflow.run",
            principal=principal,
            stage="start",
            input={
                "run": record.run_id,
                "workflow": workflow.name,
                "path": workflow.path,
                "digest": workflow.digest,
                "inputs": values,
            },
            trace_id=record.trace_id,
            span_id=record.span_id,
        )
        run = _Run(record, workflow, principal)
        return self._invoke(run, {"inputs": values, "steps": {}, "halt": None})

    def resume(self, run_id: str) -> RunState:
        """Continue a run that stopped (its process died, or a step failed): completed
        steps are not run again. A waiting, done or rejected run is returned as it is; a
        run another process is still running (its lease is live) is refused."""
        run = self._load(run_id)
        if run.record.status in ("waiting", "done", "rejected"):
            return self._state(run)
        self._claim(run, ("running", "failed"))
        self._run_event(run, "resumed")
        return self._invoke(run, None)

    def approve(
        self,
        run_id: str,
        step: str,
        principal: Principal,
        *,
        approved: bool = True,
        note: str = "",
    ) -> RunState:
        """Decide the approval ``step`` a run waits on, as ``principal`` (who must be
        one of its approvers: ``PolicyViolation`` otherwise, audited). A rejection ends
        the run with status ``rejected``."""
        run = self._load(run_id)
        spec = run.workflow.step(step)
        if spec.kind != "approval":
            raise ConfigError(
                f"step {step!r} of {run.workflow.name!r} is a {spec.kind} step, not an approval"
            )
        if run.record.status != "waiting" or run.record.waiting_on != step:
            now = (
                f"waits on {run.record.waiting_on!r}"
                if run.record.status == "waiting"
                else f"is {run.record.status}"
            )
            raise ConfigError(f"run {run.record.run_id} {now}, not on the approval {step!r}")
        reason = self._check_approver(run, spec, principal)
        self._claim(run, ("waiting",), waiting_on=step)  # of two deciders, one wins
        decision = {
            "approved": bool(approved),
            "by": principal.id,
            "groups": list(principal.groups),
            "note": note,
            "decided_at": utc_now(),
            "reason": reason,
        }
        return self._invoke(run, Command(resume=decision))

    def runs(self) -> list[RunRecord]:
        """Every run in the store, newest first."""
        return self.store.runs()

    def state(self, run_id: str) -> RunState:
        """Where run ``run_id`` stands, without running anything."""
        return self._state(self._load(run_id))

    # --- approvals ------------------------------------------------------------------------

    def _check_approver(self, run: _Run, step: Step, who: Principal) -> str:
        known = self.app.catalog.principals.get(who.id)
        plain = ":" not in who.id and who.id != "*" and known is not None
        for entry in step.approvers if plain else ():
            kind, sep, name = entry.partition(":")
            if not sep:
                kind, name = ("any", "") if entry == "*" else ("user", entry)
            if kind == "any":
                return f"{who.id} is an approver of {step.id} (* : anyone in the policy)"
            if kind == "user" and name == who.id:
                return f"{who.id} is an approver of {step.id} ({entry})"
            if kind == "group" and name in who.groups:
                return f"{who.id} may approve {step.id} as a member of {entry}"
        if plain:
            message = (
                f"{who.id} may not decide the approval {step.id!r} of run {run.record.run_id}: "
                f"its approvers are {', '.join(step.approvers)}; ask one of them"
            )
        else:
            message = (
                f"{who.id!r} may not decide the approval {step.id!r} of run "
                f"{run.record.run_id}: an approver is a principal of the policy whose id has "
                "no ':' (approver entries read 'user:ID' and 'group:NAME')"
            )
        self.audit.emit(
            kind="policy",
            name="workflow.approve",
            principal=who,
            stage="decision",
            input={"run": run.record.run_id, "step": step.id},
            decision=Decision(allowed=False, reason=message, rule="workflow.approvers"),
            trace_id=run.record.trace_id,
            parent_id=run.record.span_id,
        )
        raise PolicyViolation(
            message,
            principal=who.id,
            securable=f"workflow:{run.workflow.name}/{step.id}",
            rule="workflow.approvers",
            privilege="APPROVE",
        )

    # --- loading and invoking ---------------------------------------------------------------

    def _load(self, run_id: str) -> _Run:
        record = self.store.get(run_id)
        with self._lock:
            cached = self._runs.get(record.run_id)
        if cached is not None:
            return _Run(record, cached.workflow, self._principal_of(record))
        workflow = Workflow.from_yaml(record.path)
        if workflow.digest != record.digest:
            raise ConfigError(
                f"the workflow file changed since run {record.run_id} started "
                f"(SHA-256 {record.digest[:12]}… then, {workflow.digest[:12]}… now); a run "
                "finishes with the workflow it started with: restore the file, or start a "
                "new run",
                file=record.path,
            )
        principal = self._principal_of(record)
        return _Run(record, workflow, principal)

    def _principal_of(self, record: RunRecord) -> Principal:
        """The run's principal as the *current* catalog has it (never the stored groups
        and attributes); PolicyViolation when the policy no longer knows it."""
        pid = str(record.principal.get("id", ""))
        known = self.app.catalog.principals.get(pid)
        if known is None:
            raise PolicyViolation(
                f"run {record.run_id} was started by {pid!r}, who is no longer in the "
                "policy; a run continues only as a principal the current policy knows: "
                "start a new run as someone who may run it",
                principal=pid,
                securable=f"workflow:{record.workflow}",
                rule="workflow.principal",
                privilege="RUN",
            )
        return known

    def _claim(
        self, run: _Run, statuses: tuple[RunStatus, ...], waiting_on: str | None = None
    ) -> None:
        """Take the run's lease (status ``running``) or refuse: another process holds a
        live lease, or the run is no longer in ``statuses`` (someone else decided it)."""
        record = run.record
        expires = utc_in(self.lease_seconds)
        if self.store.claim(
            record.run_id, self.owner, expires=expires, statuses=statuses, waiting_on=waiting_on
        ):
            return
        now = self.store.get(record.run_id)
        dead = now.lease_owner if _owner_is_dead(now.lease_owner) else None
        if dead is not None and self.store.claim(
            record.run_id,
            self.owner,
            expires=expires,
            statuses=statuses,
            waiting_on=waiting_on,
            replacing=dead,
        ):
            return
        if now.status not in statuses or (waiting_on is not None and now.waiting_on != waiting_on):
            state = (
                f"waits on {now.waiting_on!r}" if now.status == "waiting" else f"is {now.status}"
            )
            raise ConfigError(
                f"run {record.run_id} {state} now: another process got there first; see "
                "'crossroads runs'"
            )
        raise ConfigError(
            f"run {record.run_id} is being run by another process ({now.lease_owner}); its "
            f"lease runs until {now.lease_expires} (UTC) and is renewed while it runs: wait "
            "for it to finish, or resume after that time if its process died"
        )

    def _graph(self, workflow: Workflow) -> Any:
        with self._lock:
            graph = self._graphs.get(workflow.digest)
            if graph is None:
                graph = self._compile(workflow)
                self._graphs[workflow.digest] = graph
            return graph

    def _compile(self, workflow: Workflow) -> Any:
        builder: StateGraph[_State, Any, _State, _State] = StateGraph(_State)
        for step in workflow.steps:
            builder.add_node(step.id, self._node(step))
        builder.add_node(_REPORT, self._report_node(workflow))
        ids = [s.id for s in workflow.steps]
        builder.add_edge(START, ids[0])
        for here, after in zip(ids, [*ids[1:], _REPORT], strict=True):
            builder.add_conditional_edges(
                here,
                lambda state, after=after: _REPORT if state.get("halt") else after,
                [after] if after == _REPORT else [after, _REPORT],
            )
        builder.add_edge(_REPORT, END)
        return builder.compile(checkpointer=self.store.saver, name=f"workflow:{workflow.name}")

    def _invoke(self, run: _Run, payload: Any) -> RunState:
        run_id = run.record.run_id
        with self._lock:
            self._runs[run_id] = run
        graph = self._graph(run.workflow)
        config: RunnableConfig = {
            "configurable": {"thread_id": run_id},
            "recursion_limit": len(run.workflow.steps) + 10,
        }
        try:
            with self._heartbeat(run_id):
                graph.invoke(payload, config, durability="sync")
        except Exception as exc:  # a step failed: the run records why, resume retries it
            error = f"{type(exc).__name__}: {exc}"
            self.store.update(run_id, status="failed", error=error, owner=self.owner)
            self._run_event(run, "failed", error=exc)
            return self._state(self._reload(run))
        snapshot = graph.get_state(config)
        if snapshot.next:
            waiting = next((t.name for t in snapshot.tasks if t.interrupts), None)
            if waiting is not None:
                self.store.update(run_id, status="waiting", waiting_on=waiting, owner=self.owner)
                self._run_event(run, "waiting", on=waiting)
            return self._state(self._reload(run))
        values = snapshot.values
        status: RunStatus = "rejected" if values.get("halt") else "done"
        self.store.update(run_id, status=status, report=values.get("report"), owner=self.owner)
        self._run_event(run, status)
        return self._state(self._reload(run))

    @contextlib.contextmanager
    def _heartbeat(self, run_id: str) -> Iterator[None]:
        """Renew the run's lease every third of its length while the body runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_seconds / 3):
                with contextlib.suppress(Exception):  # a missed beat only shortens the lease
                    self.store.renew(run_id, self.owner, expires=utc_in(self.lease_seconds))

        thread = threading.Thread(target=beat, name=f"lease-{run_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _reload(self, run: _Run) -> _Run:
        return _Run(self.store.get(run.record.run_id), run.workflow, run.principal)

    def _state(self, run: _Run) -> RunState:
        record = run.record
        graph = self._graph(run.workflow)
        snapshot = graph.get_state({"configurable": {"thread_id": record.run_id}})
        values = snapshot.values or {}
        message = None
        for task in snapshot.tasks:
            for item in task.interrupts:
                if isinstance(item.value, Mapping):
                    message = str(item.value.get("message", ""))
        return RunState(
            run_id=record.run_id,
            status=record.status,
            waiting_on=record.waiting_on if record.status == "waiting" else None,
            outputs=dict(values.get("steps", {})),
            report=record.report,
            error=record.error,
            message=message if record.status == "waiting" else None,
            trace_id=record.trace_id,
        )

    def _run_event(
        self, run: _Run, status: str, *, error: BaseException | None = None, on: str | None = None
    ) -> None:
        final = status in ("done", "rejected", "failed")
        self.audit.emit(
            kind="workflow",
            name="workflow.run",
            principal=run.principal,
            stage=("error" if error is not None else "end") if final else "event",
            result={"run": run.record.run_id, "status": status, **({"on": on} if on else {})},
            error=error,
            trace_id=run.record.trace_id,
            span_id=run.record.span_id,
        )

    # --- nodes -----------------------------------------------------------------------------

    def _run_of(self, config: RunnableConfig) -> _Run:
        run_id = config["configurable"]["thread_id"]
        with self._lock:
            return self._runs[run_id]

    def _report_node(self, workflow: Workflow) -> Any:
        def report(state: _State, config: RunnableConfig) -> dict[str, Any]:
            run = self._run_of(config)
            halt = state.get("halt")
            status = "rejected" if halt else "done"
            context = {
                "inputs": state.get("inputs", {}),
                "steps": state.get("steps", {}),
                "run": {
                    "id": run.record.run_id,
                    "workflow": workflow.name,
                    "principal": run.principal.id,
                    "status": status,
                    "created_at": run.record.created_at,
                },
            }
            return {"report": render_report(workflow, context, status=status, rejection=halt)}

        return report

    def _node(self, step: Step) -> Any:
        def node(state: _State, config: RunnableConfig) -> dict[str, Any]:
            return self._run_step(step, state, self._run_of(config))

        return node

    def _run_step(self, step: Step, state: _State, run: _Run) -> dict[str, Any]:
        run_id = run.record.run_id
        if not self.store.renew(run_id, self.owner, expires=utc_in(self.lease_seconds)):
            raise ConfigError(
                f"run {run_id} is no longer leased to this process (another one took it "
                f"over); this process stops before its step {step.id!r}"
            )
        entry = self.store.step(run_id, step.id)
        if entry is not None and entry.status in ("done", "skipped"):
            self._finish_audit(run, step, entry)
            return self._update(step, entry.output or {})
        context = {"inputs": state.get("inputs", {}), "steps": state.get("steps", {})}
        try:
            go = step.when is None or bool(step.when.evaluate(context))
        except Missing as exc:
            raise ConfigError(
                f"the condition {step.when.source if step.when else ''!r} cannot be "
                f"decided: {exc.reason}",
                key=f"steps.{step.id}.when",
            ) from None
        decision: dict[str, Any] | None = None
        if go and step.kind == "approval":
            decision = interrupt(self._approval_request(step, context))
        who = run.principal
        if decision is not None:
            who = self.app.catalog.principals.get(decision["by"]) or Principal(
                decision["by"], decision.get("groups", ())
            )
        span = self._open_span(run, step, entry, who)
        try:
            with span:
                if not go:
                    output = {
                        "step": step.id,
                        "kind": step.kind,
                        "skipped": True,
                        "reason": f"when: {step.when.source if step.when else ''} was false",
                    }
                elif decision is not None:
                    span.decide(allowed=True, reason=decision["reason"], rule="workflow.approvers")
                    output = {
                        "step": step.id,
                        "kind": "approval",
                        "approved": decision["approved"],
                        "by": decision["by"],
                        "note": decision.get("note", ""),
                        "decided_at": decision.get("decided_at", ""),
                    }
                else:
                    output = self._attempts(step, context, run, span.span_id, span.trace_id)
                status: StepStatus = "skipped" if not go else "done"
                self.store.finish_step(
                    run_id, step.id, status=status, output=output, summary=summary(output)
                )
                span.end(result=summary(output))
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt | SystemExit):
                self.store.finish_step(
                    run_id, step.id, status="failed", error=f"{type(exc).__name__}: {exc}"
                )
            raise
        self.store.mark_audited(run_id, step.id)
        return self._update(step, output)

    def _update(self, step: Step, output: Mapping[str, Any]) -> dict[str, Any]:
        update: dict[str, Any] = {"steps": {step.id: dict(output)}}
        if step.kind == "approval" and output.get("approved") is False:
            update["halt"] = {
                "step": step.id,
                "by": output.get("by"),
                "note": output.get("note", ""),
            }
        return update

    def _approval_request(self, step: Step, context: Mapping[str, Any]) -> dict[str, Any]:
        template = step.template("message")
        message = template.render(context, lenient=True) if template else ""
        return {"step": step.id, "message": message, "approvers": list(step.approvers)}

    def _open_span(self, run: _Run, step: Step, entry: JournalEntry | None, who: Principal) -> Any:
        """The step's span, journaled as ``running`` before its first event is written."""
        record = run.record
        inputs = {"run": record.run_id, "step": step.id, "kind": step.kind}
        if entry is not None and entry.status == "running":
            # the process running this step died inside it: continue its span
            attempt = entry.attempt + 1
            if not self._audited(record.trace_id, entry.span_id, "start"):
                self.audit.emit(
                    kind="workflow",
                    name="workflow.step",
                    principal=who,
                    stage="start",
                    input=inputs,
                    trace_id=record.trace_id,
                    span_id=entry.span_id,
                    parent_id=record.span_id,
                )
            span = self.audit.span(
                "workflow",
                "workflow.step",
                who,
                input={**inputs, "attempt": attempt},
                trace_id=record.trace_id,
                resume=entry.span_id,
            )
        else:
            attempt = entry.attempt + 1 if entry is not None else 1
            span = self.audit.span(
                "workflow",
                "workflow.step",
                who,
                input={**inputs, "attempt": attempt} if attempt > 1 else inputs,
                trace_id=record.trace_id,
            )
        span.parent_id = record.span_id
        self.store.begin_step(
            record.run_id,
            step.id,
            span_id=span.span_id,
            attempt=attempt,
            principal=_principal_dict(who),
        )
        return span

    def _audited(self, trace_id: str, span_id: str, stage: str) -> bool:
        return any(
            e.span_id == span_id and e.stage == stage and e.name == "workflow.step"
            for e in self.audit.events(trace_id)
        )

    def _finish_audit(self, run: _Run, step: Step, entry: JournalEntry) -> None:
        """A journaled step whose span's ``end`` may not have been written: write it
        unless the audit log already holds it."""
        if entry.audited:
            return
        record = run.record
        if not self._audited(record.trace_id, entry.span_id, "end"):
            p = entry.principal
            who = Principal(p["id"], p.get("groups", ()), p.get("attributes") or {})
            self.audit.emit(
                kind="workflow",
                name="workflow.step",
                principal=who,
                stage="end",
                result={**(entry.summary or {}), "recovered": True},
                trace_id=record.trace_id,
                span_id=entry.span_id,
                parent_id=record.span_id,
            )
        self.store.mark_audited(record.run_id, step.id)

    def _attempts(
        self, step: Step, context: Mapping[str, Any], run: _Run, span_id: str, trace_id: str
    ) -> dict[str, Any]:
        """Run the step, retrying ``retries`` times on failures that are not denials or
        mistakes in the workflow; each retry is an event in the step's span."""
        for attempt in range(step.retries + 1):
            try:
                return execute_step(self.app, step, context, run.principal)
            except (PolicyViolation, ConfigError):
                raise
            except Exception as exc:
                if attempt == step.retries:
                    raise
                self.audit.emit(
                    kind="workflow",
                    name="workflow.step",
                    principal=run.principal,
                    stage="event",
                    result={"retry": attempt + 1, "of": step.retries, "delay_s": step.retry_delay},
                    error=exc,
                    trace_id=trace_id,
                    span_id=span_id,
                    parent_id=run.record.span_id,
                )
                time.sleep(step.retry_delay)
        raise AssertionError("unreachable")  # pragma: no cover
