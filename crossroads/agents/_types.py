"""The router's values: the decision it takes and the answer it gives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FAILURE_MODES",
    "ROUTES",
    "Answer",
    "AnswerSource",
    "FailureMode",
    "Fallback",
    "Route",
    "RouteDecision",
]

Route = Literal["sql", "graph", "rag", "long_context"]
"""The four governed routes."""
FailureMode = Literal["structured", "multi_hop", "knowledge_gap", "holistic"]
"""What a question is missing, which decides its route."""

ROUTES: tuple[Route, ...] = ("sql", "graph", "rag", "long_context")
FAILURE_MODES: Mapping[Route, FailureMode] = {
    "sql": "structured",
    "graph": "multi_hop",
    "rag": "knowledge_gap",
    "long_context": "holistic",
}
"""Each route and the failure mode it fixes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDecision:
    """Which route a question goes down, and why.

    >>> d = app.route("How many adverse events were reported in 2024?", principal=alice)
    ... # doctest: +SKIP
    >>> d.route, d.failure_mode, round(d.confidence, 2)                # doctest: +SKIP
    ('sql', 'structured', 0.97)
    """

    question: str
    route: Route
    """The route chosen."""
    failure_mode: FailureMode
    """What the question is missing (``structured`` → sql, ``multi_hop`` → graph,
    ``knowledge_gap`` → rag, ``holistic`` → long_context)."""
    confidence: float
    """The model's probability for the chosen route (0–1)."""
    signals: Mapping[str, Any]
    """The evidence computed on the data: schema and value hits, cues, linked entities,
    relation cues, document evidence, corpus size against the budget."""
    runner_up: Route | None
    """The next most likely available route: where a failed answer falls back to."""
    scores: Mapping[Route, float] = field(default_factory=dict)
    """Probability of every available route."""
    reasons: tuple[str, ...] = ()
    """The signals that weighed most for the chosen route, in words."""
    mode: Literal["deterministic", "llm"] = "deterministic"
    """``llm`` when a model's structured decision was validated and used."""
    parts: tuple[RouteDecision, ...] = ()
    """For a compound question: the decision for each part (the first part's route is
    ``route``)."""

    def ranked(self) -> list[Route]:
        """Available routes, most likely first."""
        return sorted(self.scores, key=lambda r: -self.scores[r]) or [self.route]

    def explain(self) -> str:
        """The decision in a sentence or two."""
        why = "; ".join(self.reasons) if self.reasons else "no strong signal"
        text = (
            f"{self.route} ({self.failure_mode}, confidence {self.confidence:.2f}"
            f"{f', runner-up {self.runner_up}' if self.runner_up else ''}): {why}"
        )
        if self.mode == "llm":
            text += " [decided by the model, validated]"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerSource:
    """One piece of evidence an answer rests on."""

    kind: Literal["sql", "graph", "document"]
    ref: str
    """The SQL that ran, the graph path (``A -[rel]-> B``), or the chunk id (``doc#n``)."""
    detail: str = ""
    """Rows returned and what governance changed; the relation path; the quoted text."""
    n: int = 0
    """The citation number used in the answer text (documents), else 0."""

    def __str__(self) -> str:
        mark = f"[{self.n}] " if self.n else ""
        return f"{mark}{self.kind}: {self.ref}" + (f" — {self.detail}" if self.detail else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Fallback:
    """A route that was tried and could not answer."""

    route: Route
    reason: str
    """Why it could not: ``denied: …``, ``empty: …``, ``no grounded answer: …``."""
    outcome: Literal["denied", "empty", "ungrounded", "error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """The router's answer.

    ``route`` is the route that answered (after any ``fallbacks``), ``decision`` the
    classifier's first choice and why, ``trace_id`` the audit trace holding every
    step.
    """

    question: str
    route: Route
    failure_mode: FailureMode
    text: str
    sources: tuple[AnswerSource, ...]
    trace_id: str
    fallbacks: tuple[Fallback, ...] = ()
    decision: RouteDecision | None = None
    answered: bool = True
    """False when every route tried failed; ``text`` then says why."""
    governance: tuple[str, ...] = ()
    """What governance changed for this principal (row filters applied, columns masked,
    routes denied)."""
    result: Any = None
    """The route's own answer object (``SQLAnswer``, ``GraphAnswer``, ``DocumentAnswer``)."""
    parts: tuple[Answer, ...] = ()
    """For a compound question: the answer to each part (``text`` combines them)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``crossroads ask --json`` prints)."""
        return {
            "question": self.question,
            "route": self.route,
            "failure_mode": self.failure_mode,
            "answered": self.answered,
            "text": self.text,
            "sources": [
                {"kind": s.kind, "ref": s.ref, "detail": s.detail, "n": s.n} for s in self.sources
            ],
            "fallbacks": [
                {"route": f.route, "outcome": f.outcome, "reason": f.reason} for f in self.fallbacks
            ],
            "governance": list(self.governance),
            "trace_id": self.trace_id,
            "decision": decision_dict(self.decision) if self.decision else None,
            "parts": [p.to_dict() for p in self.parts],
        }


def decision_dict(d: RouteDecision) -> dict[str, Any]:
    """A JSON-ready form of a decision (``crossroads route --json``)."""
    return {
        "question": d.question,
        "route": d.route,
        "failure_mode": d.failure_mode,
        "confidence": round(d.confidence, 4),
        "runner_up": d.runner_up,
        "scores": {k: round(v, 4) for k, v in d.scores.items()},
        "signals": dict(d.signals),
        "reasons": list(d.reasons),
        "mode": d.mode,
        "parts": [decision_dict(p) for p in d.parts],
    }
