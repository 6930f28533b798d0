"""AuditEvent: canonical serialisation, hashing that covers every field, chaining."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from crossroads.audit import GENESIS_HASH, AuditEvent, Decision, VerifyReport
from crossroads.audit._event import canonical_json, utc_now


def make_event(**overrides: object) -> AuditEvent:
    fields: dict[str, object] = {
        "event_id": "e" * 32,
        "trace_id": "t" * 32,
        "span_id": "s" * 32,
        "parent_id": None,
        "timestamp": "2026-11-24T06:04:31.123456Z",
        "principal": {"id": "alice", "groups": ["eu_sales"]},
        "kind": "tool",
        "name": "sql.query",
        "stage": "end",
        "input": {"sql": "SELECT 1"},
        "decision": Decision(allowed=True, reason="SELECT on table:sales", rule="grant"),
        "policy": {"row_filters": ["region = 'EU'"]},
        "result": {"rows": 1},
        "latency_ms": 1.5,
        "tokens": {"prompt": 1, "completion": 2, "total": 3},
        "error": None,
    }
    fields.update(overrides)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_unicode() -> None:
    assert (
        canonical_json({"b": 1, "a": [1, {"d": 2, "c": "é"}]}) == '{"a":[1,{"c":"é","d":2}],"b":1}'
    )


def test_utc_now_is_iso_8601_with_microseconds_and_z() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", utc_now())


def test_genesis_hash_is_64_zeros() -> None:
    assert GENESIS_HASH == "0" * 64


def test_chained_sets_position_link_and_a_matching_hash() -> None:
    first = make_event().chained(1, GENESIS_HASH)
    second = make_event(event_id="f" * 32).chained(2, first.hash)
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    for event in (first, second):
        assert re.fullmatch(r"[0-9a-f]{64}", event.hash)
        assert event.compute_hash() == event.hash
    assert first.hash != second.hash


_CHANGES: dict[str, object] = {
    "event_id": "x" * 32,
    "trace_id": "x" * 32,
    "span_id": "x" * 32,
    "parent_id": "x" * 32,
    "timestamp": "2026-11-24T06:04:31.123457Z",
    "principal": {"id": "mallory", "groups": ["eu_sales"]},
    "kind": "route",
    "name": "sql.execute",
    "stage": "error",
    "input": {"sql": "SELECT 2"},
    "decision": Decision(allowed=False, reason="SELECT on table:sales", rule="grant"),
    "policy": {"row_filters": []},
    "result": {"rows": 2},
    "latency_ms": 1.25,
    "tokens": {"prompt": 1, "completion": 2, "total": 4},
    "error": {"type": "ToolError", "message": "boom"},
    "seq": 2,
    "prev_hash": "1" * 64,
}


def test_every_field_but_hash_is_covered_by_a_change_case() -> None:
    names = {f.name for f in dataclasses.fields(AuditEvent)} - {"hash"}
    assert names == set(_CHANGES)


@pytest.mark.parametrize(("field", "value"), list(_CHANGES.items()), ids=list(_CHANGES))
def test_changing_any_field_changes_the_hash(field: str, value: Any) -> None:
    event = make_event().chained(1, GENESIS_HASH)
    altered = dataclasses.replace(event, **{field: value})
    assert altered.hash == event.hash  # replace keeps the old hash ...
    assert altered.compute_hash() != event.hash  # ... which no longer matches


def test_round_trip_through_json_keeps_the_hash_valid() -> None:
    event = make_event().chained(7, "a" * 64)
    back = AuditEvent.from_dict(json.loads(canonical_json(event.to_dict())))
    assert back == event
    assert isinstance(back.decision, Decision)
    assert back.compute_hash() == event.hash


def test_from_dict_rejects_unknown_keys() -> None:
    data = make_event().to_dict() | {"smuggled": True}
    with pytest.raises(TypeError, match="smuggled"):
        AuditEvent.from_dict(data)


def test_events_are_frozen_and_hashable() -> None:
    event = make_event().chained(1, GENESIS_HASH)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "other"  # type: ignore[misc]
    assert {event: 1}[event] == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {},
            [
                "#3",
                "tool",
                "sql.query",
                "end",
                "by alice",
                "ALLOW: SELECT on",
                "1.5 ms",
                "3 tokens",
            ],
        ),
        (
            {"decision": Decision(allowed=False, reason="no grant"), "tokens": None},
            ["DENY: no grant"],
        ),
        (
            {"error": {"type": "SQLError", "message": "syntax"}, "decision": None},
            ["error SQLError: syntax"],
        ),
    ],
    ids=["allow", "deny", "error"],
)
def test_summary_is_one_readable_line(overrides: dict[str, object], expected: list[str]) -> None:
    line = make_event(**overrides).chained(3, GENESIS_HASH).summary()
    assert "\n" not in line
    for part in expected:
        assert part in line


def test_verify_report_describes_ok_and_broken_chains() -> None:
    ok = VerifyReport(ok=True, events=3, source="a.jsonl")
    assert ok.describe() == "OK: 3 events, hash chain intact (a.jsonl)"
    broken = VerifyReport(
        ok=False, events=2, source="a.jsonl", line=3, event_id="abc", problem="altered"
    )
    assert broken.describe() == (
        "BROKEN at line 3 (event abc) of a.jsonl: altered [2 events verified before it]"
    )


def test_to_dict_names_every_field() -> None:
    from dataclasses import fields

    from crossroads.audit import AuditEvent

    event = AuditEvent(
        event_id="e", trace_id="t", span_id="s", parent_id=None, timestamp="now",
        principal={"id": "p", "groups": []}, kind="tool", name="n", stage="event",
    )  # fmt: skip
    assert set(event.to_dict()) == {f.name for f in fields(AuditEvent)}
