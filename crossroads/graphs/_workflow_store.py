"""Where workflow runs live: LangGraph checkpoints, run records and the step journal, all
in one database — a SQLite file (the default, ``.crossroads/runs.sqlite``) or PostgreSQL
(``postgresql://…``, needs ``pip install 'crossroads[postgres]'``).

Two small tables sit beside LangGraph's own:

- ``crossroads_workflow_runs``: one row per run — the workflow file and the SHA-256 of
  its text, the inputs, the principal, how to rebuild the app, the status — so
  ``resume RUN`` and ``approve RUN STEP`` need nothing else;
- ``crossroads_workflow_steps``: the step journal — each step's status, attempt, audit
  span and output, committed before the step's span ends (see
  :mod:`crossroads.graphs._workflow` for why).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from crossroads.audit._event import utc_now
from crossroads.errors import ConfigError, ConnectorError, CrossroadsError, MissingDependency
from crossroads.graphs._serde import safe_serde

__all__ = [
    "DEFAULT_CHECKPOINT",
    "JournalEntry",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "StepStatus",
    "utc_in",
]

DEFAULT_CHECKPOINT = ".crossroads/runs.sqlite"
"""Where runs are kept when no ``checkpoint=`` is given (relative to the working directory)."""

RunStatus = Literal["running", "waiting", "done", "failed", "rejected"]
StepStatus = Literal["running", "done", "skipped", "failed"]

_meta = MetaData()
_runs = Table(
    "crossroads_workflow_runs",
    _meta,
    Column("run_id", String(40), primary_key=True),
    Column("workflow", String(200), nullable=False),
    Column("path", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("inputs", Text, nullable=False),
    Column("principal", Text, nullable=False),
    Column("app", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("waiting_on", String(200)),
    Column("trace_id", String(64), nullable=False),
    Column("span_id", String(64), nullable=False),
    Column("error", Text),
    Column("report", Text),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires", String(32)),
)
_LEASE_COLUMNS = ("lease_owner", "lease_expires")  # added later: older stores get them on open
_steps = Table(
    "crossroads_workflow_steps",
    _meta,
    Column("run_id", String(40), primary_key=True),
    Column("step_id", String(200), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("span_id", String(64), nullable=False),
    Column("principal", Text, nullable=False),
    Column("output", Text),
    Column("summary", Text),
    Column("audited", Boolean, nullable=False, default=False),
    Column("error", Text),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
)


def utc_in(seconds: float) -> str:
    """The UTC time ``seconds`` from now, written like :func:`utc_now` (so they compare)."""
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=seconds)
    return later.isoformat(timespec="microseconds") + "Z"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """What is stored about one run."""

    run_id: str
    workflow: str
    """The workflow's name."""
    path: str
    """The workflow file, absolute."""
    digest: str
    """SHA-256 of the file's text when the run started."""
    inputs: Mapping[str, Any]
    principal: Mapping[str, Any]
    """``{"id", "groups", "attributes"}`` of who started the run."""
    app: Mapping[str, Any]
    """How to rebuild the app: ``{"example": "pharma"}`` or ``{"factory": "mod:func"}``,
    plus ``"audit"`` (the audit log's path) when one was given."""
    status: RunStatus
    waiting_on: str | None
    """The approval step the run waits on, when ``status`` is ``waiting``."""
    trace_id: str
    """The audit trace every event of the run belongs to."""
    span_id: str
    """The run's own span (``workflow.run``); step spans hang under it."""
    error: str | None
    report: str | None
    created_at: str
    updated_at: str
    lease_owner: str | None = None
    """Who is running the run (``host:pid:token``) while its status is ``running``."""
    lease_expires: str | None = None
    """When that lease ends unless renewed (UTC, like ``updated_at``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """One step of one run, as journaled."""

    run_id: str
    step_id: str
    status: StepStatus
    attempt: int
    span_id: str
    principal: Mapping[str, Any]
    """Who the step's span was written for (the approver for an approval step)."""
    output: Mapping[str, Any] | None
    summary: Mapping[str, Any] | None
    audited: bool
    """True once the span's ``end`` event is known to be written."""
    error: str | None


def _record(row: Any) -> RunRecord:
    m = row._mapping
    return RunRecord(
        run_id=m["run_id"],
        workflow=m["workflow"],
        path=m["path"],
        digest=m["digest"],
        inputs=json.loads(m["inputs"]),
        principal=json.loads(m["principal"]),
        app=json.loads(m["app"]),
        status=m["status"],
        waiting_on=m["waiting_on"],
        trace_id=m["trace_id"],
        span_id=m["span_id"],
        error=m["error"],
        report=m["report"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        lease_owner=m["lease_owner"],
        lease_expires=m["lease_expires"],
    )


def _entry(row: Any) -> JournalEntry:
    m = row._mapping
    return JournalEntry(
        run_id=m["run_id"],
        step_id=m["step_id"],
        status=m["status"],
        attempt=m["attempt"],
        span_id=m["span_id"],
        principal=json.loads(m["principal"]),
        output=json.loads(m["output"]) if m["output"] is not None else None,
        summary=json.loads(m["summary"]) if m["summary"] is not None else None,
        audited=bool(m["audited"]),
        error=m["error"],
    )


def _is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgresql+", "postgres://"))


def _postgres_urls(target: str) -> tuple[str, str]:
    """The SQLAlchemy URL (psycopg driver) and the libpq conninfo PostgresSaver wants."""
    url = make_url(target.replace("postgres://", "postgresql://", 1))
    sqlalchemy_url = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return sqlalchemy_url, conninfo


class RunStore:
    """Checkpoints, run records and the step journal in one database.

    ``RunStore.open(".crossroads/runs.sqlite")`` or ``RunStore.open("postgresql://…")``;
    close it (or use it as a context manager) when done.
    """

    def __init__(self, target: str, engine: Engine, saver: BaseCheckpointSaver[Any], close: Any):
        self.target = target
        """The SQLite path or PostgreSQL URL."""
        self.engine = engine
        self.saver = saver
        """The LangGraph checkpointer."""
        self._close = close
        try:
            _meta.create_all(engine)
            have = {c["name"] for c in inspect(engine).get_columns(_runs.name)}
            with engine.begin() as conn:
                for name in _LEASE_COLUMNS:
                    if name not in have:
                        kind = _runs.c[name].type.compile(dialect=engine.dialect)
                        conn.exec_driver_sql(f"ALTER TABLE {_runs.name} ADD COLUMN {name} {kind}")
        except SQLAlchemyError as exc:
            raise ConnectorError(
                f"cannot create the workflow tables in {self.where}: {exc}"
            ) from exc

    @property
    def where(self) -> str:
        """The database, for messages (no password)."""
        if _is_postgres(self.target):
            try:
                return make_url(self.target).render_as_string(hide_password=True)
            except (ValueError, ArgumentError):
                return "the PostgreSQL run store"
        return self.target

    @classmethod
    def open(cls, target: str | os.PathLike[str] | None = None) -> RunStore:
        """Open (creating if needed) the store at a SQLite path or a PostgreSQL URL."""
        text = os.fspath(target) if target is not None else DEFAULT_CHECKPOINT
        if _is_postgres(text):
            return cls._open_postgres(text)
        if "://" in text:
            if text.startswith("sqlite:///"):
                text = text.removeprefix("sqlite:///")
            else:
                raise ConfigError(
                    f"checkpoint {text!r} is neither a file path nor a postgresql:// URL; "
                    "workflow runs are kept in SQLite or PostgreSQL",
                    key="checkpoint",
                )
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"the checkpoint {path} cannot be created: {exc.strerror or exc} "
                f"({path.parent}); pass --checkpoint a file in a writable folder",
                key="checkpoint",
            ) from None
        try:
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise ConnectorError(f"cannot open the run store {path}: {exc}") from None
        try:
            saver = SqliteSaver(conn, serde=safe_serde())
            saver.setup()
        except sqlite3.Error as exc:
            conn.close()
            raise ConnectorError(
                f"the checkpoint {path} is not a usable SQLite database ({exc}); pass "
                "--checkpoint a new file or the run store's own"
            ) from None
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
        try:
            return cls(str(path), engine, saver, conn.close)
        except CrossroadsError:
            conn.close()
            engine.dispose()
            raise

    @classmethod
    def _open_postgres(cls, target: str) -> RunStore:
        try:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
        except ImportError:
            raise MissingDependency(
                "PostgreSQL workflow checkpoints",
                "postgres",
                ["psycopg", "langgraph-checkpoint-postgres"],
            ) from None
        try:
            sqlalchemy_url, conninfo = _postgres_urls(target)
        except (ValueError, ArgumentError) as exc:
            raise ConfigError(
                f"the checkpoint URL is not a valid postgresql:// URL ({exc}); write "
                "postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
                key="checkpoint",
            ) from None
        shown = make_url(sqlalchemy_url).render_as_string(hide_password=True)
        try:
            conn = psycopg.Connection.connect(
                conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row
            )
        except psycopg.Error as exc:
            raise ConnectorError(f"cannot reach the run store {shown}: {exc}") from None
        try:
            saver = PostgresSaver(conn, serde=safe_serde())
            saver.setup()
        except psycopg.Error as exc:
            conn.close()
            raise ConnectorError(f"cannot set up the run store in {shown}: {exc}") from None
        engine = create_engine(sqlalchemy_url)
        try:
            return cls(target, engine, saver, conn.close)
        except CrossroadsError:
            conn.close()
            engine.dispose()
            raise

    def close(self) -> None:
        """Close the checkpointer's connection and the engine."""
        self._close()
        self.engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs --------------------------------------------------------------------------

    def create(self, record: RunRecord) -> None:
        """Insert a new run."""
        with self.engine.begin() as conn:
            conn.execute(
                _runs.insert().values(
                    run_id=record.run_id,
                    workflow=record.workflow,
                    path=record.path,
                    digest=record.digest,
                    inputs=_dumps(record.inputs),
                    principal=_dumps(record.principal),
                    app=_dumps(record.app),
                    status=record.status,
                    waiting_on=record.waiting_on,
                    trace_id=record.trace_id,
                    span_id=record.span_id,
                    error=record.error,
                    report=record.report,
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                    lease_owner=record.lease_owner,
                    lease_expires=record.lease_expires,
                )
            )

    def update(
        self,
        run_id: str,
        *,
        status: RunStatus,
        waiting_on: str | None = None,
        error: str | None = None,
        report: str | None = None,
        owner: str | None = None,
    ) -> bool:
        """Set a run's status (and what it waits on, its error, its report); any status
        but ``running`` releases the run's lease. With ``owner``, only while that owner
        holds the lease. True when the run was updated."""
        values: dict[str, Any] = {
            "status": status,
            "waiting_on": waiting_on,
            "error": error,
            "report": report,
            "updated_at": utc_now(),
        }
        if status != "running":
            values.update(lease_owner=None, lease_expires=None)
        condition = [_runs.c.run_id == run_id]
        if owner is not None:
            condition.append(_runs.c.lease_owner == owner)
        with self.engine.begin() as conn:
            result = conn.execute(_runs.update().where(*condition).values(**values))
        return result.rowcount == 1

    def claim(
        self,
        run_id: str,
        owner: str,
        *,
        expires: str,
        statuses: tuple[RunStatus, ...],
        waiting_on: str | None = None,
        replacing: str | None = None,
    ) -> bool:
        """Atomically take the run's lease and set it ``running``, only if its status is
        one of ``statuses`` (and it waits on ``waiting_on``, when given) and no other
        lease is live (or the live one is ``replacing``'s, known dead). True when taken:
        of two callers, at most one gets True."""
        now = utc_now()
        free = or_(
            _runs.c.lease_owner.is_(None),
            _runs.c.lease_expires.is_(None),
            _runs.c.lease_expires < now,
            _runs.c.lease_owner == owner,
        )
        if replacing is not None:
            free = or_(free, _runs.c.lease_owner == replacing)
        condition = [_runs.c.run_id == run_id, _runs.c.status.in_(statuses), free]
        if waiting_on is not None:
            condition.append(_runs.c.waiting_on == waiting_on)
        with self.engine.begin() as conn:
            result = conn.execute(
                _runs.update()
                .where(*condition)
                .values(status="running", lease_owner=owner, lease_expires=expires, updated_at=now)
            )
        return result.rowcount == 1

    def renew(self, run_id: str, owner: str, *, expires: str) -> bool:
        """Extend ``owner``'s lease on a run; False when it no longer holds it."""
        with self.engine.begin() as conn:
            result = conn.execute(
                _runs.update()
                .where(_runs.c.run_id == run_id, _runs.c.lease_owner == owner)
                .values(lease_expires=expires)
            )
        return result.rowcount == 1

    def get(self, run_id: str) -> RunRecord:
        """The run ``run_id`` (a unique prefix is enough); ConfigError if there is none."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_runs).where(_runs.c.run_id.startswith(run_id, autoescape=True))
            ).all()
        if len(rows) == 1:
            return _record(rows[0])
        if not rows:
            raise ConfigError(
                f"no workflow run {run_id!r} in {self.where}; list the runs with "
                "'crossroads runs' (and pass the same --checkpoint)"
            )
        raise ConfigError(
            f"{run_id!r} names {len(rows)} runs ({', '.join(_record(r).run_id for r in rows)}); "
            "give more of the id"
        )

    def runs(self) -> list[RunRecord]:
        """Every run, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_runs).order_by(_runs.c.created_at.desc())).all()
        return [_record(r) for r in rows]

    # --- the step journal -----------------------------------------------------------------

    def step(self, run_id: str, step_id: str) -> JournalEntry | None:
        """The journal entry of one step, if it has started."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_steps).where(_steps.c.run_id == run_id, _steps.c.step_id == step_id)
            ).first()
        return _entry(row) if row is not None else None

    def steps(self, run_id: str) -> list[JournalEntry]:
        """Every journaled step of a run, in the order they started."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_steps).where(_steps.c.run_id == run_id).order_by(_steps.c.started_at)
            ).all()
        return [_entry(r) for r in rows]

    def begin_step(
        self,
        run_id: str,
        step_id: str,
        *,
        span_id: str,
        attempt: int,
        principal: Mapping[str, Any],
    ) -> None:
        """Journal that a step is starting (committed before its span starts)."""
        values = {
            "status": "running",
            "attempt": attempt,
            "span_id": span_id,
            "principal": _dumps(principal),
            "output": None,
            "summary": None,
            "audited": False,
            "error": None,
            "started_at": utc_now(),
            "finished_at": None,
        }
        with self._step_row(run_id, step_id) as (conn, exists):
            if exists:
                conn.execute(
                    _steps.update()
                    .where(_steps.c.run_id == run_id, _steps.c.step_id == step_id)
                    .values(**values)
                )
            else:
                conn.execute(_steps.insert().values(run_id=run_id, step_id=step_id, **values))

    def finish_step(
        self,
        run_id: str,
        step_id: str,
        *,
        status: StepStatus,
        output: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Journal a step's outcome: from here on it is never run again."""
        with self.engine.begin() as conn:
            conn.execute(
                _steps.update()
                .where(_steps.c.run_id == run_id, _steps.c.step_id == step_id)
                .values(
                    status=status,
                    output=_dumps(output) if output is not None else None,
                    summary=_dumps(summary) if summary is not None else None,
                    error=error,
                    finished_at=utc_now(),
                )
            )

    def mark_audited(self, run_id: str, step_id: str) -> None:
        """Journal that the step's span has ended in the audit log."""
        with self.engine.begin() as conn:
            conn.execute(
                _steps.update()
                .where(_steps.c.run_id == run_id, _steps.c.step_id == step_id)
                .values(audited=True)
            )

    @contextmanager
    def _step_row(self, run_id: str, step_id: str) -> Iterator[tuple[Any, bool]]:
        with self.engine.begin() as conn:
            exists = (
                conn.execute(
                    select(_steps.c.step_id).where(
                        _steps.c.run_id == run_id, _steps.c.step_id == step_id
                    )
                ).first()
                is not None
            )
            yield conn, exists
