"""AuditLog: spans and traces, failures, configuration errors, the default log, many sinks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossroads.audit import (
    DEFAULT_AUDIT_PATH,
    AuditEvent,
    AuditLog,
    JSONLSink,
    MemorySink,
    SQLSink,
    current_span,
    iter_tree,
    read_jsonl,
    resolve_audit,
    verify_jsonl,
)
from crossroads.audit import _log as log_module
from crossroads.errors import AuditError, ConfigError, PolicyViolation, ToolError
from crossroads.policy._principal import Principal

ALICE = Principal("alice", groups=["eu_sales"], attributes={"region": "EU"})


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    with AuditLog(tmp_path / "audit.jsonl", durability="flush") as log:
        yield log


def stages(events: list[AuditEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.stage) for e in events]


# -- spans -----------------------------------------------------------------------------


def test_a_span_writes_start_decision_end_in_order(log: AuditLog) -> None:
    with log.span("tool", "sql.query", ALICE, input={"sql": "SELECT 1"}) as span:
        span.decide(allowed=True, reason="SELECT on table:sales", rule="grant", policy={"g": 1})
        span.end(result={"rows": 3}, tokens={"prompt": 1, "completion": 1, "total": 2})

    written = log.events(span.trace_id)
    assert written == span.events
    assert stages(written) == [("tool", "start"), ("policy", "decision"), ("tool", "end")]
    assert {e.span_id for e in written} == {span.span_id}
    assert {e.trace_id for e in written} == {span.trace_id}
    assert {e.parent_id for e in written} == {None}
    assert [e.seq for e in written] == [1, 2, 3]
    start, decision, end = written
    assert start.input == {"sql": "SELECT 1"}
    assert start.latency_ms is None
    assert decision.decision is not None
    assert (decision.decision.allowed, decision.decision.rule) == (True, "grant")
    assert decision.policy == {"g": 1}
    assert (end.result, end.tokens) == ({"rows": 3}, {"prompt": 1, "completion": 1, "total": 2})
    assert decision.latency_ms is not None
    assert end.latency_ms is not None
    assert 0 <= decision.latency_ms <= end.latency_ms
    assert start.principal == {"id": "alice", "groups": ["eu_sales"]}  # attributes stay out


def test_leaving_a_span_without_end_writes_the_end(log: AuditLog) -> None:
    with log.span("route", "router", ALICE) as span:
        pass
    assert stages(span.events) == [("route", "start"), ("route", "end")]
    assert span.finished
    assert span.events[-1].latency_ms is not None
    assert span.events[-1].latency_ms >= 0


def test_a_denial_marks_the_span(log: AuditLog) -> None:
    with log.span("tool", "sql.query", ALICE) as span:
        span.decide(allowed=False, reason="no grant", rule="default deny")
    assert span.denied
    decision = span.events[1].decision
    assert decision is not None
    assert (decision.allowed, decision.reason, decision.rule) == (False, "no grant", "default deny")


def test_nested_spans_share_the_trace_and_link_to_their_parent(log: AuditLog) -> None:
    assert current_span() is None
    with log.span("route", "router", ALICE) as outer:
        assert current_span() is outer
        with log.span("tool", "sql.query", ALICE) as inner:
            assert current_span() is inner
            note = log.emit(kind="llm", name="model", principal=ALICE)
        assert current_span() is outer
    assert current_span() is None

    assert inner.parent_id == outer.span_id
    assert inner.trace_id == outer.trace_id
    assert {e.parent_id for e in inner.events} == {outer.span_id}
    # a one-off event inside a span belongs to it
    assert (note.trace_id, note.parent_id) == (outer.trace_id, inner.span_id)
    assert note.span_id not in (outer.span_id, inner.span_id)
    assert len(log.events(outer.trace_id)) == 5


def test_an_explicit_trace_id_is_inherited(log: AuditLog) -> None:
    with (
        log.span("route", "router", ALICE, trace_id="t" * 32),
        log.span("tool", "x", ALICE) as inner,
    ):
        pass
    assert inner.trace_id == "t" * 32
    assert {e.trace_id for e in log.events()} == {"t" * 32}


def test_separate_spans_get_separate_traces(log: AuditLog) -> None:
    with log.span("route", "a", ALICE) as a:
        pass
    with log.span("route", "b", ALICE) as b:
        pass
    assert a.trace_id != b.trace_id
    assert b.parent_id is None


def test_an_exception_writes_an_error_event_and_propagates(log: AuditLog) -> None:
    with (
        pytest.raises(ToolError, match="the database went away"),
        log.span("tool", "sql.query", ALICE) as span,
    ):
        raise ToolError("the database went away", tool="sql.query")
    assert stages(span.events) == [("tool", "start"), ("tool", "error")]
    error = span.events[-1]
    assert error.error == {"type": "ToolError", "message": "the database went away"}
    assert error.latency_ms is not None
    assert error.latency_ms >= 0
    assert current_span() is None


def test_a_policy_violation_records_rule_and_securable(log: AuditLog) -> None:
    denial = PolicyViolation(
        "alice may not SELECT table:salaries",
        principal="alice",
        securable="table:salaries",
        rule="default deny",
        privilege="SELECT",
    )
    with pytest.raises(PolicyViolation), log.span("tool", "sql.query", ALICE) as span:
        raise denial
    assert span.events[-1].error == {
        "type": "PolicyViolation",
        "message": "alice may not SELECT table:salaries",
        "rule": "default deny",
        "securable": "table:salaries",
    }


def test_fail_records_an_error_without_raising(log: AuditLog) -> None:
    with log.span("llm", "model", ALICE) as span:
        span.fail(
            TimeoutError("no answer in 30 s"), tokens={"prompt": 5, "completion": 0, "total": 5}
        )
    assert stages(span.events) == [("llm", "start"), ("llm", "error")]
    assert span.events[-1].error == {"type": "TimeoutError", "message": "no answer in 30 s"}


@pytest.mark.parametrize(
    ("first", "second"),
    [("end", "end"), ("end", "fail"), ("fail", "end"), ("fail", "fail")],
)
def test_a_span_ends_only_once(log: AuditLog, first: str, second: str) -> None:
    def finish(span: log_module.Span, how: str) -> None:
        if how == "end":
            span.end()
        else:
            span.fail(RuntimeError("x"))

    with log.span("tool", "t", ALICE) as span:
        finish(span, first)
        with pytest.raises(AuditError, match=f"span t \\({span.span_id}\\) has already ended"):
            finish(span, second)
    assert len(span.events) == 2  # start and the first ending; leaving adds nothing


def test_iter_tree_gives_each_span_its_depth(log: AuditLog) -> None:
    with log.span("route", "router", ALICE) as root:
        with log.span("tool", "sql.query", ALICE), log.span("llm", "model", ALICE):
            pass
        with log.span("tool", "rag.retrieve", ALICE):
            pass
    tree = [
        (depth, events[0].name, len(events))
        for depth, events in iter_tree(log.events(root.trace_id))
    ]
    assert tree == [
        (0, "router", 2),
        (1, "sql.query", 2),
        (2, "model", 2),
        (1, "rag.retrieve", 2),
    ]


def test_iter_tree_treats_a_span_with_an_unknown_parent_as_a_root(log: AuditLog) -> None:
    with log.span("route", "router", ALICE), log.span("tool", "sql.query", ALICE) as inner:
        pass
    only_inner = [e for e in log.events() if e.span_id == inner.span_id]
    assert [(d, es[0].name) for d, es in iter_tree(only_inner)] == [(0, "sql.query")]
    assert list(iter_tree([])) == []


# -- failures and configuration --------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", None, {"id": "alice"}], ids=["str", "none", "dict"])
def test_emit_without_a_principal_is_a_config_error(log: AuditLog, who: object) -> None:
    with pytest.raises(ConfigError, match=r"needs a Principal.*nothing runs anonymously"):
        log.emit(kind="tool", name="t", principal=who)  # type: ignore[arg-type]
    assert log.events() == []


@pytest.mark.parametrize(
    "target",
    [42, None, [], [object()], (MemorySink(), "x")],
    ids=["int", "none", "empty", "object", "mixed"],
)
def test_a_bad_target_is_a_config_error(target: object) -> None:
    with pytest.raises(ConfigError, match="AuditLog needs a file path, a database URL or sinks"):
        AuditLog(target)  # type: ignore[arg-type]


def test_a_directory_is_not_a_writable_log(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="Is a directory") as info:
        AuditLog(tmp_path)
    message = str(info.value)
    assert f"cannot open audit log {tmp_path} for appending" in message
    assert "Choose a writable path" in message
    assert "CROSSROADS_AUDIT_PATH" in message


def test_an_uncreatable_path_is_an_audit_error() -> None:
    with pytest.raises(AuditError, match=r"cannot open audit log /proc/crossroads/audit\.jsonl"):
        AuditLog("/proc/crossroads/audit.jsonl")


def test_a_full_disk_stops_the_log_and_the_call() -> None:
    """/dev/full answers every write with ENOSPC: a real failing disk."""
    log = AuditLog("/dev/full")
    ran = False
    try:
        with (
            pytest.raises(AuditError, match=r"No space left on device.*crossroads audit repair"),
            log.span("tool", "t", ALICE),
        ):
            ran = True
        assert not ran  # the start event could not be written, so the call never ran
        with pytest.raises(AuditError, match="No further events are accepted"):
            log.emit(kind="tool", name="t", principal=ALICE)
    finally:
        log.close()


@pytest.fixture
def fresh_defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, AuditLog]]:
    """An empty process-default cache for the test; the logs it opens are closed after."""
    defaults: dict[str, AuditLog] = {}
    monkeypatch.setattr(log_module, "_defaults", defaults)
    yield defaults
    for opened in defaults.values():
        opened.close()


def test_resolve_audit_defaults_to_crossroads_audit_path_and_says_so_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fresh_defaults: dict[str, AuditLog],
) -> None:
    path = tmp_path / "from-env.jsonl"
    monkeypatch.setenv("CROSSROADS_AUDIT_PATH", str(path))
    with caplog.at_level(logging.WARNING, logger="crossroads.audit"):
        first = resolve_audit(None)
        second = resolve_audit(None)
    assert first is second
    assert first.source == str(path)
    warnings = [r for r in caplog.records if r.name == "crossroads.audit"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert str(path) in warnings[0].getMessage()
    assert "CROSSROADS_AUDIT_PATH" in warnings[0].getMessage()
    first.emit(kind="tool", name="t", principal=ALICE)
    assert verify_jsonl(path).events == 1


def test_resolve_audit_without_the_variable_writes_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_defaults: dict[str, AuditLog]
) -> None:
    monkeypatch.delenv("CROSSROADS_AUDIT_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    log = resolve_audit(None)
    assert Path(log.source).resolve() == tmp_path / DEFAULT_AUDIT_PATH
    assert (tmp_path / DEFAULT_AUDIT_PATH).exists()


def test_resolve_audit_returns_a_given_log_silently(
    log: AuditLog, caplog: pytest.LogCaptureFixture, fresh_defaults: dict[str, AuditLog]
) -> None:
    with caplog.at_level(logging.DEBUG, logger="crossroads.audit"):
        assert resolve_audit(log) is log
    assert caplog.records == []
    assert fresh_defaults == {}


# -- several sinks ---------------------------------------------------------------------


def test_every_sink_gets_every_event_and_keeps_its_own_chain(tmp_path: Path) -> None:
    jsonl = JSONLSink(tmp_path / "audit.jsonl", durability="flush")
    sql = SQLSink(f"sqlite:///{tmp_path / 'audit.db'}")
    with AuditLog([jsonl, sql]) as log:
        with log.span("route", "router", ALICE) as span:
            span.decide(allowed=True, reason="ok")
        stored = log.emit(kind="tool", name="one-off", principal=ALICE)
        assert log.sinks == (jsonl, sql)
        assert log.source == str(tmp_path / "audit.jsonl")
        assert repr(log) == f"AuditLog({jsonl.source}, {sql.source})"

        from_file = list(read_jsonl(tmp_path / "audit.jsonl"))
        from_table = list(sql.read())
        assert from_file == from_table  # same events, same positions, same hashes
        assert [e.seq for e in from_file] == [1, 2, 3, 4]
        assert stored == from_file[-1]
        assert jsonl.verify().ok
        assert sql.verify().ok
        assert log.verify().ok

        with sql._engine.begin() as conn:  # tamper with the second sink only
            conn.exec_driver_sql("UPDATE crossroads_audit SET name = 'x' WHERE seq = 2")
        report = log.verify()
        assert not report.ok
        assert report.source == sql.source
        assert report.line == 2


def test_a_sink_that_already_holds_events_chains_independently(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability="flush") as first:
        first.emit(kind="tool", name="before", principal=ALICE)
    memory = MemorySink()
    with AuditLog([JSONLSink(path, durability="flush"), memory]) as log:
        stored = log.emit(kind="tool", name="both", principal=ALICE)
    assert stored.seq == 2  # the first sink's chain decides what emit returns
    assert [e.seq for e in memory.read()] == [1]
    assert memory.verify().ok
    assert verify_jsonl(path).events == 2


def test_a_memory_log_for_tests() -> None:
    log = AuditLog.memory(redact=["ssn"])
    log.emit(kind="tool", name="t", principal=ALICE, input={"ssn": "123-45-6789"})
    (event,) = log.events()
    assert event.input == {"ssn": "[REDACTED]"}
    assert log.source == "<memory>"
    assert log.verify().ok
    assert log.redactor.fields == frozenset({"ssn"})
