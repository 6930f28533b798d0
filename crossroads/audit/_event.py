"""The audit event: one immutable record per step of a call, hash-chained to its predecessor."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "Decision",
    "EventKind",
    "Stage",
    "VerifyReport",
    "canonical_json",
    "utc_now",
]

EventKind = Literal["route", "tool", "policy", "llm", "workflow", "audit"]
"""What the event is about: a routing decision, a tool call, a policy decision, a model
call, a workflow step or run, or the audit log's own housekeeping (a recovered torn write)."""

Stage = Literal["start", "decision", "end", "error", "event"]
"""Where in a span the event sits: ``start`` → ``decision`` (allow/deny) → ``end`` or
``error``; ``event`` for a one-off record."""

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event in a chain."""


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and a ``Z``."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash_body(body: dict[str, Any]) -> str:
    """SHA-256 of ``prev_hash`` and the canonical JSON of every field but ``hash``."""
    digest = hashlib.sha256(str(body["prev_hash"]).encode("ascii"))
    digest.update(canonical_json({k: v for k, v in body.items() if k != "hash"}).encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """An allow/deny decision and why."""

    allowed: bool
    """True when the call may proceed."""
    reason: str
    """A sentence a person can read: which grant allowed it, or why it was denied."""
    rule: str | None = None
    """The rule that decided (``default deny``, ``sql.read_only``, ``llm.token_budget`` …)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One audit record. Immutable; ``hash`` covers every other field.

    Events of one tool call share a ``span_id``; ``parent_id`` is the span that
    called it, and every span of one request shares the ``trace_id``.
    """

    event_id: str
    """Unique id of this event (32 hex digits)."""
    trace_id: str
    """The request this event belongs to."""
    span_id: str
    """The call (tool, route, model) this event belongs to."""
    parent_id: str | None
    """The span that made this call, or None at the top of a trace."""
    timestamp: str
    """UTC, ISO 8601 with microseconds (``2026-11-24T06:04:31.123456Z``)."""
    principal: Mapping[str, Any]
    """Who called: ``{"id": ..., "groups": [...]}``."""
    kind: EventKind
    """``route``, ``tool``, ``policy``, ``llm``, ``workflow`` or ``audit``."""
    name: str
    """The tool, route or model (``sql.query``, ``openai:gpt-4o-mini``)."""
    stage: Stage
    """``start``, ``decision``, ``end``, ``error`` or ``event``."""
    input: Mapping[str, Any] | None = None
    """The call's arguments, redacted."""
    decision: Decision | None = None
    """Allow or deny, with the reason and the rule."""
    policy: Mapping[str, Any] | None = None
    """Policy applied: grants used, row filters, masks, SQL before and after rewriting."""
    result: Mapping[str, Any] | None = None
    """A summary of the result (row count, sources), never the full payload."""
    latency_ms: float | None = None
    """Time from the span's start to this event."""
    tokens: Mapping[str, int] | None = None
    """Model tokens: ``{"prompt", "completion", "total"}``."""
    error: Mapping[str, str] | None = None
    """``{"type": ..., "message": ...}`` when the call failed."""
    seq: int = 0
    """Position in the chain, from 1."""
    prev_hash: str = ""
    """The previous event's ``hash`` (``GENESIS_HASH`` for the first)."""
    hash: str = ""
    """SHA-256 of ``prev_hash`` and the canonical JSON of every other field."""

    def __hash__(self) -> int:
        return hash((self.event_id, self.hash))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (the mappings are shared, not copied)."""
        d = self.decision
        return {
            "event_id": self.event_id,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "timestamp": self.timestamp,
            "principal": self.principal,
            "kind": self.kind,
            "name": self.name,
            "stage": self.stage,
            "input": self.input,
            "decision": (
                None if d is None else {"allowed": d.allowed, "reason": d.reason, "rule": d.rule}
            ),
            "policy": self.policy,
            "result": self.result,
            "latency_ms": self.latency_ms,
            "tokens": self.tokens,
            "error": self.error,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEvent:
        """Rebuild an event read back from a sink. Unknown keys raise ``TypeError``."""
        values = dict(data)
        decision = values.get("decision")
        if isinstance(decision, Mapping):
            values["decision"] = Decision(**decision)
        return cls(**values)

    def compute_hash(self) -> str:
        """The hash this event should carry, given its ``prev_hash``."""
        return _hash_body(self.to_dict())

    def chained(self, seq: int, prev_hash: str) -> AuditEvent:
        """This event placed at ``seq`` after an event whose hash is ``prev_hash``."""
        body = self.to_dict()
        body["seq"] = seq
        body["prev_hash"] = prev_hash
        return replace(self, seq=seq, prev_hash=prev_hash, hash=_hash_body(body))

    def summary(self) -> str:
        """One line for ``crossroads audit tail``."""
        who = self.principal.get("id", "?")
        parts = [self.timestamp, f"#{self.seq}", self.kind, self.name, self.stage, f"by {who}"]
        if self.decision is not None:
            verdict = "ALLOW" if self.decision.allowed else "DENY"
            parts.append(f"{verdict}: {self.decision.reason}")
        if self.error is not None:
            parts.append(f"error {self.error.get('type')}: {self.error.get('message')}")
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:.1f} ms")
        if self.tokens:
            parts.append(f"{self.tokens.get('total', 0)} tokens")
        return "  ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """What verifying a chain found: ``ok`` and, if not, the first bad event."""

    ok: bool
    """True when every event hashes correctly and links to its predecessor."""
    events: int
    """How many events were read and checked before the first problem (or in all)."""
    source: str
    """The file path or table that was verified."""
    line: int | None = None
    """1-based line (JSONL) or sequence number (SQL) of the first bad event."""
    event_id: str | None = None
    """The first bad event's id, when it could be read."""
    problem: str | None = None
    """What is wrong, in a sentence."""
    torn_tail: bool = False
    """True when the problem is an incomplete last line left by a crash mid-write."""
    last_hash: str | None = None
    """The hash of the last good event: keep it elsewhere as an anchor, and a later
    ``verify(anchor=...)`` detects a log cut short at a line boundary."""
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """A readable verdict for the CLI."""
        if self.ok:
            tail = f"; last hash {self.last_hash}" if self.last_hash else ""
            return f"OK: {self.events} events, hash chain intact ({self.source}){tail}"
        where = f"line {self.line}" if self.line is not None else "?"
        ident = f" (event {self.event_id})" if self.event_id else ""
        return (
            f"BROKEN at {where}{ident} of {self.source}: {self.problem} "
            f"[{self.events} events verified before it]"
        )
