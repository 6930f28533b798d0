"""The audit log: the one choke point every tool call, routing decision, denial and model
call goes through. Spans give each call its ``start``, ``decision`` and ``end``/``error``
events; a context variable links nested calls into one trace."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from crossroads.audit._event import AuditEvent, Decision, EventKind, Stage, VerifyReport, utc_now
from crossroads.audit._jsonl import Durability, JSONLSink, TornTail, repair_torn_tail
from crossroads.audit._redact import Redactor
from crossroads.audit._sinks import AuditSink, MemorySink
from crossroads.errors import AuditError, ConfigError, PolicyViolation
from crossroads.policy._principal import Principal

__all__ = ["DEFAULT_AUDIT_PATH", "AuditLog", "Span", "current_span", "resolve_audit"]

logger = logging.getLogger("crossroads.audit")

DEFAULT_AUDIT_PATH = "crossroads-audit.jsonl"
"""Where events go when a component gets no ``audit=`` and ``CROSSROADS_AUDIT_PATH`` is unset."""

_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "crossroads_audit_span", default=None
)


def current_span() -> Span | None:
    """The span of the call in progress in this context, if any."""
    return _current.get()


def _new_id() -> str:
    # 128 random bits, like uuid4 without the version bits and five times cheaper
    return os.urandom(16).hex()


def _error_info(exc: BaseException) -> dict[str, str]:
    info = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, PolicyViolation):
        info["rule"] = exc.rule
        info["securable"] = exc.securable
    return info


class AuditLog:
    """Writes :class:`AuditEvent` s to one or more sinks, redacted and hash-chained.

    ``AuditLog("audit.jsonl")`` appends to a JSON Lines file (the default sink);
    ``AuditLog("postgresql+psycopg://…")`` or ``AuditLog(SQLSink(engine))`` to a table;
    ``AuditLog.memory()`` keeps events in memory (tests). An event is durable before
    ``emit`` returns; if any sink fails, :class:`~crossroads.errors.AuditError` is raised
    and the caller gets no result.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | AuditSink | Sequence[AuditSink],
        *,
        redact: Iterable[str] = (),
        durability: Durability = "fsync",
        group_commit: bool = True,
    ) -> None:
        self._sinks: tuple[AuditSink, ...]
        if isinstance(target, str) and "://" in target:
            from crossroads.audit._sql_sink import SQLSink

            self._sinks = (SQLSink(target),)
        elif isinstance(target, str | os.PathLike):
            self._sinks = (JSONLSink(target, durability=durability, group_commit=group_commit),)
        elif isinstance(target, AuditSink):
            self._sinks = (target,)
        elif (
            isinstance(target, Sequence)
            and not isinstance(target, str)
            and target
            and all(isinstance(s, AuditSink) for s in target)
        ):
            self._sinks = tuple(target)
        else:
            raise ConfigError(
                f"AuditLog needs a file path, a database URL or sinks, got {target!r}"
            )
        self._redactor = Redactor(redact)
        self.recovered: TornTail | None = None
        """What :meth:`recover` quarantined when it opened this log (None otherwise)."""

    @classmethod
    def memory(cls, *, redact: Iterable[str] = ()) -> AuditLog:
        """An audit log kept in memory: for tests and throwaway scripts."""
        return cls(MemorySink(), redact=redact)

    @classmethod
    def recover(cls, path: str | os.PathLike[str], **kwargs: Any) -> AuditLog:
        """Open a JSONL log whose last line is torn: quarantine the torn bytes to
        ``PATH.torn``, record an ``audit.recovered`` event, and continue the chain."""
        torn = repair_torn_tail(path)
        log = cls(path, **kwargs)
        log.recovered = torn
        if torn is not None:
            log.emit(
                kind="audit",
                name="audit.recovered",
                principal=Principal("crossroads"),
                result={
                    "torn_offset": torn.offset,
                    "torn_bytes": len(torn.data),
                    "quarantined_to": f"{path}.torn",
                },
            )
        return log

    @property
    def sinks(self) -> tuple[AuditSink, ...]:
        """Where events are written."""
        return self._sinks

    @property
    def source(self) -> str:
        """The first sink's location (a path or a table)."""
        return self._sinks[0].source

    @property
    def redactor(self) -> Redactor:
        """The redactor applied to inputs, results, policy details and errors."""
        return self._redactor

    def emit(
        self,
        *,
        kind: EventKind,
        name: str,
        principal: Principal,
        stage: Stage = "event",
        input: Mapping[str, Any] | None = None,
        decision: Decision | None = None,
        policy: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
        latency_ms: float | None = None,
        tokens: Mapping[str, int] | None = None,
        error: BaseException | Mapping[str, str] | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        parent_id: str | None = None,
    ) -> AuditEvent:
        """Write one event (redacted, chained, durable) and return it as stored."""
        if not isinstance(principal, Principal):
            raise ConfigError(
                f"every audit event needs a Principal, got {principal!r}: nothing runs anonymously"
            )
        if span_id is None:
            # a one-off event: it belongs to the call in progress, if any
            parent = _current.get()
            if parent is not None:
                trace_id = trace_id or parent.trace_id
                parent_id = parent_id or parent.span_id
        trace_id = trace_id or _new_id()
        err = _error_info(error) if isinstance(error, BaseException) else error
        red = self._redactor
        event = AuditEvent(
            event_id=_new_id(),
            trace_id=trace_id,
            span_id=span_id or _new_id(),
            parent_id=parent_id,
            timestamp=utc_now(),
            principal=principal.ref(),
            kind=kind,
            name=name,
            stage=stage,
            input=red(input) if input is not None else None,
            decision=(
                Decision(
                    allowed=decision.allowed, reason=red.text(decision.reason), rule=decision.rule
                )
                if decision is not None
                else None
            ),
            policy=red(policy) if policy is not None else None,
            result=red(result) if result is not None else None,
            latency_ms=round(latency_ms, 3) if latency_ms is not None else None,
            tokens=dict(tokens) if tokens is not None else None,
            error=red(dict(err)) if err is not None else None,
        )
        stored: AuditEvent | None = None
        for sink in self._sinks:
            try:
                chained = sink.append([event])[0]
            except AuditError:
                raise
            except Exception as exc:  # a sink bug or backend error: never lose it silently
                raise AuditError(
                    f"audit sink {sink.source} failed to write an event: {exc}"
                ) from exc
            stored = stored or chained
        assert stored is not None
        return stored

    def span(
        self,
        kind: EventKind,
        name: str,
        principal: Principal,
        *,
        input: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
        resume: str | None = None,
    ) -> Span:
        """A call in progress: ``with log.span("tool", "sql.query", p, input=...) as s:``.

        Entering writes the ``start`` event; ``s.decide(...)`` a ``decision``;
        ``s.end(...)`` (or leaving the block) the ``end``; an exception leaving the
        block the ``error`` event, and the exception propagates.

        ``resume`` is the id of a span whose ``start`` was written by a process that died
        before the span ended (a workflow step resumed after a crash): entering writes an
        ``event`` marked ``{"resumed": true}`` in that span instead of a second ``start``,
        so the call keeps one span.
        """
        return Span(self, kind, name, principal, input=input, trace_id=trace_id, resume=resume)

    def events(self, trace_id: str | None = None) -> list[AuditEvent]:
        """Events from the first sink, oldest first; only one trace's when ``trace_id``."""
        return [e for e in self._sinks[0].read() if trace_id is None or e.trace_id == trace_id]

    def verify(self, *, anchor: str | None = None) -> VerifyReport:
        """Verify every sink's chain; the first failing report, else the first sink's.
        ``anchor`` is a hash recorded elsewhere that must still be in the chain."""
        reports = [s.verify(anchor=anchor) for s in self._sinks]
        for report in reports:
            if not report.ok:
                return report
        return reports[0]

    def close(self) -> None:
        """Close every sink."""
        for sink in self._sinks:
            sink.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog({', '.join(s.source for s in self._sinks)})"


class Span:
    """One call's events: ``start``, then optionally ``decision``, then ``end`` or ``error``."""

    def __init__(
        self,
        log: AuditLog,
        kind: EventKind,
        name: str,
        principal: Principal,
        *,
        input: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
        resume: str | None = None,
    ) -> None:
        parent = _current.get()
        self.log = log
        self.kind: EventKind = kind
        self.name = name
        self.principal = principal
        self.input = input
        self.resumed = resume is not None
        self.span_id: str = resume or _new_id()
        self.parent_id: str | None = parent.span_id if parent is not None else None
        self.trace_id: str = trace_id or (parent.trace_id if parent is not None else _new_id())
        self.finished = False
        self.denied = False
        self.events: list[AuditEvent] = []
        self._t0 = 0.0
        self._token: contextvars.Token[Span | None] | None = None

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the span started."""
        return (time.perf_counter() - self._t0) * 1000.0

    def _emit(self, **fields: Any) -> AuditEvent:
        fields.setdefault("kind", self.kind)
        event = self.log.emit(
            name=self.name,
            principal=self.principal,
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_id=self.parent_id,
            **fields,
        )
        self.events.append(event)
        return event

    def __enter__(self) -> Span:
        self._t0 = time.perf_counter()
        if self.resumed:
            self._emit(stage="event", input=self.input, result={"resumed": True})
        else:
            self._emit(stage="start", input=self.input)
        self._token = _current.set(self)
        return self

    def decide(
        self,
        *,
        allowed: bool,
        reason: str,
        rule: str | None = None,
        policy: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Record an allow or deny decision (a ``policy`` event in this span)."""
        self.denied = self.denied or not allowed
        return self._emit(
            kind="policy",
            stage="decision",
            decision=Decision(allowed=allowed, reason=reason, rule=rule),
            policy=policy,
            latency_ms=self.elapsed_ms,
        )

    def end(
        self,
        *,
        result: Mapping[str, Any] | None = None,
        tokens: Mapping[str, int] | None = None,
        policy: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Record success with a result summary; only once."""
        if self.finished:
            raise AuditError(f"span {self.name} ({self.span_id}) has already ended")
        self.finished = True
        return self._emit(
            stage="end", result=result, tokens=tokens, policy=policy, latency_ms=self.elapsed_ms
        )

    def fail(
        self,
        error: BaseException,
        *,
        tokens: Mapping[str, int] | None = None,
        policy: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Record failure (or denial) with the error; only once."""
        if self.finished:
            raise AuditError(f"span {self.name} ({self.span_id}) has already ended")
        self.finished = True
        return self._emit(
            stage="error", error=error, tokens=tokens, policy=policy, latency_ms=self.elapsed_ms
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if self.finished:
            return
        if exc is not None:
            self.fail(exc)
        else:
            self.end()


_defaults: dict[str, AuditLog] = {}
_defaults_lock = threading.Lock()


def resolve_audit(audit: AuditLog | None) -> AuditLog:
    """``audit`` itself, or the process default: a JSONL file at ``$CROSSROADS_AUDIT_PATH``
    (else ``./crossroads-audit.jsonl``), announced once in the ``crossroads.audit`` log.
    Never a silent no-op."""
    if audit is not None:
        return audit
    path = os.environ.get("CROSSROADS_AUDIT_PATH") or DEFAULT_AUDIT_PATH
    key = str(Path(path).resolve())
    with _defaults_lock:
        log = _defaults.get(key)
        if log is None:
            log = AuditLog(path)
            _defaults[key] = log
            logger.warning(
                "no audit= given: writing audit events to %s "
                "(pass audit=AuditLog(PATH) or set CROSSROADS_AUDIT_PATH)",
                key,
            )
    return log


def iter_tree(events: Sequence[AuditEvent]) -> Iterator[tuple[int, list[AuditEvent]]]:
    """Spans of one trace in call order as ``(depth, events of the span)``."""
    spans: dict[str, list[AuditEvent]] = {}
    parents: dict[str, str | None] = {}
    for e in events:
        spans.setdefault(e.span_id, []).append(e)
        parents.setdefault(e.span_id, e.parent_id)
    children: dict[str | None, list[str]] = {}
    for span_id in spans:
        parent = parents[span_id] if parents[span_id] in spans else None
        children.setdefault(parent, []).append(span_id)

    def walk(span_id: str, depth: int) -> Iterator[tuple[int, list[AuditEvent]]]:
        yield depth, spans[span_id]
        for child in children.get(span_id, []):
            yield from walk(child, depth + 1)

    for root in children.get(None, []):
        yield from walk(root, 0)
