"""The SQL sink on real databases: SQLite (a file) and PostgreSQL (``pg_url``).

Each case tampers with the table the way someone with database access could, and
checks that ``verify`` names the first bad row and what is wrong with it.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from crossroads.audit import GENESIS_HASH, AuditEvent, AuditLog, Decision, SQLSink
from crossroads.audit._event import canonical_json
from crossroads.errors import AuditError, MissingDependency
from crossroads.policy._principal import Principal

ALICE = Principal("alice", groups=["eu_sales"])
N = 10


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def table() -> str:
    """A table of its own for each test (the PostgreSQL database is shared by the session)."""
    return f"audit_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sink(db_url: str, table: str) -> Iterator[SQLSink]:
    sink = SQLSink(db_url, table=table)
    log = AuditLog(sink)
    for i in range(N):
        log.emit(
            kind="tool",
            name="sql.query",
            principal=ALICE,
            input={"i": i},
            decision=Decision(allowed=False, reason="no SELECT grant on table:sales"),
        )
    yield sink
    sink.close()


def run(db_url: str, sql: str, **params: object) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def test_an_intact_table_verifies_and_reads_back_in_order(sink: SQLSink, table: str) -> None:
    report = sink.verify()
    assert report.ok, report.describe()
    assert report.events == N
    assert report.source.endswith(f"#{table}")
    events = list(sink.read())
    assert [e.seq for e in events] == list(range(1, N + 1))
    assert [e.input for e in events] == [{"i": i} for i in range(N)]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(e.compute_hash() == e.hash for e in events)


def test_a_reader_that_stops_early_releases_its_cursor(sink: SQLSink) -> None:
    """On PostgreSQL rows stream through a server-side cursor; one left open would warn."""
    first = next(sink.read())
    assert first.seq == 1
    assert sink.verify().ok  # the connection is usable again


def test_a_second_sink_continues_the_chain(sink: SQLSink, db_url: str, table: str) -> None:
    with AuditLog(SQLSink(db_url, table=table)) as other:
        event = other.emit(kind="route", name="router", principal=ALICE)
    assert event.seq == N + 1
    assert sink.verify().events == N + 1


def test_the_table_name_separates_chains(sink: SQLSink, db_url: str) -> None:
    with AuditLog(SQLSink(db_url, table=f"other_{uuid.uuid4().hex[:8]}")) as other:
        assert other.emit(kind="route", name="router", principal=ALICE).seq == 1
    assert sink.verify().events == N


def _update_body(db_url: str, table: str, change: Callable[[dict[str, object]], None]) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            body = json.loads(
                conn.execute(text(f"SELECT body FROM {table} WHERE seq = 5")).one()[0]
            )
            change(body)
            _set(conn, table, body=canonical_json(body), hash=str(body["hash"]))
    finally:
        engine.dispose()


def _set(conn: Connection, table: str, **values: str) -> None:
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    conn.execute(text(f"UPDATE {table} SET {assignments} WHERE seq = 5"), values)


def _edit_body(db_url: str, table: str) -> None:
    _update_body(db_url, table, lambda body: body.update(input={"i": 999}))


def _forge_body(db_url: str, table: str) -> None:
    """Edit the body and recompute its hash: only the next row's link gives it away."""

    def change(body: dict[str, object]) -> None:
        forged = AuditEvent.from_dict(body | {"input": {"i": "forged"}})
        body.update(forged.chained(forged.seq, forged.prev_hash).to_dict())

    _update_body(db_url, table, change)


# (tamper as SQL or a function, first bad seq, rows verified before it, the problem's start)
TAMPERING: dict[str, tuple[str | Callable[[str, str], None], int, int, str]] = {
    "edit the body": (_edit_body, 5, 4, "the event's content does not match its hash"),
    "edit the body and its hash": (_forge_body, 6, 5, "prev_hash does not match"),
    "body not JSON": (
        "UPDATE {table} SET body = 'not json' WHERE seq = 5",
        5,
        4,
        "the body is not valid JSON",
    ),
    "edit principal_id": (
        "UPDATE {table} SET principal_id = 'mallory' WHERE seq = 5",
        5,
        4,
        "column 'principal_id' differs from the hashed event",
    ),
    "edit name": (
        "UPDATE {table} SET name = 'sql.drop' WHERE seq = 5",
        5,
        4,
        "column 'name' ('sql.drop') differs from the hashed event ('sql.query')",
    ),
    "edit trace_id": (
        "UPDATE {table} SET trace_id = 'x' WHERE seq = 5",
        5,
        4,
        "column 'trace_id' ('x') differs",
    ),
    "flip allowed": (
        "UPDATE {table} SET allowed = TRUE WHERE seq = 5",
        5,
        4,
        "column 'allowed' (True) differs from the hashed event (False)",
    ),
    "edit the timestamp": (
        "UPDATE {table} SET ts = '2000-01-01T00:00:00.000000Z' WHERE seq = 5",
        5,
        4,
        "column 'ts' ('2000-01-01T00:00:00.000000Z') differs",
    ),
    "edit span_id": ("UPDATE {table} SET span_id = 'x' WHERE seq = 5", 5, 4, "column 'span_id'"),
    "set parent_id": (
        "UPDATE {table} SET parent_id = 'x' WHERE seq = 5",
        5,
        4,
        "column 'parent_id' ('x') differs from the hashed event (None)",
    ),
    "delete a middle row": (
        "DELETE FROM {table} WHERE seq = 5",
        6,
        4,
        "sequence number 6 where 5 was expected",
    ),
    "delete the first row": (
        "DELETE FROM {table} WHERE seq = 1",
        2,
        0,
        "sequence number 2 where 1 was expected",
    ),
}


@pytest.mark.parametrize(
    ("tamper", "seq", "verified", "problem"), list(TAMPERING.values()), ids=list(TAMPERING)
)
def test_tampering_is_reported_at_the_first_bad_row(
    sink: SQLSink,
    db_url: str,
    table: str,
    tamper: str | Callable[[str, str], None],
    seq: int,
    verified: int,
    problem: str,
) -> None:
    if isinstance(tamper, str):
        run(db_url, tamper.format(table=table))
    else:
        tamper(db_url, table)
    report = sink.verify()
    assert not report.ok
    assert (report.line, report.events) == (seq, verified)
    assert report.problem is not None
    assert report.problem.startswith(problem), report.problem


def test_deleting_the_newest_rows_needs_an_external_anchor(
    sink: SQLSink, db_url: str, table: str
) -> None:
    """As with a file, a chain cut at its end is still a valid chain: keep the last
    hash (or the count) somewhere else to notice."""
    anchor = list(sink.read())[-1].hash
    run(db_url, f"DELETE FROM {table} WHERE seq > 7")
    report = sink.verify()
    assert report.ok
    assert report.events == 7
    assert list(sink.read())[-1].hash != anchor


def test_concurrent_writers_build_one_linear_chain(db_url: str, table: str) -> None:
    """Several sinks (each with its own engine) race for the next seq; the primary key
    and the retries (and on PostgreSQL the advisory lock) keep the chain linear."""
    writers, per_writer = 4, 15
    SQLSink(db_url, table=table).close()  # create the table before the race
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def work(w: int) -> None:
        try:
            with AuditLog(SQLSink(db_url, table=table)) as log:
                barrier.wait()
                for i in range(per_writer):
                    log.emit(kind="tool", name="t", principal=ALICE, input={"w": w, "i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = SQLSink(db_url, table=table)
    try:
        report = check.verify()
        assert report.ok, report.describe()
        assert report.events == writers * per_writer
        seen = sorted((e.input["w"], e.input["i"]) for e in check.read() if e.input)
        assert seen == [(w, i) for w in range(writers) for i in range(per_writer)]
    finally:
        check.close()


def test_a_database_url_string_makes_a_sql_sink(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with AuditLog(url) as log:
        (sink,) = log.sinks
        assert isinstance(sink, SQLSink)
        assert log.source == f"{url}#crossroads_audit"
        log.emit(kind="route", name="router", principal=ALICE)
        assert log.verify().ok


def test_an_unreachable_database_is_an_audit_error() -> None:
    with pytest.raises(AuditError, match="cannot create or open audit table") as info:
        SQLSink("postgresql+psycopg://root:s3cret@127.0.0.1:1/nope")
    assert "s3cret" not in str(info.value)
    assert "Check the URL" in str(info.value)


def test_a_missing_driver_names_the_extra_to_install() -> None:
    with pytest.raises(MissingDependency, match=r"pip install 'crossroads\[mysql\]'"):
        SQLSink("mysql+mysqldb://root@127.0.0.1/nope")
