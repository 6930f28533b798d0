"""The failure-mode classifier: signals → model → a :class:`RouteDecision`.

Deterministic by default. With a model configured, the model is asked for a structured
decision (route, failure mode, confidence, reason); the decision is validated (a
known route, one the principal may use here) and used, and when the model fails or
answers something invalid the deterministic decision stands and the audit says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from crossroads.agents._classifier import RouteModel
from crossroads.agents._signals import SignalExtractor, Signals, describe, split_compound
from crossroads.agents._types import (
    FAILURE_MODES,
    ROUTES,
    Route,
    RouteDecision,
    decision_dict,
)
from crossroads.connectors.base import Message
from crossroads.errors import ConfigError, CrossroadsError
from crossroads.policy._principal import Principal

if TYPE_CHECKING:
    from crossroads.audit import AuditLog
    from crossroads.connectors.llm import LLMGateway

__all__ = ["MAX_PARTS", "Classifier"]

MAX_PARTS = 5
"""The most questions one compound question may hold (each is routed and run)."""

_DECISION_SCHEMA = {
    "type": "object",
    "properties": {
        "route": {"type": "string", "enum": list(ROUTES)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "required": ["route", "confidence", "reason"],
    "additionalProperties": False,
}
_ROUTES_TEXT = """\
- sql: a precise number or list from database tables (counts, totals, averages, filters)
- graph: a chain of relationships between entities (X of the Y that Z …)
- rag: facts written in documents (what a label, letter or procedure says)
- long_context: an answer that needs every document of a small collection at once \
(summarise, compare, list across all documents)"""


class _ModelDecision(BaseModel):
    route: Route
    confidence: float = Field(ge=0, le=1)
    reason: str = Field(max_length=2000)


class Classifier:
    """Decides each question's route from its signals."""

    def __init__(
        self,
        extractor: SignalExtractor,
        model: RouteModel,
        *,
        llm: LLMGateway | None = None,
        audit: AuditLog,
    ) -> None:
        self.extractor = extractor
        self.model = model
        self.llm = llm
        self.audit = audit

    def decide(self, question: str, principal: Principal) -> RouteDecision:
        """The decision for ``question`` as ``principal`` (compound questions: one per
        part, the first part's route on top)."""
        parts = split_compound(question)
        if len(parts) > MAX_PARTS:
            raise ConfigError(
                f"the question holds {len(parts)} questions; ask at most {MAX_PARTS} at once"
            )
        if len(parts) > 1:
            decided_parts: list[RouteDecision] = []
            carried: list[str] = []
            for part in parts:
                d = self._one(part, principal)
                named = _named(d.signals)
                if not named and carried:
                    # "…for Cardiozen, and what does the label say about pregnancy?": the
                    # second part is about the entity the first one named
                    d = self._one(f"{part.rstrip(' ?.')} for {' and '.join(carried)}?", principal)
                carried = named or carried
                decided_parts.append(d)
            decided = tuple(decided_parts)
            first = decided[0]
            signals = {**first.signals, "compound": True, "parts": list(parts)}
            return RouteDecision(
                question=question,
                route=first.route,
                failure_mode=first.failure_mode,
                confidence=min(d.confidence for d in decided),
                signals=signals,
                runner_up=first.runner_up,
                scores=first.scores,
                reasons=(
                    f"a compound question in {len(parts)} parts, routed "
                    + ", ".join(d.route for d in decided),
                ),
                mode=first.mode,
                parts=decided,
            )
        return self._one(question, principal)

    def _one(self, question: str, principal: Principal) -> RouteDecision:
        signals = self.extractor.extract(question, principal)
        values = {**signals.values, "compound": False}  # decide() marks compound ones
        if signals.unavailable:
            values["unavailable"] = dict(signals.unavailable)
        available = signals.available or ROUTES
        scores = self.model.scores(signals.features, available=available)
        ranked: list[Route] = sorted(scores, key=lambda r: -scores[r])
        route = ranked[0]
        reasons = self._reasons(signals, route)
        if not signals.available:
            reasons = ("no route is available to you for this question", *reasons)
        decision = RouteDecision(
            question=question,
            route=route,
            failure_mode=FAILURE_MODES[route],
            confidence=scores[route],
            signals=values,
            runner_up=ranked[1] if len(ranked) > 1 else None,
            scores=scores,
            reasons=reasons,
        )
        if self.llm is not None and signals.available:
            return self._ask_model(decision, signals, principal)
        return decision

    def _reasons(self, signals: Signals, route: Route) -> tuple[str, ...]:
        pushes = self.model.contributions(signals.features, route)
        out: list[str] = []
        for name, push in pushes:
            if push <= 0 or len(out) == 3:
                break
            text = describe(name, signals.values)
            if text:
                out.append(text)
        return tuple(out)

    def _ask_model(
        self, decision: RouteDecision, signals: Signals, principal: Principal
    ) -> RouteDecision:
        assert self.llm is not None
        available = list(signals.available)
        facts = {k: v for k, v in signals.values.items() if v not in ([], "", None, 0, False)}
        system = (
            "You route a question to the one tool that can answer it. Routes:\n"
            + _ROUTES_TEXT
            + f"\nAvailable for this user: {', '.join(available)}. Reply with JSON: "
            '{"route": ..., "confidence": 0-1, "reason": "..."}.'
        )
        user = f"Question: {decision.question}\nSignals measured on the data: {facts}"
        problem = ""
        try:
            reply = self.llm.complete(
                [Message("system", system), Message("user", user)],
                principal=principal,
                json_schema=_DECISION_SCHEMA,
            )
            chosen = _ModelDecision.model_validate(reply.data)
            if chosen.route not in available:
                problem = f"the model chose {chosen.route!r}, which is not available here"
        except ValidationError as exc:
            problem = f"the model's decision was invalid: {exc.errors()[0]['msg']}"
        except CrossroadsError as exc:
            problem = f"the model failed: {type(exc).__name__}: {exc}"
        if problem:
            self.audit.emit(
                kind="route",
                name="router.llm_decision",
                principal=principal,
                input={"question": decision.question},
                result={"used": False, "kept": decision.route, "problem": problem},
            )
            return decision
        ranked = [chosen.route, *[r for r in decision.ranked() if r != chosen.route]]
        return RouteDecision(
            question=decision.question,
            route=chosen.route,
            failure_mode=FAILURE_MODES[chosen.route],
            confidence=chosen.confidence,
            signals=decision.signals,
            runner_up=ranked[1] if len(ranked) > 1 else None,
            scores=decision.scores,
            reasons=(chosen.reason, *decision.reasons),
            mode="llm",
        )


def _named(signals: Mapping[str, Any]) -> list[str]:
    """The names a question mentions: linked entities and text values written with a
    capital (``Cardiozen``, ``Germany``), in question order, without repeats."""
    found = [e for e in signals.get("graph.entities", []) if e[:1].isupper()]
    found += [v.split(" → ")[0] for v in signals.get("sql.values", []) if v[:1].isupper()]
    return list(dict.fromkeys(found))


def summary(decision: RouteDecision) -> dict[str, Any]:
    """The audit record of a decision: :func:`decision_dict` without the question (the
    event's input holds it)."""
    out = decision_dict(decision)
    del out["question"]
    return out
