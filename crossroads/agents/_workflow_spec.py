"""Workflow files: the YAML shape (pydantic), checked when loaded, as frozen values.

::

    name: weekly_safety_signal
    description: Serious adverse events of the week, reviewed before publishing.
    inputs:
      week_start: {default: "2024-01-01", description: first day of the week}
    steps:
      - id: counts
        kind: sql
        query: |
          SELECT product_id, COUNT(*) AS n FROM adverse_events
          WHERE serious = 1 AND reported_on >= {{ inputs.week_start }} GROUP BY product_id
      - id: review
        kind: approval
        when: steps.counts.row_count > 0
        message: "{{ steps.counts.row_count }} products with serious events"
        approvers: [carol, "group:pv_officer"]
    report: |
      # Week of {{ inputs.week_start }}
      {{ steps.counts | table }}

Step kinds and their keys: ``ask: {question}``, ``sql: {query}``, ``graph: {question}``
or ``{start, path}``, ``rag: {question}``, ``approval: {message, approvers}``,
``tool: {name, args}``; every step also takes ``id``, ``kind``, ``when`` (a condition),
``retries`` and ``retry_delay`` (seconds). Strings are templates
(:mod:`crossroads.agents._templating`). Everything is checked at load time — unique ids,
known kinds, template syntax, references to declared inputs and to *earlier* steps and
the keys their outputs have — and every problem is reported together, each with its line.
"""

from __future__ import annotations

import hashlib
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, cast, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from crossroads.agents._sql_template import parse_sql_template
from crossroads.agents._templating import (
    Expression,
    Template,
    parse_condition,
    parse_template,
)
from crossroads.errors import ConfigError
from crossroads.policy._loader import _duplicate_keys, _line_of, _Problems, parse_yaml
from crossroads.policy._schema import Loc, describe_error
from crossroads.policy._securable import did_you_mean

__all__ = ["KINDS", "OUTPUT_KEYS", "InputSpec", "Step", "StepKind", "Workflow"]

StepKind = Literal["ask", "sql", "graph", "rag", "approval", "tool"]
KINDS: tuple[StepKind, ...] = ("ask", "sql", "graph", "rag", "approval", "tool")
"""The step kinds, in the order the docs list them."""

_COMMON = ("step", "kind", "skipped", "reason")
OUTPUT_KEYS: Mapping[str, tuple[str, ...]] = {
    "ask": ("text", "route", "failure_mode", "sources", "trace_id", *_COMMON),
    "sql": ("columns", "rows", "row_count", "sql", "truncated", "text", "sources", *_COMMON),
    "graph": ("text", "answers", "names", "paths", "path", "sources", *_COMMON),
    "rag": ("text", "sources", *_COMMON),
    "approval": ("approved", "by", "note", "decided_at", *_COMMON),
    "tool": ("value", "text", "sources", *_COMMON),
}
"""What each kind of step's output holds (``steps.<id>.<key>`` in templates)."""

RUN_KEYS = ("id", "workflow", "principal", "status", "created_at")
"""What ``run.<key>`` holds in the report."""

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _InputModel(_Model):
    default: Any = None
    description: str = ""


MAX_NAME = 200
"""The longest workflow name or step id (the run store's columns hold 200 characters)."""


class _StepBase(_Model):
    id: str = Field(max_length=MAX_NAME)
    kind: str
    description: str = ""
    when: str | None = None
    retries: int = Field(default=0, ge=0, le=20)
    retry_delay: float = Field(default=0.0, ge=0, le=3600)


class _AskStep(_StepBase):
    question: str


class _SQLStep(_StepBase):
    query: str


class _GraphStep(_StepBase):
    question: str | None = None
    start: str | list[str] | None = None
    path: str | None = None


class _RAGStep(_StepBase):
    question: str


class _ApprovalStep(_StepBase):
    message: str
    approvers: list[str] = Field(min_length=1)


class _ToolStep(_StepBase):
    name: str
    args: dict[str, Any] = {}


_STEP_MODELS: Mapping[str, type[_StepBase]] = {
    "ask": _AskStep,
    "sql": _SQLStep,
    "graph": _GraphStep,
    "rag": _RAGStep,
    "approval": _ApprovalStep,
    "tool": _ToolStep,
}


class _WorkflowModel(_Model):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = ""
    inputs: dict[str, _InputModel | None] = {}
    steps: list[Any] = Field(min_length=1)
    report: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """One declared input."""

    name: str
    default: Any = None
    """The value when none is given; ``required`` inputs have none."""
    description: str = ""
    required: bool = False
    """True when the file gives no ``default:``: every run must pass a value."""

    def coerce(self, value: Any) -> Any:
        """``value`` (a string from the command line) as the default's type."""
        if not isinstance(value, str) or self.default is None or isinstance(self.default, str):
            return value
        kind = type(self.default)
        try:
            if kind is bool:
                lowered = value.strip().lower()
                if lowered not in {"true", "false", "yes", "no", "1", "0"}:
                    raise ValueError(value)
                return lowered in {"true", "yes", "1"}
            if kind in (int, float):
                return kind(value)
        except ValueError:
            raise ConfigError(
                f"input {self.name!r} takes a {kind.__name__} (its default is "
                f"{self.default!r}), got {value!r}",
                key=f"inputs.{self.name}",
            ) from None
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One checked step. ``params`` holds the kind's keys; strings in it are
    :class:`Template` s (in ``args`` of a tool step, at any depth)."""

    id: str
    kind: StepKind
    params: Mapping[str, Any]
    when: Expression | None = None
    retries: int = 0
    retry_delay: float = 0.0
    description: str = ""
    line: int | None = None
    """The line of the step in its file."""

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who may decide an approval step: principal ids and ``group:NAME``."""
        return tuple(self.params.get("approvers", ()))

    def template(self, key: str) -> Template | None:
        """The template under ``key``, if the step has one."""
        value = self.params.get(key)
        return value if isinstance(value, Template) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow:
    """A checked workflow. Build it with :meth:`from_yaml` (or :meth:`from_text`); run it
    with :class:`~crossroads.graphs.WorkflowRunner`."""

    name: str
    description: str
    inputs: Mapping[str, InputSpec]
    steps: tuple[Step, ...]
    report: Template | None
    text: str = field(repr=False)
    """The file's text as read (runs store its hash; a changed file is refused on resume)."""
    path: str | None = None
    """The file it was read from, absolute."""

    @property
    def digest(self) -> str:
        """SHA-256 of the text: what a run remembers to detect a changed file."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def step(self, step_id: str) -> Step:
        """The step ``step_id``; ConfigError (with a suggestion) when there is none."""
        for step in self.steps:
            if step.id == step_id:
                return step
        ids = [s.id for s in self.steps]
        raise ConfigError(
            f"workflow {self.name!r} has no step {step_id!r}; {did_you_mean(step_id, ids)}"
            f"its steps are {', '.join(ids)}"
        )

    def resolve_inputs(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The run's inputs: ``given`` (coerced to the defaults' types) over the defaults.
        ConfigError for an undeclared or missing input."""
        unknown = [k for k in given if k not in self.inputs]
        if unknown:
            name = unknown[0]
            raise ConfigError(
                f"workflow {self.name!r} has no input {name!r}; "
                f"{did_you_mean(name, self.inputs)}its inputs are "
                f"{', '.join(self.inputs) or 'none'}",
                key=f"inputs.{name}",
            )
        values: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if name in given:
                values[name] = spec.coerce(given[name])
            elif spec.required:
                raise ConfigError(
                    f"workflow {self.name!r} needs the input {name!r} "
                    f"({spec.description or 'no default'}); pass --input {name}=VALUE",
                    key=f"inputs.{name}",
                )
            else:
                values[name] = spec.default
        return values

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Workflow:
        """Read and check a workflow file; one ConfigError lists every problem with its line."""
        file = os.fspath(path)
        try:
            text = Path(file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"the workflow file {file} does not exist (looked in "
                f"{Path(file).resolve().parent}); check the path",
                file=file,
            ) from None
        except IsADirectoryError:
            raise ConfigError(f"{file} is a directory, not a workflow file", file=file) from None
        except UnicodeDecodeError as err:
            raise ConfigError(
                f"the workflow file is not UTF-8 text ({err.reason})", file=file
            ) from err
        except OSError as err:
            raise ConfigError(
                f"the workflow file cannot be read: {err.strerror}", file=file
            ) from err
        return cls.from_text(text, path=str(Path(file).resolve()), source=file)

    @classmethod
    def from_text(
        cls, text: str, *, path: str | None = None, source: str | None = None
    ) -> Workflow:
        """Check a workflow given as YAML text; ``source`` names it in errors."""
        source = source or path
        root, data = _read_yaml(text, source)
        return _Builder(source, root).build(data, text, path)


def _workflow_hint(problem: str) -> str:
    if "{" in problem:
        return 'a value that starts with {{ must be quoted: "{{ inputs.week }}"'
    return ""


def _read_yaml(text: str, source: str | None) -> tuple[yaml.Node, Any]:
    root, data = parse_yaml(text, source, hint=_workflow_hint)
    if root is None:
        raise ConfigError(
            "the workflow file is empty; write at least name: and steps:", file=source, line=1
        )
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(
            "the top level of a workflow file must be a mapping with name, inputs, steps, report",
            file=source,
            line=root.start_mark.line + 1,
        )
    return root, data


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model describing the entry at ``loc`` under ``model`` (a nested input …)."""
    tp: Any = model
    for part in loc:
        while get_origin(tp) in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            found = tp.model_fields.get(str(part))
            tp = found.annotation if found is not None else None
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
    while get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _describe(error: ErrorDetails, root: type[BaseModel]) -> tuple[Loc, str]:
    loc: Loc = tuple(error["loc"])
    model = _model_at(root, loc[:-1]) or root
    allowed = [f.alias or n for n, f in model.model_fields.items()]
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        return loc, (
            f"unknown key {key!r}; {did_you_mean(key, allowed)}the keys allowed here are "
            f"{', '.join(allowed)}; rename or remove it"
        )
    if error["type"] == "missing":
        return loc, f"missing required key {loc[-1]!r}; add it"
    return describe_error(error)


class _Builder:
    def __init__(self, source: str | None, root: yaml.Node) -> None:
        self.source = source
        self.root = root
        self.problems = _Problems(source, root)

    def add(self, loc: Loc, message: str, *, line: int | None = None) -> None:
        self.problems.add(loc, message, line=line)

    def template(self, loc: Loc, text: str, roots: tuple[str, ...]) -> Template | None:
        try:
            return parse_template(text, roots)
        except ConfigError as err:
            self.add(loc, err.reason, line=self.line_in(loc, text, err.line))
            return None

    def line_in(self, loc: Loc, text: str, inner: int | None) -> int | None:
        """The file line of line ``inner`` of the string at ``loc`` (block scalars)."""
        base = _line_of(self.root, loc)
        if base is None or inner is None or "\n" not in text.rstrip("\n"):
            return base
        node = self._node(loc)
        block = isinstance(node, yaml.ScalarNode) and node.style in ("|", ">")
        return base + inner if block else base + inner - 1

    def _node(self, loc: Loc) -> yaml.Node | None:
        node: yaml.Node | None = self.root
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if str(k.value) == str(part)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
            else:
                return None
        return node

    def build(self, data: Any, text: str, path: str | None) -> Workflow:
        _duplicate_keys(self.problems, self.root)
        try:
            model = _WorkflowModel.model_validate(data)
        except ValidationError as err:
            for error in err.errors():
                self.add(*_describe(error, _WorkflowModel))
            self.problems.raise_if_any()
            raise
        inputs = {
            name: InputSpec(
                name=name,
                default=entry.default if entry is not None else None,
                description=entry.description if entry is not None else "",
                required=entry is None or "default" not in entry.model_fields_set,
            )
            for name, entry in model.inputs.items()
        }
        for name in inputs:
            if not _ID.match(name):
                self.add(
                    ("inputs", name), f"input name {name!r} must be a word (letters, digits, _)"
                )
        steps: list[Step] = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(model.steps):
            step = self.step(i, raw, inputs, steps, seen)
            if step is not None:
                steps.append(step)
        report = None
        if model.report:
            report = self.template(("report",), model.report, ("inputs", "steps", "run"))
            if report is not None:
                self.check_refs(("report",), model.report, report.expressions, inputs, steps, None)
        self.problems.raise_if_any()
        return Workflow(
            name=model.name,
            description=model.description,
            inputs=inputs,
            steps=tuple(steps),
            report=report,
            text=text,
            path=path,
        )

    def step(
        self,
        i: int,
        raw: Any,
        inputs: Mapping[str, InputSpec],
        earlier: list[Step],
        seen: dict[str, int],
    ) -> Step | None:
        loc: Loc = ("steps", i)
        if not isinstance(raw, Mapping):
            self.add(loc, f"a step is a mapping with id, kind and the kind's keys, got {raw!r}")
            return None
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in _STEP_MODELS:
            if kind is None:
                message = "missing required key 'kind'; add it"
            else:
                message = f"unknown step kind {kind!r}; {did_you_mean(str(kind), KINDS)}"
            self.add((*loc, "kind"), f"{message.rstrip()} (kinds: {', '.join(KINDS)})")
            return None
        model_cls = _STEP_MODELS[kind]
        try:
            model = model_cls.model_validate(raw)
        except ValidationError as err:
            for error in err.errors():
                where, message = _describe(error, model_cls)
                self.add((*loc, *where), f"{message} (in a {kind} step)")
            return None
        step_id = model.id
        line = _line_of(self.root, loc)
        if not _ID.match(step_id):
            self.add(
                (*loc, "id"),
                f"step id {step_id!r} must start with a letter and hold only letters, digits "
                "and _ (templates read it as steps.<id>)",
            )
        if step_id in seen:
            self.add(
                (*loc, "id"),
                f"two steps are named {step_id!r} (the first on line {seen[step_id]}); "
                "step ids must be unique",
            )
        seen.setdefault(step_id, line or 0)
        roots = ("inputs", "steps")
        params: dict[str, Any] = {}
        checks: list[tuple[Loc, str, tuple[Expression, ...]]] = []
        dumped = model.model_dump(exclude=set(_StepBase.model_fields))
        for key, value in dumped.items():
            if value is None:
                continue
            params[key] = self.parametrise((*loc, key), value, roots, checks, key)
        when = None
        if model.when is not None:
            try:
                when = parse_condition(model.when, roots)
            except ConfigError as err:
                self.add((*loc, "when"), err.reason)
            else:
                checks.append(((*loc, "when"), model.when, (when,)))
        if isinstance(model, _GraphStep):
            self.check_graph(loc, model)
        if isinstance(model, _ApprovalStep):
            for j, who in enumerate(model.approvers):
                prefix, sep, rest = who.partition(":")
                if not who.strip() or (sep and (prefix not in ("user", "group") or not rest)):
                    self.add(
                        (*loc, "approvers", j),
                        f"approver {who!r} is not a principal id, 'user:ID' or 'group:NAME'",
                    )
        query = params.get("query")
        if isinstance(model, _SQLStep) and isinstance(query, Template):
            # the app's dialect is not known yet: checked again in it before a run starts
            try:
                parse_sql_template(query, None, strict=False)
            except ConfigError as err:
                self.add((*loc, "query"), err.reason)
        for where, text, expressions in checks:
            self.check_refs(where, text, expressions, inputs, earlier, step_id)
        return Step(
            id=step_id,
            kind=cast(StepKind, kind),
            params=params,
            when=when,
            retries=model.retries,
            retry_delay=model.retry_delay,
            description=model.description,
            line=line,
        )

    def parametrise(
        self,
        loc: Loc,
        value: Any,
        roots: tuple[str, ...],
        checks: list[tuple[Loc, str, tuple[Expression, ...]]],
        key: str,
    ) -> Any:
        """Strings become templates (except approvers and a tool's name), at any depth."""
        if key in ("approvers", "name"):
            return tuple(value) if isinstance(value, list) else value
        if isinstance(value, str):
            template = self.template(loc, value, roots)
            if template is not None:
                checks.append((loc, value, template.expressions))
            return template
        if isinstance(value, list):
            return tuple(
                self.parametrise((*loc, j), v, roots, checks, key) for j, v in enumerate(value)
            )
        if isinstance(value, Mapping):
            return {k: self.parametrise((*loc, k), v, roots, checks, key) for k, v in value.items()}
        return value

    def check_graph(self, loc: Loc, model: _GraphStep) -> None:
        traversal = model.start is not None or model.path is not None
        if model.question is not None and traversal:
            self.add(
                loc,
                "a graph step takes either question: (the graph route answers it) or start: "
                "and path: (one traversal), not both",
            )
        elif model.question is None and not (model.start is not None and model.path is not None):
            missing = "path" if model.start is not None else "start" if model.path else None
            self.add(
                (*loc, missing) if missing else loc,
                f"a graph step needs question:, or start: and path: "
                f"({'add ' + missing + ':' if missing else 'add one of them'})",
            )

    def check_refs(
        self,
        loc: Loc,
        text: str,
        expressions: tuple[Expression, ...],
        inputs: Mapping[str, InputSpec],
        earlier: list[Step],
        own: str | None,
    ) -> None:
        ids = {s.id: s for s in earlier}
        all_ids = [s.id for s in earlier]
        for expression in expressions:
            line = self.line_in(loc, text, text.count("\n", 0, expression.offset) + 1)
            shown = f"in {{{{ {expression.source} }}}}: "
            for path, _col in expression.references(("inputs", "steps", "run")):
                root, rest = path[0], path[1:]
                if not rest:
                    continue
                name = str(rest[0])
                if root == "inputs" and name not in inputs:
                    self.add(
                        loc,
                        f"{shown}no input {name!r} is declared; {did_you_mean(name, inputs)}"
                        f"declare it under inputs: (declared: {', '.join(inputs) or 'none'})",
                        line=line,
                    )
                elif root == "run" and name not in RUN_KEYS:
                    self.add(
                        loc,
                        f"{shown}run has no {name!r}; {did_you_mean(name, RUN_KEYS)}"
                        f"it has {', '.join(RUN_KEYS)}",
                        line=line,
                    )
                elif root == "steps":
                    self.check_step_ref(loc, shown, line, name, rest, ids, all_ids, own)

    def check_step_ref(
        self,
        loc: Loc,
        shown: str,
        line: int | None,
        name: str,
        rest: tuple[str | int, ...],
        ids: Mapping[str, Step],
        all_ids: list[str],
        own: str | None,
    ) -> None:
        if name == own:
            self.add(loc, f"{shown}a step cannot use its own output (steps.{name})", line=line)
            return
        step = ids.get(name)
        if step is None:
            later = self._later(name)
            if later is not None:
                message = (
                    f"steps.{name} runs later (step {later + 1}); a step can only use the "
                    "outputs of the steps before it: move it up, or this reference down"
                )
            elif own is None:
                message = (
                    f"the workflow has no step {name!r}; {did_you_mean(name, all_ids)}"
                    f"its steps: {', '.join(all_ids) or 'none'}"
                )
            else:
                message = (
                    f"no step {name!r} comes before this; {did_you_mean(name, all_ids)}"
                    f"earlier steps: {', '.join(all_ids) or 'none'}"
                )
            self.add(loc, shown + message, line=line)
            return
        if len(rest) > 1 and isinstance(rest[1], str):
            keys = OUTPUT_KEYS[step.kind]
            if rest[1] not in keys:
                self.add(
                    loc,
                    f"{shown}a {step.kind} step's output has no {rest[1]!r}; "
                    f"{did_you_mean(rest[1], keys)}it has {', '.join(keys)}",
                    line=line,
                )

    def _later(self, name: str) -> int | None:
        node = self._node(("steps",))
        if not isinstance(node, yaml.SequenceNode):
            return None
        for j, item in enumerate(node.value):
            if isinstance(item, yaml.MappingNode):
                for k, v in item.value:
                    if k.value == "id" and v.value == name:
                        return j
        return None
