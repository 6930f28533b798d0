"""``Crossroads``: the facade that builds the governed tools and routes questions to them.

>>> import crossroads as xr
>>> app = xr.Crossroads.from_example("pharma")                       # doctest: +SKIP
>>> alice = app.principal("alice")                                   # doctest: +SKIP
>>> app.route("How many adverse events were reported in 2024?", principal=alice).route
... # doctest: +SKIP
'sql'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossroads.agents._answers import RouteTools
from crossroads.agents._classifier import FitReport, LabelledRow, RouteModel
from crossroads.agents._router import Classifier, summary
from crossroads.agents._signals import SignalExtractor
from crossroads.agents._types import (
    FAILURE_MODES,
    ROUTES,
    Answer,
    Route,
    RouteDecision,
)
from crossroads.audit import AuditLog
from crossroads.errors import ConfigError
from crossroads.policy import Catalog, Principal
from crossroads.tools._runner import ToolRunner, model_gateway

if TYPE_CHECKING:
    from crossroads._examples import Example
    from crossroads.connectors import DocumentIndex
    from crossroads.connectors.base import LLM, GraphStore, SQLBackend
    from crossroads.connectors.llm import LLMGateway
    from crossroads.tools.graph import GraphQA
    from crossroads.tools.long_context import LongContext
    from crossroads.tools.rag import RAG
    from crossroads.tools.sql import GovernedSQL

__all__ = ["Crossroads"]


class Crossroads:
    """Governed question answering over any of a SQL database, a graph and documents.

    The connectors go in; the facade builds the governed tools on one runner (one
    catalog, one audit log) and a router that sends each question down the route that
    fixes its failure mode, falling back when a route cannot answer.

    :param catalog: the policy every route enforces.
    :param sql: a SQL backend (``SQLDatabase``) for the text-to-SQL route.
    :param graph: a graph store (``NetworkXGraph``, ``Neo4jGraph``) for the graph route.
    :param documents: a ``DocumentIndex`` for the RAG and long-context routes.
    :param llm: a model (or gateway) for LLM mode; ``None`` is deterministic mode.
    :param audit: where every event goes (default: the process default log).
    :param budget_tokens: the long-context route's budget.
    :param model: the routing model (default: fitted on the labelled rows shipped with
        the package; extend it with :meth:`fit`).
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        sql: SQLBackend | None = None,
        graph: GraphStore | None = None,
        documents: DocumentIndex | None = None,
        llm: LLM | LLMGateway | None = None,
        audit: AuditLog | None = None,
        budget_tokens: int = 100_000,
        graph_name: str = "default",
        graph_synonyms: Mapping[str, Sequence[str]] | None = None,
        sql_synonyms: Mapping[str, str] | None = None,
        max_rows: int = 1000,
        max_fallbacks: int = 2,
        model: RouteModel | None = None,
    ) -> None:
        if not isinstance(catalog, Catalog):
            raise ConfigError(f"catalog must be a Catalog, got {catalog!r}", key="catalog")
        if sql is None and graph is None and documents is None:
            raise ConfigError(
                "Crossroads needs at least one of sql=, graph= or documents= to answer from"
            )
        if max_fallbacks < 0:
            raise ConfigError(f"max_fallbacks must be 0 or more, got {max_fallbacks}")
        self.catalog = catalog
        self.runner = ToolRunner(catalog, audit=audit)
        self.audit: AuditLog = self.runner.audit
        self.llm = model_gateway(llm, self.audit)
        self.example: Example | None = None
        self.sql: GovernedSQL | None = None
        self.graph: GraphQA | None = None
        self.rag: RAG | None = None
        self.long_context: LongContext | None = None
        if sql is not None:
            from crossroads.tools.sql import GovernedSQL

            self.sql = GovernedSQL(
                sql,
                catalog,
                runner=self.runner,
                llm=self.llm,
                synonyms=sql_synonyms,
                max_rows=max_rows,
            )
        if graph is not None:
            from crossroads.tools.graph import GraphQA

            self.graph = GraphQA(
                graph,
                catalog,
                runner=self.runner,
                graph_name=graph_name,
                synonyms=graph_synonyms,
                llm=self.llm,
            )
        if documents is not None:
            from crossroads.tools.long_context import LongContext
            from crossroads.tools.rag import RAG

            self.rag = RAG(documents, catalog, runner=self.runner, llm=self.llm)
            self.long_context = LongContext(
                documents, catalog, runner=self.runner, budget_tokens=budget_tokens, llm=self.llm
            )
        self.tools = RouteTools(self.sql, self.graph, self.rag, self.long_context)
        self.extractor = SignalExtractor(
            sql=self.sql, graph=self.graph, rag=self.rag, long_context=self.long_context
        )
        self.model = model or RouteModel.default()
        self.classifier = Classifier(self.extractor, self.model, llm=self.llm, audit=self.audit)
        from crossroads.graphs._router import RouterGraph

        self.router = RouterGraph(
            self.classifier, self.tools, audit=self.audit, max_fallbacks=max_fallbacks
        )

    # --- the example domains ---------------------------------------------------------------

    @classmethod
    def from_example(
        cls,
        name: str = "pharma",
        *,
        audit: AuditLog | None = None,
        llm: LLM | LLMGateway | None = None,
        directory: str | Path | None = None,
    ) -> Crossroads:
        """An app over a shipped example domain (built once, seeded, into a cache
        directory or ``directory``), with its graph route fitted on the domain's
        labelled fit questions."""
        from crossroads._examples import load_example

        example = load_example(name, directory=directory)
        app = cls(
            catalog=example.catalog(),
            sql=example.sql(),
            graph=example.graph(),
            documents=example.documents(),
            llm=llm,
            audit=audit,
            graph_name=example.graph_name,
            graph_synonyms=example.graph_synonyms,
            sql_synonyms=example.sql_synonyms,
            budget_tokens=example.budget_tokens,
        )
        app.example = example
        if app.graph is not None:
            app.graph.fit(example.graph_examples())
        return app

    # --- questions -------------------------------------------------------------------------

    def principal(self, principal_id: str) -> Principal:
        """A principal declared in the catalog, by id."""
        return self.catalog.principal(principal_id)

    def route(self, question: str, *, principal: Principal) -> RouteDecision:
        """Which route ``question`` goes down for ``principal``, and why (audited as a
        ``router.route`` event; nothing is run)."""
        question = _check_question(question)
        _check_principal(principal)
        with self.audit.span(
            "route", "router.route", principal, input={"question": question}
        ) as span:
            decision = self.classifier.decide(question, principal)
            span.end(result=summary(decision))
        return decision

    def ask(self, question: str, *, principal: Principal) -> Answer:
        """Answer ``question`` as ``principal``: classify, run the route's governed tool,
        check the result, fall back to the runner-up when the route is denied, finds
        nothing or cannot ground its answer. One audit trace (``Answer.trace_id``)
        holds every step."""
        question = _check_question(question)
        _check_principal(principal)
        with self.audit.span(
            "route", "router.ask", principal, input={"question": question}
        ) as span:
            decision = self.classifier.decide(question, principal)
            if not decision.parts:
                answer = self.router.invoke(
                    question, principal, trace_id=span.trace_id, decision=decision
                )
            else:
                parts = tuple(
                    self.router.invoke(p.question, principal, trace_id=span.trace_id, decision=p)
                    for p in decision.parts
                )
                answer = _combine(question, decision, parts, span.trace_id)
            span.end(
                result={
                    "route": answer.route,
                    "answered": answer.answered,
                    "fallbacks": [f.route for f in answer.fallbacks],
                    "parts": [p.route for p in answer.parts],
                }
            )
        return answer

    def fit(
        self,
        examples: Iterable[tuple[str, str] | Mapping[str, Any]],
        *,
        principal: Principal | None = None,
        replace: bool = False,
    ) -> FitReport:
        """Fit the router on labelled questions: ``(question, route)`` pairs or mappings
        with ``question``, ``route`` and optionally ``principal`` (an id). Signals are
        computed as that principal (else ``principal``), on this app's data, and added
        to the rows the model already has (``replace=True``: these alone)."""
        rows: list[LabelledRow] = []
        for n, example in enumerate(examples, 1):
            if isinstance(example, Mapping):
                question, route = example.get("question"), example.get("route")
                who = example.get("principal")
                if who is not None and not isinstance(who, str | Principal):
                    raise ConfigError(
                        f"example {n}: principal must be a principal id or a Principal, got {who!r}"
                    )
                asker = self.principal(who) if isinstance(who, str) else who or principal
            elif isinstance(example, tuple) and len(example) == 2:
                question, route = example
                asker = principal
            else:
                raise ConfigError(
                    f"example {n}: give a (question, route) pair or a mapping with question "
                    f"and route, got {example!r}"
                )
            if not isinstance(question, str) or route not in ROUTES:
                raise ConfigError(
                    f"example {n}: need a question and a route in {', '.join(ROUTES)}, got "
                    f"{question!r} → {route!r}"
                )
            question = _check_question(question)
            if asker is None:
                raise ConfigError(
                    f"example {n} names no principal: pass principal= (signals are measured "
                    "on what a principal may see)"
                )
            _check_principal(asker)
            signals = self.extractor.extract(question, asker)
            rows.append(LabelledRow(signals.features, route, question))
        return self.model.fit(rows, replace=replace)

    def __repr__(self) -> str:
        routes = [r for r in ROUTES if getattr(self.tools, r) is not None]
        mode = "llm" if self.llm is not None else "deterministic"
        return f"Crossroads(routes={routes}, mode={mode!r}, audit={self.audit!r})"


def _check_question(question: object) -> str:
    if not isinstance(question, str) or not question.strip():
        raise ConfigError(f"the question must be non-empty text, got {question!r}")
    if len(question) > 4000:
        raise ConfigError(f"the question is {len(question):,} characters; the limit is 4,000")
    return question.strip()


def _check_principal(principal: object) -> None:
    if not isinstance(principal, Principal):
        raise ConfigError(
            f"every question needs a Principal, got {principal!r}: nothing runs anonymously"
        )


def _combine(
    question: str, decision: RouteDecision, parts: tuple[Answer, ...], trace_id: str
) -> Answer:
    """One answer from the answers to a compound question's parts."""
    first = parts[0]
    text = "\n\n".join(f"({i}) {p.question}\n{p.text}" for i, p in enumerate(parts, 1))
    route: Route = first.route
    return Answer(
        question=question,
        route=route,
        failure_mode=FAILURE_MODES[route],
        text=text,
        sources=tuple(s for p in parts for s in p.sources),
        trace_id=trace_id,
        fallbacks=tuple(f for p in parts for f in p.fallbacks),
        decision=decision,
        answered=all(p.answered for p in parts),
        governance=tuple(dict.fromkeys(g for p in parts for g in p.governance)),
        result=None,
        parts=parts,
    )
