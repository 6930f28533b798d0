"""Audit: every tool call, routing decision, policy denial and model call, as a
hash-chained, redacted, durable event.

Sinks: an append-only JSON Lines file (the default), a SQL table (SQLite, PostgreSQL),
memory (tests). ``crossroads audit verify PATH`` checks a chain.
"""

from crossroads.audit._event import (
    GENESIS_HASH,
    AuditEvent,
    Decision,
    EventKind,
    Stage,
    VerifyReport,
)
from crossroads.audit._jsonl import JSONLSink, read_jsonl, repair_torn_tail, verify_jsonl
from crossroads.audit._log import (
    DEFAULT_AUDIT_PATH,
    AuditLog,
    Span,
    current_span,
    iter_tree,
    resolve_audit,
)
from crossroads.audit._redact import REDACTED, Redactor
from crossroads.audit._sinks import AuditSink, MemorySink
from crossroads.audit._sql_sink import SQLSink

__all__ = [
    "DEFAULT_AUDIT_PATH",
    "GENESIS_HASH",
    "REDACTED",
    "AuditEvent",
    "AuditLog",
    "AuditSink",
    "Decision",
    "EventKind",
    "JSONLSink",
    "MemorySink",
    "Redactor",
    "SQLSink",
    "Span",
    "Stage",
    "VerifyReport",
    "current_span",
    "iter_tree",
    "read_jsonl",
    "repair_torn_tail",
    "resolve_audit",
    "verify_jsonl",
]
