"""A small real app for the workflow tests, built from the existing tools (governed SQL on
SQLite, a networkx graph, a document index) plus a few test tools; importable by a
subprocess as ``workflow_app:build`` (the CLI's ``--app``).

Test tools:

- ``wftest.wait``: appends a line to ``count`` (how many times it ran), then waits until
  the file ``release`` exists — a step a test can kill mid-way;
- ``wftest.flaky``: fails until it has been called ``fail_times`` times (a counter file);
- ``wftest.echo``: returns its arguments.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase
from crossroads.errors import ToolError
from crossroads.policy import Catalog, Principal
from crossroads.tools import Permit, Tool, ToolRunner
from crossroads.tools.graph import GraphQA
from crossroads.tools.rag import RAG
from crossroads.tools.sql import GovernedSQL

POLICY = {
    "version": 1,
    "principals": {
        "alice": {"groups": ["analysts"], "attributes": {"region": "EU"}},
        "carol": {"groups": ["pv_officer"], "attributes": {"region": "EU"}},
        "bob": {"groups": ["sales"], "attributes": {"region": "US"}},
    },
    "grants": [
        {"to": "group:analysts", "privilege": "SELECT", "on": "table:*"},
        {"to": "group:pv_officer", "privilege": "SELECT", "on": "table:*"},
        {"to": "*", "privilege": "EXECUTE", "on": "tool:wftest.*"},
    ],
    "row_filters": [
        {"on": "table:adverse_events", "where": "region = :region", "except": []},
    ],
    "documents": [{"to": "group:analysts", "on": "collection:labels"}],
    "graph": [{"to": "group:analysts", "on": "graph:pharma"}],
}

SCHEMA = [
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE adverse_events (id INTEGER PRIMARY KEY, product_id INTEGER, region TEXT, "
    "reaction TEXT, serious INTEGER, reported_on TEXT)",
    "INSERT INTO products VALUES (1, 'Cardiozol'), (2, 'Neurovia'), (3, 'Pulmorex')",
    "INSERT INTO adverse_events VALUES "
    "(1, 1, 'EU', 'rash', 1, '2024-01-02'), (2, 1, 'EU', 'rash', 1, '2024-01-03'),"
    "(3, 1, 'EU', 'nausea', 1, '2024-01-04'), (4, 2, 'EU', 'headache', 0, '2024-01-04'),"
    "(5, 2, 'EU', 'dizziness', 1, '2024-01-05'), (6, 1, 'US', 'rash', 1, '2024-01-05'),"
    "(7, 3, 'EU', 'cough', 1, '2023-12-01')",
]

LABEL = """# Interactions

Strong CYP3A4 inhibitors such as ketoconazole raise Cardiozol exposure threefold; avoid the \
combination.

# Undesirable effects

Rash is common with Cardiozol and usually resolves within two weeks; stop Cardiozol if \
blistering occurs.
"""


class _WaitArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: str
    release: str
    timeout_s: float = 20.0


class WaitTool(Tool[_WaitArgs, dict[str, Any]]):
    """Counts its runs in a file, then waits for a release file."""

    name: ClassVar[str] = "wftest.wait"
    description: ClassVar[str] = "Wait for a file (tests)."
    Args: ClassVar[type[BaseModel]] = _WaitArgs

    def authorize(self, args: _WaitArgs, principal: Principal, catalog: Catalog) -> Permit:
        catalog.check(principal, "EXECUTE", f"tool:{self.name}")
        return Permit(args=args, reason="test tool")

    def _execute(self, permitted: _WaitArgs) -> dict[str, Any]:
        with open(permitted.count, "a") as fh:
            fh.write("ran\n")
        deadline = time.monotonic() + permitted.timeout_s
        while not Path(permitted.release).exists():
            if time.monotonic() > deadline:
                raise ToolError("wftest.wait: never released", tool=self.name)
            time.sleep(0.02)
        return {"text": "released", "waited": True}


class _FlakyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    counter: str
    fail_times: int


class FlakyTool(Tool[_FlakyArgs, dict[str, Any]]):
    """Fails its first ``fail_times`` calls."""

    name: ClassVar[str] = "wftest.flaky"
    description: ClassVar[str] = "Fail a few times (tests)."
    Args: ClassVar[type[BaseModel]] = _FlakyArgs

    def authorize(self, args: _FlakyArgs, principal: Principal, catalog: Catalog) -> Permit:
        return Permit(args=args, reason="test tool")

    def _execute(self, permitted: _FlakyArgs) -> dict[str, Any]:
        path = Path(permitted.counter)
        calls = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(calls))
        if calls <= permitted.fail_times:
            raise ToolError(f"flaky failure {calls}", tool=self.name)
        return {"text": f"ok after {calls} calls", "calls": calls}


class _EchoArgs(BaseModel):
    model_config = ConfigDict(extra="allow")


class EchoTool(Tool[_EchoArgs, dict[str, Any]]):
    """Returns its arguments."""

    name: ClassVar[str] = "wftest.echo"
    description: ClassVar[str] = "Echo (tests)."
    Args: ClassVar[type[BaseModel]] = _EchoArgs

    def authorize(self, args: _EchoArgs, principal: Principal, catalog: Catalog) -> Permit:
        return Permit(args=args.model_dump(), reason="test tool")

    def _execute(self, permitted: dict[str, Any]) -> dict[str, Any]:
        return dict(permitted)


@dataclass(frozen=True)
class _Answer:
    text: str
    route: str
    failure_mode: str
    sources: tuple[Any, ...]
    trace_id: str


class MiniApp:
    """What the workflow engine needs of an app: catalog, audit, runner, ask()."""

    def __init__(self, catalog: Catalog, audit: AuditLog, db_path: Path) -> None:
        self.catalog = catalog
        self.audit = audit
        self.runner = ToolRunner(catalog, audit=audit)
        self.db = SQLDatabase(f"sqlite:///{db_path}")
        self.sql = GovernedSQL(self.db, catalog, runner=self.runner)
        graph = NetworkXGraph()
        graph.add_node("cardiozol", name="Cardiozol", labels=["Drug"])
        graph.add_node("ketoconazole", name="Ketoconazole", labels=["Drug"])
        graph.add_node("clarithromycin", name="Clarithromycin", labels=["Drug"])
        graph.add_node("cyp3a4", name="CYP3A4", labels=["Enzyme"])
        graph.add_edge("cardiozol", "interacts_with", "ketoconazole")
        graph.add_edge("cardiozol", "interacts_with", "clarithromycin")
        graph.add_edge("cardiozol", "metabolised_by", "cyp3a4")
        self.graph = GraphQA(
            graph,
            catalog,
            runner=self.runner,
            graph_name="pharma",
            synonyms={"interacts_with": ["interact", "interactions"]},
        )
        index = DocumentIndex("labels")
        index.add("label-cardiozol-eu", LABEL, {"region": "EU"}, collection="labels")
        self.rag = RAG(index, catalog, runner=self.runner)
        for tool in (WaitTool(), FlakyTool(), EchoTool()):
            self.runner.register(tool)

    def ask(self, question: str, *, principal: Principal) -> _Answer:
        """The documents route stands in for the router here."""
        answer = self.rag.ask(question, principal)
        return _Answer(answer.text, "rag", "knowledge_gap", tuple(answer.sources), "")

    def close(self) -> None:
        self.db.close()


def make_db(path: Path) -> Path:
    """Write the test database (once)."""
    if not path.exists():
        con = sqlite3.connect(path)
        for statement in SCHEMA:
            con.execute(statement)
        con.commit()
        con.close()
    return path


def build(*, audit: AuditLog) -> MiniApp:
    """The ``--app workflow_app:build`` factory: the database sits next to the audit log."""
    db = make_db(Path(audit.source).parent / "app.sqlite")
    return MiniApp(Catalog.from_dict(POLICY), audit, db)
