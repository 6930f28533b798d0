"""The router graph: classify → run → check → fall back (bounded) → respond.

A LangGraph ``StateGraph`` compiled once per app and reused for every question. Each
node's decision is an audit event (``router.classify``, ``router.check``,
``router.fallback``, ``router.respond``) inside the ``router.ask`` span the caller
opens, and the route's tool call nests under it, so one trace holds the whole answer.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.graph import END, START, StateGraph

from crossroads.agents._answers import Outcome, RouteTools, governance_of, run_route, sources_of
from crossroads.agents._router import summary
from crossroads.agents._types import (
    FAILURE_MODES,
    Answer,
    AnswerSource,
    Fallback,
    Route,
    RouteDecision,
)
from crossroads.policy._principal import Principal

if TYPE_CHECKING:
    from crossroads.agents._router import Classifier
    from crossroads.audit import AuditLog

__all__ = ["RouterGraph", "RouterState"]


class RouterState(TypedDict, total=False):
    """What flows between the router's nodes."""

    question: str
    principal: Principal
    trace_id: str
    decision: RouteDecision
    route: Route
    tried: list[Route]
    fallbacks: list[Fallback]
    outcome: Outcome
    answer: Answer


class RouterGraph:
    """Builds and holds the compiled router graph.

    >>> graph = RouterGraph(classifier, tools, audit=log)      # doctest: +SKIP
    >>> graph.invoke("How many …?", alice, trace_id="…")        # doctest: +SKIP
    Answer(route='sql', …)
    """

    def __init__(
        self,
        classifier: Classifier,
        tools: RouteTools,
        *,
        audit: AuditLog,
        max_fallbacks: int = 2,
    ) -> None:
        self.classifier = classifier
        self.tools = tools
        self.audit = audit
        self.max_fallbacks = max_fallbacks
        builder = StateGraph(RouterState)
        builder.add_node("classify", self._classify)
        builder.add_node("run", self._run)
        builder.add_node("check", self._check)
        builder.add_node("fallback", self._fallback)
        builder.add_node("respond", self._respond)
        builder.add_edge(START, "classify")
        builder.add_edge("classify", "run")
        builder.add_edge("run", "check")
        builder.add_conditional_edges("check", self._next, ["fallback", "respond"])
        builder.add_edge("fallback", "run")
        builder.add_edge("respond", END)
        # its own graph, never checkpointed: a caller that is itself a checkpointed graph
        # (the chat agent, a workflow) must not make it persist Principals and answers
        self.compiled = builder.compile(checkpointer=False)

    def invoke(
        self,
        question: str,
        principal: Principal,
        *,
        trace_id: str,
        decision: RouteDecision | None = None,
    ) -> Answer:
        """Answer one (single-part) question; ``decision`` skips classification."""
        state: RouterState = {"question": question, "principal": principal, "trace_id": trace_id}
        if decision is not None:
            state["decision"] = decision
        # Detached from any LangGraph run the caller is in (the chat agent's turn, a
        # workflow step): the router is not their subgraph and never shares their
        # checkpointer. The audit span context is copied, so its events still nest.
        context = contextvars.copy_context()
        context.run(var_child_runnable_config.set, None)
        config: RunnableConfig = {"recursion_limit": 6 + 3 * self.max_fallbacks}
        out = context.run(self.compiled.invoke, state, config)
        answer: Answer = out["answer"]
        return answer

    # --- nodes ---------------------------------------------------------------------------

    def _classify(self, state: RouterState) -> dict[str, Any]:
        decision = state.get("decision")
        if decision is None:
            decision = self.classifier.decide(state["question"], state["principal"])
        self.audit.emit(
            kind="route",
            name="router.classify",
            principal=state["principal"],
            input={"question": state["question"]},
            result=summary(decision),
        )
        return {"decision": decision, "route": decision.route, "tried": [], "fallbacks": []}

    def _run(self, state: RouterState) -> dict[str, Any]:
        decision = state["decision"]
        scope = decision.signals.get("long_context.collections")
        outcome = run_route(
            self.tools,
            state["route"],
            state["question"],
            state["principal"],
            scope=tuple(scope) if scope else None,
            sql_coverage=decision.signals.get("sql.coverage"),
        )
        return {"outcome": outcome, "tried": [*state["tried"], state["route"]]}

    def _check(self, state: RouterState) -> dict[str, Any]:
        outcome = state["outcome"]
        self.audit.emit(
            kind="route",
            name="router.check",
            principal=state["principal"],
            result={"route": outcome.route, "outcome": outcome.kind, "reason": outcome.reason},
        )
        if outcome.kind == "ok":
            return {}
        fallback = Fallback(
            route=outcome.route,
            reason=f"{outcome.kind}: {outcome.reason}",
            outcome=outcome.kind,
        )
        return {"fallbacks": [*state["fallbacks"], fallback]}

    def _candidates(self, state: RouterState) -> list[Route]:
        tried = set(state["tried"])
        return [r for r in state["decision"].ranked() if r not in tried]

    def _next(self, state: RouterState) -> str:
        if state["outcome"].kind == "ok":
            return "respond"
        if len(state["fallbacks"]) > self.max_fallbacks or not self._candidates(state):
            return "respond"
        return "fallback"

    def _fallback(self, state: RouterState) -> dict[str, Any]:
        route = self._candidates(state)[0]
        self.audit.emit(
            kind="route",
            name="router.fallback",
            principal=state["principal"],
            result={
                "from": state["route"],
                "to": route,
                "because": state["fallbacks"][-1].reason,
            },
        )
        return {"route": route}

    def _respond(self, state: RouterState) -> dict[str, Any]:
        outcome = state["outcome"]
        decision = state["decision"]
        fallbacks = tuple(state["fallbacks"])
        denied = [
            f"{f.route} denied: {f.reason.split(': ', 1)[-1]}"
            for f in fallbacks
            if f.outcome == "denied"
        ]
        if outcome.kind == "ok":
            route = outcome.route
            text = outcome.text
            sources: list[AnswerSource] = sources_of(route, outcome.result)
            governance = [*governance_of(route, outcome.result), *denied]
            if fallbacks:
                tried = "; ".join(f"{f.route} ({f.reason})" for f in fallbacks)
                text = f"{text}\n\n(answered by {route} after: {tried})"
            answered = True
        else:
            route = decision.route
            reasons = "\n".join(f"- {f.route}: {f.reason}" for f in fallbacks)
            text = f"I could not answer this from the data you may use.\n{reasons}"
            sources, governance, answered = [], denied, False
        answer = Answer(
            question=state["question"],
            route=route,
            failure_mode=FAILURE_MODES[route],
            text=text,
            sources=tuple(sources),
            trace_id=state["trace_id"],
            fallbacks=fallbacks,
            decision=decision,
            answered=answered,
            governance=tuple(governance),
            result=outcome.result if answered else None,
        )
        self.audit.emit(
            kind="route",
            name="router.respond",
            principal=state["principal"],
            result={
                "route": route,
                "answered": answered,
                "fallbacks": [f.route for f in fallbacks],
                "sources": [s.ref for s in sources],
            },
        )
        return {"answer": answer}
