"""What each kind of workflow step does, and the run's report.

Every step calls the app's tools through its one :class:`~crossroads.tools.ToolRunner`
(``sql.query``, ``graph.ask``, ``graph.traverse``, ``rag.ask``, any registered tool) or
the router (``app.ask``), so each call is governed and audited like any other. Outputs
are plain JSON values — they are stored in checkpoints and in the step journal, and read
by later steps' templates (``steps.<id>.<key>``, see
:data:`~crossroads.agents._workflow_spec.OUTPUT_KEYS`).
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import decimal
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from langchain_core.runnables.config import var_child_runnable_config
from pydantic import BaseModel

from crossroads.agents._sql_template import parse_sql_template
from crossroads.agents._templating import Template, markdown_table
from crossroads.agents._workflow_spec import Step, Workflow
from crossroads.audit import AuditLog
from crossroads.errors import ConfigError, ToolNotFound
from crossroads.policy import Catalog, Principal
from crossroads.tools import ToolRunner

__all__ = ["STEP_TOOLS", "WorkflowApp", "execute_step", "jsonable", "render_report", "summary"]


class WorkflowApp(Protocol):
    """What the workflow engine needs of an app (``crossroads.Crossroads`` is one): the
    catalog, the audit log, the runner every tool is registered on, and the router's
    ``ask`` for ``ask`` steps."""

    @property
    def catalog(self) -> Catalog:
        """The policy catalog (approvers are looked up in it)."""

    @property
    def audit(self) -> AuditLog:
        """Where step spans and approval decisions are written."""

    @property
    def runner(self) -> ToolRunner:
        """The runner every tool is registered on."""

    def ask(self, question: str, *, principal: Principal) -> Any:
        """Route and answer a question (``.text``, ``.route``, ``.sources``)."""


STEP_TOOLS: Mapping[str, tuple[str, ...]] = {
    "sql": ("sql.query",),
    "rag": ("rag.ask",),
}
"""The tools a step kind needs registered (graph steps: ``graph.ask`` or ``graph.traverse``)."""


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON data (dataclasses and pydantic models as mappings)."""
    if depth > 20:
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


def sql_dialect(app: WorkflowApp) -> str:
    """The dialect the app's ``sql.query`` tool reads (its governed SQL's), else
    ``app.sql.dialect``; ConfigError when neither says: a query's values are written as
    literals of that dialect, so it is never guessed."""
    tool = app.runner.tools.get("sql.query")
    for owner in (tool, getattr(tool, "_governed", None), getattr(app, "sql", None)):
        dialect = getattr(owner, "dialect", None)
        if isinstance(dialect, str) and dialect:
            return dialect
    raise ConfigError(
        "cannot tell which SQL dialect the app's sql.query tool reads; register it from a "
        "GovernedSQL (crossroads.tools.sql) so a sql step's values are written for it"
    )


def _render(step: Step, key: str, context: Mapping[str, Any]) -> str:
    template = step.template(key)
    if template is None:
        raise ConfigError(f"step {step.id!r} has no {key}:")
    try:
        return template.render(context)
    except ConfigError as err:
        raise ConfigError(err.reason, key=f"steps.{step.id}.{key}") from None


def _value(value: Any, context: Mapping[str, Any], key: str) -> Any:
    """Tool arguments: a one-hole template keeps its value's type, at any depth."""
    if isinstance(value, Template):
        try:
            return jsonable(value.value(context))
        except ConfigError as err:
            raise ConfigError(err.reason, key=key) from None
    if isinstance(value, Mapping):
        return {k: _value(v, context, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_value(v, context, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _source(kind: str, ref: str, detail: str = "") -> dict[str, str]:
    return {"kind": kind, "ref": ref, "detail": detail}


def _call(app: WorkflowApp, step: Step, tool: str, args: Mapping[str, Any], who: Principal) -> Any:
    try:
        return app.runner.call(tool, args, principal=who).value
    except ToolNotFound as exc:
        if step.kind == "tool":
            raise
        raise ConfigError(
            f"step {step.id!r} is a {step.kind} step, but the app has no {tool!r} tool: "
            f"{exc}; give the app that route, or remove the step",
            key=f"steps.{step.id}",
        ) from exc


def _sql(app: WorkflowApp, step: Step, ctx: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    template = step.template("query")
    assert template is not None
    try:
        if template.expressions:
            parsed = parse_sql_template(template, sql_dialect(app))
            assert parsed is not None
            query = parsed.render(ctx)
        else:
            query = template.source
    except ConfigError as err:
        raise ConfigError(err.reason, key=f"steps.{step.id}.query") from None
    result = _call(app, step, "sql.query", {"sql": query}, who)
    rows = [jsonable(list(r)) for r in result.rows]
    columns = [str(c) for c in result.columns]
    out = {"columns": columns, "rows": rows, "row_count": len(rows), "sql": result.sql}
    out["truncated"] = bool(result.truncated)
    out["text"] = markdown_table(out)
    governed = getattr(result, "governed", None)
    tables = ", ".join(getattr(governed, "tables", ()) or ())
    detail = f"{len(rows)} row(s)" + (f" from {tables}" if tables else "")
    out["sources"] = [_source("sql", result.sql, detail)]
    return out


def _sources_of(answer: Any) -> list[dict[str, str]]:
    out = []
    for s in getattr(answer, "sources", ()) or ():
        kind = getattr(s, "kind", None) or ("document" if hasattr(s, "doc_id") else "source")
        ref = getattr(s, "ref", None) or getattr(s, "doc_id", None) or str(s)
        detail = getattr(s, "detail", None)
        if detail is None:
            quote = getattr(s, "quote", "")
            detail = f"{s} — “{quote}”" if quote else str(s)
        out.append(_source(str(kind), str(ref), str(detail)))
    return out


def _ask(app: WorkflowApp, step: Step, ctx: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    answer = app.ask(_render(step, "question", ctx), principal=who)
    return {
        "text": str(getattr(answer, "text", answer)),
        "route": str(getattr(answer, "route", "")),
        "failure_mode": str(getattr(answer, "failure_mode", "")),
        "sources": _sources_of(answer),
        "trace_id": str(getattr(answer, "trace_id", "")),
    }


def _graph(app: WorkflowApp, step: Step, ctx: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    if step.template("question") is not None:
        answer = _call(app, step, "graph.ask", {"question": _render(step, "question", ctx)}, who)
        paths = [str(p) for p in answer.paths]
        relation = str(answer.relation_path)
        return {
            "text": answer.text,
            "answers": list(answer.answers),
            "names": list(answer.answers),
            "paths": paths,
            "path": relation,
            "sources": [_graph_source(relation, paths)] if paths else [],
        }
    raw_start = step.params["start"]
    starts = raw_start if isinstance(raw_start, tuple) else (raw_start,)
    start: list[str] = []
    for i, s in enumerate(starts):
        value = _value(s, ctx, f"steps.{step.id}.start[{i}]")
        start += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    path = _render(step, "path", ctx)
    result = _call(app, step, "graph.traverse", {"start": start, "paths": [path]}, who)
    evidence = [str(p) for p in result.evidence]
    followed = str(result.path) if result.path is not None else path
    names = list(result.names)
    text = (
        f"{', '.join(start)} -[{followed}]-> {', '.join(names)}"
        if names
        else f"nothing is reached from {', '.join(start)} along {followed}"
    )
    return {
        "text": text,
        "answers": list(result.answers),
        "names": names,
        "paths": evidence,
        "path": followed,
        "sources": [_graph_source(followed, evidence)] if evidence else [],
    }


def _graph_source(relation: str, paths: Sequence[str]) -> dict[str, str]:
    """One citation per graph step: the relation path and the evidence it followed."""
    shown = "; ".join(paths[:3]) + (f"; … {len(paths) - 3} more" if len(paths) > 3 else "")
    return _source("graph", relation, f"{len(paths)} path(s): {shown}")


def _rag(app: WorkflowApp, step: Step, ctx: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    answer = _call(app, step, "rag.ask", {"question": _render(step, "question", ctx)}, who)
    # the answer lists its sources after the text; the report lists every step's sources
    text = re.split(r"\n\s*Sources:\s*\n", answer.text, maxsplit=1)[0].strip()
    return {"text": text, "sources": _sources_of(answer)}


def _tool(app: WorkflowApp, step: Step, ctx: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    args = _value(step.params.get("args", {}), ctx, f"steps.{step.id}.args")
    value = jsonable(_call(app, step, str(step.params["name"]), args, who))
    text = value.get("text") if isinstance(value, Mapping) else None
    out: dict[str, Any] = {"value": value, "text": text if isinstance(text, str) else ""}
    if not out["text"]:
        out["text"] = value if isinstance(value, str) else ""
    out["sources"] = []
    return out


_EXECUTORS: Mapping[str, Callable[[WorkflowApp, Step, Mapping[str, Any], Principal], Any]] = {
    "ask": _ask,
    "sql": _sql,
    "graph": _graph,
    "rag": _rag,
    "tool": _tool,
}


def execute_step(
    app: WorkflowApp, step: Step, context: Mapping[str, Any], principal: Principal
) -> dict[str, Any]:
    """Run one (non-approval) step as ``principal``; its output as JSON data.

    The step runs outside the workflow graph's LangGraph context: a tool that runs a graph
    of its own (the router behind ``ask``) must not be taken for a subgraph of the
    workflow and share its checkpointer. The audit span context is kept, so its calls
    still nest under the step's span."""

    def run() -> dict[str, Any]:
        var_child_runnable_config.set(None)
        result: dict[str, Any] = _EXECUTORS[step.kind](app, step, context, principal)
        return result

    output = contextvars.copy_context().run(run)
    return {"step": step.id, "kind": step.kind, **output}


def summary(output: Mapping[str, Any]) -> dict[str, Any]:
    """What of a step's output goes into its span's ``end`` event (never whole rows)."""
    out: dict[str, Any] = {"kind": output.get("kind")}
    for key in ("skipped", "reason", "row_count", "truncated", "approved", "by", "route"):
        if key in output:
            out[key] = output[key]
    if "answers" in output:
        out["answers"] = len(output["answers"])
    if "sources" in output:
        out["sources"] = [s.get("ref", "")[:200] for s in output["sources"][:10]]
    return out


def check_app(app: WorkflowApp, workflow: Workflow) -> None:
    """ConfigError naming each step whose tool the app does not have (before a run)."""
    tools = app.runner.tools
    for step in workflow.steps:
        needed: Sequence[str] = STEP_TOOLS.get(step.kind, ())
        if step.kind == "graph":
            needed = ("graph.ask",) if step.template("question") else ("graph.traverse",)
        elif step.kind == "tool":
            needed = (str(step.params["name"]),)
        for name in needed:
            if name not in tools:
                from crossroads.policy._securable import did_you_mean

                raise ConfigError(
                    f"step {step.id!r} ({step.kind}) needs the tool {name!r}, which the app "
                    f"does not register; {did_you_mean(name, tools)}registered: "
                    f"{', '.join(sorted(tools)) or 'none'}",
                    file=workflow.path,
                    line=step.line,
                    key=f"steps.{step.id}",
                )
        template = step.template("query") if step.kind == "sql" else None
        if template is not None and template.expressions:
            try:
                parse_sql_template(template, sql_dialect(app))
            except ConfigError as err:
                raise ConfigError(
                    err.reason, file=workflow.path, line=step.line, key=f"steps.{step.id}.query"
                ) from None
        if step.kind == "ask" and not callable(getattr(app, "ask", None)):
            raise ConfigError(
                f"step {step.id!r} is an ask step, but the app has no ask(); use the "
                "Crossroads facade, or a sql/graph/rag step",
                file=workflow.path,
                line=step.line,
            )


def render_report(
    workflow: Workflow,
    context: Mapping[str, Any],
    *,
    status: str,
    rejection: Mapping[str, Any] | None = None,
) -> str:
    """The run's Markdown report: the workflow's ``report:`` template (a lookup that
    found nothing — a skipped step — reads as a note, not an error), a banner when the
    run was rejected, and the sources every step relied on."""
    parts: list[str] = []
    if rejection is not None:
        note = f": {rejection['note']}" if rejection.get("note") else ""
        parts.append(
            f"> **Rejected** at step `{rejection.get('step')}` by {rejection.get('by')}{note}. "
            "The steps after it did not run."
        )
    if workflow.report is not None:
        parts.append(workflow.report.render(context, lenient=True).strip())
    else:
        parts.append(f"# {workflow.name}\n\nStatus: {status}")
    sources: list[str] = []
    steps = context.get("steps", {})
    for step in workflow.steps:
        output = steps.get(step.id)
        if not isinstance(output, Mapping):
            continue
        for s in output.get("sources", ()) or ():
            ref = str(s.get("ref", ""))
            ref_text = f"`{' '.join(ref.split())}`" if s.get("kind") == "sql" else ref
            detail = f" — {s['detail']}" if s.get("detail") and s["detail"] != ref else ""
            sources.append(
                f"{len(sources) + 1}. **{step.id}** ({s.get('kind')}): {ref_text}{detail}"
            )
    if sources:
        parts.append("## Sources\n\n" + "\n".join(sources))
    return "\n\n".join(parts) + "\n"
