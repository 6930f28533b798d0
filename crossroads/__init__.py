"""crossroads: governed enterprise question answering.

A failure-mode router over governed text-to-SQL, knowledge-graph traversal, RAG and
long-context, under one policy catalog, with every tool call audited.

>>> import crossroads as xr
>>> catalog = xr.Catalog.from_yaml("policy.yaml")            # doctest: +SKIP
>>> alice = catalog.principal("alice")                       # doctest: +SKIP
>>> audit = xr.AuditLog("audit.jsonl")                       # doctest: +SKIP
"""

from crossroads._app import Crossroads
from crossroads.agents import Answer, AnswerSource, Fallback, RouteDecision, RouteModel
from crossroads.audit import AuditEvent, AuditLog, Decision, VerifyReport
from crossroads.errors import (
    AuditError,
    AuditIntegrityError,
    ConfigError,
    CrossroadsError,
    LLMError,
    PolicyViolation,
    ToolError,
)
from crossroads.policy import Catalog, Principal
from crossroads.tools import Permit, Tool, ToolResult, ToolRunner

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AnswerSource",
    "AuditError",
    "AuditEvent",
    "AuditIntegrityError",
    "AuditLog",
    "Catalog",
    "ConfigError",
    "Crossroads",
    "CrossroadsError",
    "Decision",
    "Fallback",
    "LLMError",
    "Permit",
    "PolicyViolation",
    "Principal",
    "RouteDecision",
    "RouteModel",
    "Tool",
    "ToolError",
    "ToolResult",
    "ToolRunner",
    "VerifyReport",
    "__version__",
]
