"""The tool runner: the one choke point every tool call passes.

For each call it resolves the tool, validates the arguments, asks the tool's policy
for a :class:`Permit` (or a :class:`~crossroads.errors.PolicyViolation`), writes the
audit events — ``start``, ``decision`` (allow/deny), ``end`` or ``error`` — and invokes
the tool with a one-shot :class:`Ticket` that only a runner can issue. Tools never
check policy while running and cannot be invoked around the runner.
"""

from __future__ import annotations

import difflib
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crossroads.audit import AuditLog, EventKind, resolve_audit
from crossroads.errors import (
    ConfigError,
    PolicyViolation,
    ToolError,
    ToolInvocationError,
    ToolNotFound,
)
from crossroads.policy._principal import Principal

if TYPE_CHECKING:
    from crossroads.connectors.base import LLM
    from crossroads.connectors.llm import LLMGateway
    from crossroads.policy import Catalog

__all__ = [
    "Permit",
    "QuestionArgs",
    "Ticket",
    "Tool",
    "ToolResult",
    "ToolRunner",
    "model_gateway",
    "registered_tools",
    "runner_for",
]

ArgsT = TypeVar("ArgsT", bound=BaseModel)
ResultT = TypeVar("ResultT")

_ISSUER = object()  # only this module can mint tickets
_registry: dict[str, type[Tool[Any, Any]]] = {}


def registered_tools() -> dict[str, type[Tool[Any, Any]]]:
    """Every concrete tool class, by tool name (tests enumerate it)."""
    return dict(_registry)


@dataclass(frozen=True, slots=True, kw_only=True)
class Permit:
    """A policy's answer when it allows a call."""

    args: Any
    """The arguments the tool will run with, possibly rewritten (governed SQL …)."""
    reason: str
    """Why it was allowed, for the audit log (``SELECT on table:sales to group:eu``)."""
    rule: str | None = None
    """The rule that decided."""
    policy: Mapping[str, Any] = field(default_factory=dict)
    """What was applied: grants, row filters, masks, the SQL before and after rewriting."""


class Ticket:
    """A one-shot authorisation to invoke one tool, issued by a runner after a Permit."""

    __slots__ = ("_issuer", "_used", "permit", "principal", "tool")

    def __init__(
        self, tool: Tool[Any, Any], permit: Permit, principal: Principal, *, _issuer: object
    ) -> None:
        self.tool = tool
        self.permit = permit
        self.principal = principal
        self._issuer = _issuer
        self._used = False


class Tool(ABC, Generic[ArgsT, ResultT]):
    """A governed capability. Subclasses set ``name``, ``description`` and ``Args`` (a
    pydantic model: the arguments, validated at the edge), and implement:

    - :meth:`authorize` — the policy: a pure function of the arguments, the principal
      and the catalog that returns a :class:`Permit` or raises ``PolicyViolation``;
    - :meth:`_execute` — the work, given only the permitted arguments;
    - :meth:`summarize` — what of the result goes into the audit log.

    Concrete subclasses register themselves by ``name``.
    """

    name: ClassVar[str]
    """The tool's name in the registry and the audit log (``sql.query``)."""
    description: ClassVar[str]
    """One sentence for people and for models choosing tools."""
    Args: ClassVar[type[BaseModel]]
    """The argument model."""
    kind: ClassVar[EventKind] = "tool"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is None:
            return  # an abstract intermediate class
        if name in _registry and _registry[name] is not cls:
            raise ConfigError(
                f"two tool classes are named {name!r} ({_registry[name].__qualname__} and "
                f"{cls.__qualname__}); tool names must be unique"
            )
        _registry[name] = cls

    @abstractmethod
    def authorize(self, args: ArgsT, principal: Principal, catalog: Catalog) -> Permit:
        """Decide whether ``principal`` may make this call; return what it may run."""

    @abstractmethod
    def _execute(self, permitted: Any) -> ResultT:
        """Do the work with the permitted arguments. Called only through :meth:`invoke`."""

    def summarize(self, result: ResultT) -> dict[str, Any]:
        """A small summary of the result for the audit log (never the full payload)."""
        return {"type": type(result).__name__}

    def audit_input(self, args: ArgsT) -> dict[str, Any]:
        """The arguments as written to the audit log (redacted again by the log)."""
        return args.model_dump(mode="json")

    def invoke(self, ticket: Ticket) -> ResultT:
        """Run with a ticket issued by a runner for this tool. Anything else is refused."""
        if (
            not isinstance(ticket, Ticket)
            or ticket._issuer is not _ISSUER
            or ticket.tool is not self
        ):
            raise ToolInvocationError(
                f"tool {self.name!r} was invoked without a ticket from the runner; call it "
                "through ToolRunner.call(...) so the call is authorised and audited",
                tool=self.name,
            )
        if ticket._used:
            raise ToolInvocationError(
                f"this ticket for tool {self.name!r} was already used; each call needs its own "
                "authorisation",
                tool=self.name,
            )
        ticket._used = True
        return self._execute(ticket.permit.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult(Generic[ResultT]):
    """What a call through the runner returns: the value plus where to find its audit trail."""

    tool: str
    """The tool's name."""
    value: ResultT
    """What the tool returned."""
    permit: Permit
    """What policy allowed and applied."""
    trace_id: str
    """The request's trace id (``crossroads audit show PATH TRACE_ID``)."""
    span_id: str
    """This call's span id."""


class ToolRunner:
    """Resolves, authorises, audits and invokes tools for principals.

    >>> runner = ToolRunner(catalog, audit=AuditLog("audit.jsonl"))  # doctest: +SKIP
    >>> runner.register(SQLQueryTool(db))                              # doctest: +SKIP
    >>> runner.call("sql.query", {"sql": "SELECT 1"}, principal=alice)  # doctest: +SKIP
    """

    def __init__(self, catalog: Catalog, *, audit: AuditLog | None = None) -> None:
        self.catalog = catalog
        self.audit = resolve_audit(audit)
        self._tools: dict[str, Tool[Any, Any]] = {}
        self._lock = threading.Lock()

    @property
    def tools(self) -> Mapping[str, Tool[Any, Any]]:
        """The registered tools by name."""
        return dict(self._tools)

    def register(self, tool: Tool[Any, Any]) -> Tool[Any, Any]:
        """Make ``tool`` callable through this runner; names must be unique."""
        if not isinstance(tool, Tool):
            raise ConfigError(f"only Tool instances can be registered, got {tool!r}")
        with self._lock:
            if tool.name in self._tools and self._tools[tool.name] is not tool:
                raise ConfigError(f"a tool named {tool.name!r} is already registered")
            self._tools[tool.name] = tool
        return tool

    def _resolve(self, name: str) -> Tool[Any, Any]:
        tool = self._tools.get(name)
        if tool is None:
            near = difflib.get_close_matches(name, list(self._tools), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            known = ", ".join(sorted(self._tools)) or "none"
            raise ToolNotFound(
                f"no tool named {name!r} is registered{hint} (registered: {known})", tool=name
            )
        return tool

    def call(
        self, name: str, args: Mapping[str, Any] | BaseModel, *, principal: Principal
    ) -> ToolResult[Any]:
        """Call tool ``name`` with ``args`` as ``principal``; every outcome is audited.

        Raises ``PolicyViolation`` when denied, ``ToolNotFound`` for an unknown tool,
        ``ToolError`` for bad arguments or a failure while running.
        """
        if not isinstance(principal, Principal):
            raise ConfigError(
                f"every tool call needs a Principal, got {principal!r}: nothing runs anonymously"
            )
        raw = args.model_dump(mode="json") if isinstance(args, BaseModel) else dict(args)
        try:
            tool = self._resolve(name)
        except ToolNotFound as exc:
            self.audit.emit(
                kind="tool", name=name, principal=principal, stage="error", input=raw, error=exc
            )
            raise
        with self.audit.span(tool.kind, name, principal, input=raw) as span:
            try:
                parsed = tool.Args.model_validate(raw)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                    for err in exc.errors()
                )
                raise ToolError(f"bad arguments for tool {name!r}: {problems}", tool=name) from None
            try:
                permit = tool.authorize(parsed, principal, self.catalog)
            except PolicyViolation as exc:
                span.decide(
                    allowed=False,
                    reason=str(exc),
                    rule=exc.rule,
                    policy={"securable": exc.securable, "privilege": exc.privilege},
                )
                raise
            span.decide(
                allowed=True, reason=permit.reason, rule=permit.rule, policy=dict(permit.policy)
            )
            ticket = Ticket(tool, permit, principal, _issuer=_ISSUER)
            value = tool.invoke(ticket)
            span.end(result=tool.summarize(value))
        return ToolResult(
            tool=name, value=value, permit=permit, trace_id=span.trace_id, span_id=span.span_id
        )


class QuestionArgs(BaseModel):
    """The arguments of every ``*.ask`` tool: one question in words."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=4000, description="A question in words.")


def runner_for(
    owner: str, catalog: Catalog, runner: ToolRunner | None, audit: AuditLog | None
) -> ToolRunner:
    """The runner a route's tools register with: ``runner`` (which must govern with the
    same ``catalog``), else a new one writing to ``audit``."""
    if runner is None:
        return ToolRunner(catalog, audit=audit)
    if runner.catalog is not catalog:
        raise ConfigError(
            f"{owner} and the runner it registers with must share one catalog, or the "
            "route and its tools would decide by different policies; build the runner "
            "with the same Catalog"
        )
    return runner


def model_gateway(llm: LLMGateway | LLM | None, audit: AuditLog) -> LLMGateway | None:
    """Every model call must be audited: a bare model is wrapped in a gateway that
    writes to ``audit``; a gateway is used as it is."""
    if llm is None:
        return None
    from crossroads.connectors.llm import LLMGateway

    if isinstance(llm, LLMGateway):
        return llm
    return LLMGateway([llm], audit=audit)
