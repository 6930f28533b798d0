"""Agents: the failure-mode classifier, the chat agent and the workflow agent."""

from crossroads.agents._chat import ChatAgent, ChatReply
from crossroads.agents._classifier import FitReport, LabelledRow, RouteModel
from crossroads.agents._followup import resolve_followup
from crossroads.agents._signals import FEATURES, SignalExtractor, Signals, split_compound
from crossroads.agents._types import (
    FAILURE_MODES,
    ROUTES,
    Answer,
    AnswerSource,
    FailureMode,
    Fallback,
    Route,
    RouteDecision,
)

__all__ = [
    "FAILURE_MODES",
    "FEATURES",
    "ROUTES",
    "Answer",
    "AnswerSource",
    "ChatAgent",
    "ChatReply",
    "FailureMode",
    "Fallback",
    "FitReport",
    "LabelledRow",
    "Route",
    "RouteDecision",
    "RouteModel",
    "SignalExtractor",
    "Signals",
    "resolve_followup",
    "split_compound",
]
