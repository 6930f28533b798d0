"""The sink protocol, the shared chain check, and the in-memory sink."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from crossroads.audit._event import GENESIS_HASH, AuditEvent, VerifyReport

__all__ = ["AuditSink", "MemorySink", "check_chain"]


@runtime_checkable
class AuditSink(Protocol):
    """Where audit events go. ``append`` chains the events and makes them durable before
    it returns; a sink that cannot write raises :class:`~crossroads.errors.AuditError`."""

    @property
    def source(self) -> str:
        """A readable name of where events are stored (a path, a table)."""
        ...

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Chain ``events`` after the last stored event, store them, return them chained."""
        ...

    def read(self) -> Iterator[AuditEvent]:
        """Every stored event, oldest first."""
        ...

    def verify(self, *, anchor: str | None = None) -> VerifyReport:
        """Check every event's hash and link; report the first bad one. With ``anchor``
        (a hash kept elsewhere), also check that the event carrying it is still there."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


def check_chain(
    records: Iterable[tuple[int, Mapping[str, Any] | str]],
    source: str,
    *,
    anchor: str | None = None,
) -> VerifyReport:
    """Verify a sequence of ``(position, event dict or problem text)``.

    ``position`` is the 1-based line or sequence number reported for a bad record.
    A string in place of a dict is a record that could not be read (bad JSON).
    ``anchor``, a hash recorded elsewhere earlier, must be the hash of some event: a log
    truncated at a line boundary otherwise still verifies.
    """
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    for position, record in records:
        if isinstance(record, str):
            return VerifyReport(
                ok=False, events=count, source=source, line=position, problem=record
            )
        event_id = record.get("event_id") if isinstance(record, Mapping) else None
        try:
            event = AuditEvent.from_dict(record)
        except (TypeError, ValueError) as exc:
            return VerifyReport(
                ok=False,
                events=count,
                source=source,
                line=position,
                event_id=str(event_id) if event_id else None,
                problem=f"the record is not an audit event ({exc})",
            )
        problem = None
        if event.seq != expected_seq:
            problem = (
                f"sequence number {event.seq} where {expected_seq} was expected "
                "(an event was removed, inserted or reordered)"
            )
        elif event.prev_hash != prev_hash:
            problem = (
                "prev_hash does not match the previous event's hash "
                "(an earlier event was removed or altered)"
            )
        elif event.compute_hash() != event.hash:
            problem = "the event's content does not match its hash (the event was altered)"
        if problem is not None:
            return VerifyReport(
                ok=False,
                events=count,
                source=source,
                line=position,
                event_id=event.event_id,
                problem=problem,
            )
        prev_hash = event.hash
        expected_seq += 1
        count += 1
        if event.hash == anchor:
            anchor = None
    last = prev_hash if count else None
    if anchor is not None:
        return VerifyReport(
            ok=False,
            events=count,
            source=source,
            problem=(
                f"no event carries the anchor hash {anchor}: the log was cut short or "
                "replaced after the anchor was recorded"
            ),
            last_hash=last,
        )
    return VerifyReport(ok=True, events=count, source=source, last_hash=last)


class MemorySink:
    """Keeps the chain in a list: for tests and short-lived scripts. Lost at exit."""

    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        """Always ``<memory>``."""
        return "<memory>"

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Chain and keep ``events``."""
        with self._lock:
            prev = self._events[-1].hash if self._events else GENESIS_HASH
            seq = len(self._events)
            out = []
            for event in events:
                seq += 1
                linked = event.chained(seq, prev)
                prev = linked.hash
                out.append(linked)
            self._events.extend(out)
            return out

    def read(self) -> Iterator[AuditEvent]:
        """The kept events, oldest first."""
        with self._lock:
            return iter(list(self._events))

    def verify(self, *, anchor: str | None = None) -> VerifyReport:
        """Check the kept chain."""
        records = ((e.seq, e.to_dict()) for e in self.read())
        return check_chain(records, source=self.source, anchor=anchor)

    def close(self) -> None:
        """Nothing to release."""
