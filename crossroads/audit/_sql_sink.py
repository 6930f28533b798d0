"""A hash-chained audit table in any SQLAlchemy database (SQLite, PostgreSQL …).

The ``seq`` primary key makes the chain linear: two writers that read the same last
event collide on insert, and the loser re-reads and retries. On PostgreSQL a
transaction-scoped advisory lock serialises writers up front.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from crossroads.audit._event import GENESIS_HASH, AuditEvent, VerifyReport, canonical_json
from crossroads.audit._sinks import check_chain
from crossroads.errors import AuditError, MissingDependency

__all__ = ["SQLSink"]

_RETRIES = 20


def _table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("event_id", String(32), nullable=False, unique=True),
        Column("trace_id", String(32), nullable=False),
        Column("span_id", String(32), nullable=False),
        Column("parent_id", String(32)),
        Column("ts", String(32), nullable=False),
        Column("principal_id", String(255), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("name", String(255), nullable=False),
        Column("stage", String(16), nullable=False),
        Column("allowed", Boolean),
        Column("body", Text, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Index(f"ix_{name}_trace", "trace_id"),
        Index(f"ix_{name}_principal", "principal_id"),
    )


class SQLSink:
    """Audit events as rows of ``table`` (created if missing), one chain per table."""

    def __init__(self, url_or_engine: str | Engine, *, table: str = "crossroads_audit") -> None:
        try:
            self._engine = (
                create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
            )
        except ModuleNotFoundError as exc:
            extra = "mysql" if "mysql" in str(url_or_engine) else "postgres"
            raise MissingDependency(
                "the SQL audit sink", extra, [exc.name or "a database driver"]
            ) from exc
        self._owns_engine = isinstance(url_or_engine, str)
        self._table = _table(MetaData(), table)
        self._lock_key = zlib.crc32(table.encode()) & 0x7FFFFFFF
        try:
            self._table.create(self._engine, checkfirst=True)
        except SQLAlchemyError as exc:
            url = self._engine.url.render_as_string(hide_password=True)
            raise AuditError(
                f"cannot create or open audit table {table!r} in {url}: "
                f"{exc.__class__.__name__}: {getattr(exc, 'orig', exc)}. "
                "Check the URL and that the user may create tables."
            ) from exc

    @property
    def source(self) -> str:
        """``URL#table`` with the password hidden."""
        return f"{self._engine.url.render_as_string(hide_password=True)}#{self._table.name}"

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Chain ``events`` after the table's last row and insert them in one transaction."""
        if not events:
            return []
        last_error: Exception | None = None
        for attempt in range(_RETRIES):
            try:
                return self._append_once(events)
            except (IntegrityError, OperationalError) as exc:
                # a concurrent writer took the same seq, or SQLite's write lock was busy
                last_error = exc
                time.sleep(min(0.002 * 2**attempt, 0.2))
            except SQLAlchemyError as exc:
                raise AuditError(
                    f"writing to audit table {self.source} failed: {getattr(exc, 'orig', exc)}"
                ) from exc
        raise AuditError(
            f"writing to audit table {self.source} failed after {_RETRIES} attempts "
            f"(concurrent writers or a locked database): {last_error}"
        )

    def _append_once(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        t = self._table
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_key})
            row = conn.execute(select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
            seq, prev = (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)
            chained: list[AuditEvent] = []
            for event in events:
                seq += 1
                linked = event.chained(seq, prev)
                prev = linked.hash
                chained.append(linked)
            conn.execute(t.insert(), [self._row(e) for e in chained])
        return chained

    @staticmethod
    def _row(e: AuditEvent) -> dict[str, Any]:
        return {
            "seq": e.seq,
            "event_id": e.event_id,
            "trace_id": e.trace_id,
            "span_id": e.span_id,
            "parent_id": e.parent_id,
            "ts": e.timestamp,
            "principal_id": str(e.principal.get("id", "")),
            "kind": e.kind,
            "name": e.name,
            "stage": e.stage,
            "allowed": None if e.decision is None else e.decision.allowed,
            "body": canonical_json(e.to_dict()),
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }

    def _rows(self) -> Iterator[dict[str, Any]]:
        t = self._table
        try:
            with (
                self._engine.connect() as conn,
                # closed even when the reader stops early (verify stops at the first bad
                # row): an open server-side cursor on PostgreSQL warns when collected
                conn.execution_options(yield_per=1000).execute(
                    select(t).order_by(t.c.seq)
                ) as result,
            ):
                for row in result.mappings():
                    yield dict(row)
        except DBAPIError as exc:
            raise AuditError(f"reading audit table {self.source} failed: {exc.orig}") from exc

    def read(self) -> Iterator[AuditEvent]:
        """Every event, oldest first."""
        for row in self._rows():
            yield AuditEvent.from_dict(json.loads(row["body"]))

    def _records(self) -> Iterator[tuple[int, dict[str, Any] | str]]:
        for row in self._rows():
            try:
                body = json.loads(row["body"])
            except ValueError as exc:
                yield int(row["seq"]), f"the body is not valid JSON ({exc})"
                continue
            if not isinstance(body, dict):
                yield int(row["seq"]), "the body is not a JSON object"
                continue
            if row["body"] != canonical_json(body):
                yield int(row["seq"]), "the body's text differs from the event's canonical JSON"
                return
            # the queryable columns must say what the hashed body says
            for column, key in (
                ("seq", "seq"),
                ("event_id", "event_id"),
                ("trace_id", "trace_id"),
                ("span_id", "span_id"),
                ("parent_id", "parent_id"),
                ("ts", "timestamp"),
                ("kind", "kind"),
                ("name", "name"),
                ("stage", "stage"),
                ("prev_hash", "prev_hash"),
                ("hash", "hash"),
            ):
                if row[column] != body.get(key):
                    yield (
                        int(row["seq"]),
                        (
                            f"column {column!r} ({row[column]!r}) differs from the hashed event "
                            f"({body.get(key)!r}): the row was altered"
                        ),
                    )
                    return
            if row["principal_id"] != str((body.get("principal") or {}).get("id", "")):
                yield int(row["seq"]), "column 'principal_id' differs from the hashed event"
                return
            decision = body.get("decision")
            allowed = decision.get("allowed") if isinstance(decision, dict) else None
            if row["allowed"] != allowed:
                yield (
                    int(row["seq"]),
                    (
                        f"column 'allowed' ({row['allowed']!r}) differs from the hashed event "
                        f"({allowed!r}): the row was altered"
                    ),
                )
                return
            yield int(row["seq"]), body

    def verify(self, *, anchor: str | None = None) -> VerifyReport:
        """Check every row's hash, link and indexed columns."""
        return check_chain(self._records(), source=self.source, anchor=anchor)

    def close(self) -> None:
        """Dispose of the engine if this sink created it."""
        if self._owns_engine:
            self._engine.dispose()
