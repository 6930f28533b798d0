"""The runner is the one choke point: every registered tool, every outcome, audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase
from crossroads.errors import (
    ConfigError,
    PolicyViolation,
    ToolError,
    ToolInvocationError,
    ToolNotFound,
)
from crossroads.policy import Catalog, Principal
from crossroads.tools import Permit, Ticket, Tool, ToolRunner, registered_tools
from crossroads.tools.graph import GraphQA
from crossroads.tools.long_context import LongContext
from crossroads.tools.rag import RAG
from crossroads.tools.sql import GovernedSQL

ALLOWED = Principal("ana", groups=["analysts"], attributes={"region": "EU"})
STRANGER = Principal("sam", groups=["visitors"])


@dataclass
class ToolCase:
    """How to call one tool so it succeeds, is denied, and fails while running."""

    ok: dict[str, Any]
    denied: tuple[Principal, dict[str, Any]]
    failing: dict[str, Any]
    failure: type[Exception]


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[ToolRunner]:
    import sqlite3

    path = tmp_path / "r.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 5);"
    )
    con.commit()
    con.close()
    catalog = Catalog()
    catalog.grant("SELECT", on="table:t", to="group:analysts")
    catalog.add_graph_rule("relation:directed_by", to="group:analysts")
    runner = ToolRunner(catalog, audit=AuditLog.memory())
    graph = NetworkXGraph()
    graph.add_edge("Kismet", "directed_by", "William Dieterle")
    GraphQA(graph, catalog, runner=runner)
    catalog.grant("READ", on="collection:docs", to="group:analysts", where={"region": ":region"})
    docs = DocumentIndex(collection="docs")
    docs.add("d1", "Simvastatin lowers cholesterol. Take it in the evening.", {"region": "EU"})
    RAG(docs, catalog, runner=runner)
    LongContext(docs, catalog, runner=runner, budget_tokens=10_000)
    with SQLDatabase(f"sqlite:///{path}") as db:
        GovernedSQL(db, catalog, runner=runner)
        yield runner


# One entry per registered tool. A new tool without an entry fails test_every_tool_has_a_case.
CASES: dict[str, ToolCase] = {
    "sql.query": ToolCase(
        ok={"sql": "SELECT v FROM t"},
        denied=(STRANGER, {"sql": "SELECT v FROM t"}),
        # passes governance, fails in the database: SQLite's integer overflow
        failing={"sql": "SELECT abs(-9223372036854775807 - 1) FROM t"},
        failure=ToolError,
    ),
    "sql.ask": ToolCase(
        ok={"question": "How many t are there?"},
        denied=(STRANGER, {"question": "How many t are there?"}),
        # no table, column or value matches: CannotAnswer, a ToolError the router falls back on
        failing={"question": "How many Narnia are there?"},
        failure=ToolError,
    ),
    "graph.traverse": ToolCase(
        ok={"start": ["Kismet"], "paths": ["directed_by"]},
        denied=(STRANGER, {"start": ["Kismet"], "paths": ["directed_by"]}),
        failing={"start": ["Kismet"], "paths": ["directed_by/(("]},  # unreadable path
        failure=ToolError,
    ),
    "graph.ask": ToolCase(
        ok={"question": "who directed [Kismet]"},
        denied=(STRANGER, {"question": "who directed [Kismet]"}),
        # no node is named: CannotAnswer, a ToolError the router falls back on
        failing={"question": "who directed [Narnia]"},
        failure=ToolError,
    ),
    "rag.retrieve": ToolCase(
        ok={"query": "cholesterol", "k": 3},
        denied=(STRANGER, {"query": "cholesterol"}),
        failing={"query": "cholesterol", "k": 0},  # k must be at least 1
        failure=ToolError,
    ),
    "rag.ask": ToolCase(
        ok={"question": "What does simvastatin lower?"},
        denied=(STRANGER, {"question": "What does simvastatin lower?"}),
        # nothing matches: CannotAnswer, a ToolError the router falls back on
        failing={"question": "Who won the 1998 world cup?"},
        failure=ToolError,
    ),
    "long_context.ask": ToolCase(
        ok={"question": "Summarise every document"},
        denied=(STRANGER, {"question": "Summarise every document"}),
        # no permitted document says anything about it: CannotAnswer (fall back)
        failing={"question": "Who won the 1998 world cup?"},
        failure=ToolError,
    ),
    "sql.schema": ToolCase(
        ok={},
        denied=(STRANGER, {"unexpected": 1}),
        failing={"unexpected": 1},
        failure=ToolError,
    ),
}


def test_every_tool_has_a_case() -> None:
    # tools defined by other test modules (workflow tests' wftest.*) are not the package's
    tools = registered_tools()
    shipped = {n for n, cls in tools.items() if cls.__module__.startswith("crossroads")}
    missing = shipped - set(CASES)
    assert not missing, f"registered tools without runner cases: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_successful_call_is_audited(runner: ToolRunner, name: str) -> None:
    result = runner.call(name, CASES[name].ok, principal=ALLOWED)
    trace = runner.audit.events(trace_id=result.trace_id)
    events = [e for e in trace if e.span_id == result.span_id]  # nested calls have their own
    assert [e.stage for e in events] == ["start", "decision", "end"]
    assert events[1].decision is not None
    assert events[1].decision.allowed
    assert all(e.parent_id == result.span_id for e in trace if e.span_id != result.span_id)
    assert all(e.principal["id"] == "ana" for e in trace)
    assert events[2].result is not None
    assert events[2].latency_ms is not None


@pytest.mark.parametrize("name", sorted(CASES))
def test_denied_or_rejected_call_is_audited(runner: ToolRunner, name: str) -> None:
    principal, args = CASES[name].denied
    with pytest.raises((PolicyViolation, ToolError)):
        runner.call(name, args, principal=principal)
    events = runner.audit.events()
    assert events[0].stage == "start"
    assert events[-1].stage == "error"
    assert all(e.principal["id"] == principal.id for e in events)


@pytest.mark.parametrize("name", sorted(CASES))
def test_failing_call_is_audited(runner: ToolRunner, name: str) -> None:
    case = CASES[name]
    with pytest.raises(case.failure):
        runner.call(name, case.failing, principal=ALLOWED)
    events = runner.audit.events()
    assert events[0].stage == "start"
    assert events[-1].stage == "error"
    assert events[-1].error is not None
    assert events[-1].error["type"]


def test_sql_denial_records_the_rule(runner: ToolRunner) -> None:
    with pytest.raises(PolicyViolation):
        runner.call("sql.query", {"sql": "SELECT v FROM t"}, principal=STRANGER)
    decision = runner.audit.events()[1]
    assert decision.kind == "policy"
    assert decision.decision is not None
    assert not decision.decision.allowed
    assert decision.decision.rule == "default deny"
    assert decision.policy is not None
    assert decision.policy["securable"] == "table:t"


def test_sql_success_records_sql_before_and_after(runner: ToolRunner) -> None:
    runner.call("sql.query", {"sql": "SELECT v FROM t"}, principal=ALLOWED)
    policy = runner.audit.events()[1].policy
    assert policy is not None
    assert policy["sql_before"] == "SELECT v FROM t"
    assert "LIMIT" in policy["sql_after"]


def test_unknown_tool_is_audited_with_a_hint(runner: ToolRunner) -> None:
    with pytest.raises(ToolNotFound, match=r"did you mean 'sql\.query'"):
        runner.call("sql.querry", {}, principal=ALLOWED)
    (event,) = runner.audit.events()
    assert event.stage == "error"
    assert event.name == "sql.querry"


def test_bad_arguments_name_the_field(runner: ToolRunner) -> None:
    with pytest.raises(ToolError, match="sql"):
        runner.call("sql.query", {"sql": ""}, principal=ALLOWED)


def test_calls_need_a_principal(runner: ToolRunner) -> None:
    with pytest.raises(ConfigError, match="Principal"):
        runner.call("sql.query", {"sql": "SELECT 1"}, principal="ana")  # type: ignore[arg-type]


class _EchoArgs(BaseModel):
    text: str


class EchoTool(Tool[_EchoArgs, str]):
    name: ClassVar[str] = "test.echo"
    description: ClassVar[str] = "Echo the text back (tests only)."
    Args: ClassVar[type[BaseModel]] = _EchoArgs

    def __init__(self, on_execute: Callable[[], None] | None = None) -> None:
        self.on_execute = on_execute

    def authorize(self, args: _EchoArgs, principal: Principal, catalog: Catalog) -> Permit:
        catalog.check(principal, "EXECUTE", f"tool:{self.name}")
        return Permit(args=args.text, reason="EXECUTE on tool:test.echo")

    def _execute(self, permitted: str) -> str:
        if self.on_execute:
            self.on_execute()
        return permitted


def test_a_tool_cannot_be_invoked_around_the_runner() -> None:
    tool = EchoTool()
    with pytest.raises(ToolInvocationError, match=r"ToolRunner\.call"):
        tool.invoke(None)  # type: ignore[arg-type]
    forged = Ticket(tool, Permit(args="x", reason="forged"), ALLOWED, _issuer=object())
    with pytest.raises(ToolInvocationError):
        tool.invoke(forged)


def test_a_ticket_is_single_use_and_bound_to_its_tool() -> None:
    catalog = Catalog()
    catalog.grant("EXECUTE", on="tool:test.echo", to="user:ana")
    runner = ToolRunner(catalog, audit=AuditLog.memory())
    captured: list[Ticket] = []
    tool = EchoTool()
    runner.register(tool)
    original = tool.invoke

    def spy(ticket: Ticket) -> str:
        captured.append(ticket)
        return original(ticket)

    tool.invoke = spy  # type: ignore[method-assign]
    assert runner.call("test.echo", {"text": "hi"}, principal=ALLOWED).value == "hi"
    with pytest.raises(ToolInvocationError, match="already used"):
        original(captured[0])
    with pytest.raises(ToolInvocationError):
        EchoTool().invoke(captured[0])


def test_nested_calls_share_the_trace() -> None:
    catalog = Catalog()
    catalog.grant("EXECUTE", on="tool:test.echo", to="user:ana")
    audit = AuditLog.memory()
    inner_runner = ToolRunner(catalog, audit=audit)
    inner_runner.register(EchoTool())
    outer_runner = ToolRunner(catalog, audit=audit)
    outer_runner.register(
        EchoTool(lambda: inner_runner.call("test.echo", {"text": "in"}, principal=ALLOWED) and None)
    )
    result = outer_runner.call("test.echo", {"text": "out"}, principal=ALLOWED)
    events = audit.events()
    assert {e.trace_id for e in events} == {result.trace_id}
    inner = [e for e in events if e.span_id != result.span_id]
    assert inner
    assert all(e.parent_id == result.span_id for e in inner)


def test_duplicate_registration_is_refused() -> None:
    runner = ToolRunner(Catalog(), audit=AuditLog.memory())
    runner.register(EchoTool())
    with pytest.raises(ConfigError, match="already registered"):
        runner.register(EchoTool())
