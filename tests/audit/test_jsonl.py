"""The JSONL sink: tamper detection, torn writes and crash recovery, concurrent writers.

Everything runs against real files in ``tmp_path``; the crash test SIGKILLs a real
writer process, the multi-process test runs four real writer processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import crossroads.audit
from crossroads.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditLog,
    JSONLSink,
    read_jsonl,
    repair_torn_tail,
    verify_jsonl,
)
from crossroads.audit._event import canonical_json
from crossroads.errors import AuditError, AuditIntegrityError, ConfigError
from crossroads.policy._principal import Principal

ALICE = Principal("alice", groups=["eu_sales"], attributes={"region": "EU"})
N = 10
REPO_ROOT = Path(crossroads.audit.__file__).resolve().parents[2]


def write_events(path: Path, n: int = N, **log_kwargs: object) -> list[AuditEvent]:
    """``n`` tool events written through an AuditLog; returns them as stored."""
    log_kwargs.setdefault("durability", "flush")
    with AuditLog(path, **log_kwargs) as log:  # type: ignore[arg-type]
        return [
            log.emit(kind="tool", name="sql.query", principal=ALICE, input={"i": i})
            for i in range(n)
        ]


def subprocess_env() -> dict[str, str]:
    """The environment for a child Python that must import this checkout of crossroads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_events(path)
    return path


# -- an intact chain --------------------------------------------------------------------


def test_an_intact_chain_verifies(log_path: Path) -> None:
    report = verify_jsonl(log_path)
    assert report.ok, report.describe()
    assert (report.events, report.line, report.problem, report.torn_tail) == (N, None, None, False)
    assert report.source == str(log_path)
    lines = log_path.read_bytes().splitlines()
    assert len(lines) == N
    events = [AuditEvent.from_dict(json.loads(line)) for line in lines]
    assert [e.seq for e in events] == list(range(1, N + 1))
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    # one canonical JSON object per line, exactly as hashed
    assert all(
        line.decode() == canonical_json(e.to_dict()) for line, e in zip(lines, events, strict=True)
    )


def test_reopening_continues_the_chain(log_path: Path) -> None:
    more = write_events(log_path, 3)
    assert [e.seq for e in more] == [N + 1, N + 2, N + 3]
    assert verify_jsonl(log_path).events == N + 3


def test_read_returns_every_event_oldest_first(log_path: Path) -> None:
    sink = JSONLSink(log_path)
    try:
        assert [e.input for e in sink.read()] == [{"i": i} for i in range(N)]
        assert sink.verify().ok
    finally:
        sink.close()


def test_an_empty_file_is_an_empty_chain(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.touch()
    assert verify_jsonl(path).ok
    assert verify_jsonl(path).events == 0
    (first,) = write_events(path, 1)
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)


def test_verifying_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="does not exist"):
        verify_jsonl(tmp_path / "nope.jsonl")


# -- tampering -------------------------------------------------------------------------

Lines = list[bytes]


def _event(lines: Lines, line: int) -> AuditEvent:
    return AuditEvent.from_dict(json.loads(lines[line - 1]))


def _dump(event: AuditEvent) -> bytes:
    return canonical_json(event.to_dict()).encode() + b"\n"


def _edit_field(lines: Lines) -> Lines:
    record = json.loads(lines[4])
    record["input"] = {"i": 999}
    lines[4] = canonical_json(record).encode() + b"\n"
    return lines


def _edit_prev_hash_of_first(lines: Lines) -> Lines:
    forged = dataclasses.replace(_event(lines, 1), input={"forged": True}).chained(1, "f" * 64)
    lines[0] = _dump(forged)
    return lines


def _delete_middle(lines: Lines) -> Lines:
    del lines[4]
    return lines


def _delete_first(lines: Lines) -> Lines:
    del lines[0]
    return lines


def _swap(lines: Lines) -> Lines:
    lines[4], lines[5] = lines[5], lines[4]
    return lines


def _forge(lines: Lines) -> bytes:
    """A forged event 5, correctly hashed and linked after event 4."""
    original = _event(lines, 5)
    forged = dataclasses.replace(original, event_id="f" * 32, input={"i": "forged"})
    return _dump(forged.chained(5, _event(lines, 4).hash))


def _insert_forged(lines: Lines) -> Lines:
    lines.insert(4, _forge(lines))
    return lines


def _replace_with_forged(lines: Lines) -> Lines:
    lines[4] = _forge(lines)
    return lines


def _not_json(lines: Lines) -> Lines:
    lines[4] = b"this is not json\n"
    return lines


def _not_an_object(lines: Lines) -> Lines:
    lines[4] = b"[1, 2, 3]\n"
    return lines


def _unknown_key(lines: Lines) -> Lines:
    record = json.loads(lines[4])
    record["smuggled"] = 1
    lines[4] = canonical_json(record).encode() + b"\n"
    return lines


# (tamper, first bad line, events verified before it, the problem's start)
TAMPERING: dict[str, tuple[Callable[[Lines], Lines], int, int, str]] = {
    "edit a field": (_edit_field, 5, 4, "the event's content does not match its hash"),
    "relink the first event": (_edit_prev_hash_of_first, 1, 0, "prev_hash does not match"),
    "delete a middle line": (_delete_middle, 5, 4, "sequence number 6 where 5 was expected"),
    "delete the first line": (_delete_first, 1, 0, "sequence number 2 where 1 was expected"),
    "swap two lines": (_swap, 5, 4, "sequence number 6 where 5 was expected"),
    # the forged line itself is consistent; the next, genuine event no longer fits
    "insert a forged line": (_insert_forged, 6, 5, "sequence number 5 where 6 was expected"),
    "replace with a forged line": (_replace_with_forged, 6, 5, "prev_hash does not match"),
    "replace with non-JSON": (_not_json, 5, 4, "the line is not valid JSON"),
    "replace with a JSON array": (_not_an_object, 5, 4, "the line is not a JSON object"),
    "add an unknown key": (_unknown_key, 5, 4, "the record is not an audit event"),
}


@pytest.mark.parametrize(
    ("tamper", "line", "verified", "problem"), list(TAMPERING.values()), ids=list(TAMPERING)
)
def test_tampering_is_reported_at_the_first_bad_line(
    log_path: Path,
    tamper: Callable[[Lines], Lines],
    line: int,
    verified: int,
    problem: str,
) -> None:
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(tamper(lines)))
    report = verify_jsonl(log_path)
    assert not report.ok
    assert (report.line, report.events, report.torn_tail) == (line, verified, False)
    assert report.problem is not None
    assert report.problem.startswith(problem), report.problem
    assert f"BROKEN at line {line}" in report.describe()


def test_truncation_at_a_line_boundary_needs_an_external_anchor(log_path: Path) -> None:
    """Cutting whole events off the end leaves a shorter chain that is itself intact:
    no event is left to point at the missing ones. Only an anchor kept elsewhere (the
    last hash, or the event count, recorded in another system) reveals it."""
    anchor = _event(log_path.read_bytes().splitlines(), N).hash
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(lines[:7]))

    report = verify_jsonl(log_path)
    assert report.ok
    assert report.events == 7  # compare with the anchor's count of N to see the loss
    sink = JSONLSink(log_path)
    try:
        assert [e.hash for e in sink.read()][-1] != anchor
        assert anchor not in log_path.read_text()
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("tamper", "match"),
    [(_edit_field, "does not match its hash"), (_not_json, "is not an audit event")],
    ids=["altered", "not json"],
)
def test_a_damaged_last_line_stops_the_log_from_opening(
    log_path: Path, tamper: Callable[[Lines], Lines], match: str
) -> None:
    lines = log_path.read_bytes().splitlines(keepends=True)
    last = tamper(lines[-6:])[4]  # the tamper functions work on the fifth line
    log_path.write_bytes(b"".join([*lines[:-1], last]))
    with pytest.raises(AuditIntegrityError, match=match) as info:
        AuditLog(log_path)
    assert "crossroads audit verify" in str(info.value)
    assert info.value.path == str(log_path)


# -- torn writes -----------------------------------------------------------------------


@pytest.fixture
def torn_path(log_path: Path) -> tuple[Path, bytes, bytes]:
    """The log plus half of one more event line, as a crash mid-write leaves it."""
    good = log_path.read_bytes()
    sink = JSONLSink(log_path)
    try:
        event = dataclasses.replace(next(sink.read()), event_id="c" * 32)
    finally:
        sink.close()
    line = _dump(event.chained(N + 1, "0" * 64))
    torn = line[: len(line) // 2]
    log_path.write_bytes(good + torn)
    return log_path, good, torn


def test_a_torn_tail_fails_closed_with_instructions(torn_path: tuple[Path, bytes, bytes]) -> None:
    path, _, torn = torn_path
    with pytest.raises(AuditIntegrityError) as info:
        AuditLog(path)
    message = str(info.value)
    assert f"{len(torn)} bytes after the last complete event" in message
    assert f"crossroads audit repair {path}" in message
    assert f"{path}.torn" in message
    assert "Nothing was merged or dropped" in message


def test_verify_reports_a_torn_tail_with_its_line(torn_path: tuple[Path, bytes, bytes]) -> None:
    path, _, torn = torn_path
    report = verify_jsonl(path)
    assert not report.ok
    assert (report.torn_tail, report.line, report.events) == (True, N + 1, N)
    assert report.problem == (
        f"incomplete last line ({len(torn)} bytes, no newline): a write was cut short by a crash"
    )


def test_read_skips_a_tail_torn_while_the_sink_was_open(log_path: Path) -> None:
    sink = JSONLSink(log_path)
    try:
        with open(log_path, "ab") as other:
            other.write(b'{"decision":null,"ev')
        assert len(list(sink.read())) == N
    finally:
        sink.close()


def test_recover_quarantines_the_torn_bytes_and_continues_the_chain(
    torn_path: tuple[Path, bytes, bytes],
) -> None:
    path, good, torn = torn_path
    with AuditLog.recover(path) as log:
        log.emit(kind="tool", name="after", principal=ALICE)

    quarantined = [json.loads(x) for x in Path(f"{path}.torn").read_text().splitlines()]
    assert quarantined == [
        {
            "source": str(path),
            "offset": len(good),
            "length": len(torn),
            "sha256": hashlib.sha256(torn).hexdigest(),
            "data": torn.decode(),
        }
    ]
    data = path.read_bytes()
    assert data.startswith(good)  # truncated to the last good line, nothing else touched
    recovered, after = (AuditEvent.from_dict(json.loads(x)) for x in data[len(good) :].splitlines())
    assert (recovered.kind, recovered.name, recovered.seq) == ("audit", "audit.recovered", N + 1)
    assert recovered.principal == {"id": "crossroads", "groups": []}
    assert recovered.result == {
        "torn_offset": len(good),
        "torn_bytes": len(torn),
        "quarantined_to": f"{path}.torn",
    }
    assert (after.name, after.seq, after.prev_hash) == ("after", N + 2, recovered.hash)
    report = verify_jsonl(path)
    assert report.ok, report.describe()
    assert report.events == N + 2


def test_recover_on_a_clean_log_changes_nothing(log_path: Path) -> None:
    before = log_path.read_bytes()
    with AuditLog.recover(log_path):
        pass
    assert log_path.read_bytes() == before
    assert not Path(f"{log_path}.torn").exists()
    assert repair_torn_tail(log_path) is None


def test_a_file_that_is_one_torn_line_restarts_from_genesis(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"decision":null,"ev')
    torn = repair_torn_tail(path)
    assert torn is not None
    assert (torn.offset, torn.data) == (0, b'{"decision":null,"ev')
    assert path.read_bytes() == b""
    (event,) = write_events(path, 1)
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)


def test_repeated_repairs_append_to_the_quarantine(torn_path: tuple[Path, bytes, bytes]) -> None:
    path, good, torn = torn_path
    assert repair_torn_tail(path) is not None
    path.write_bytes(good + b"{second")
    assert repair_torn_tail(path) is not None
    records = [json.loads(x) for x in Path(f"{path}.torn").read_text().splitlines()]
    assert [r["data"] for r in records] == [torn.decode(), "{second"]
    assert verify_jsonl(path).ok


def test_torn_tails_and_last_lines_larger_than_a_read_block(tmp_path: Path) -> None:
    """The tail is found by reading backwards in 64 KiB blocks; lines span blocks."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, durability="flush") as log:
        log.emit(kind="tool", name="big", principal=ALICE, result={"blob": "x" * 300_000})
    with AuditLog(path, durability="flush") as log:  # a 300 KB last line reads back
        big = log.emit(kind="tool", name="big", principal=ALICE, result={"blob": "y" * 200_000})
    assert big.seq == 2
    good = path.read_bytes()
    path.write_bytes(good + _dump(big)[:150_000])
    with pytest.raises(AuditIntegrityError, match="150000 bytes"):
        JSONLSink(path)
    torn = repair_torn_tail(path)
    assert torn is not None
    assert (torn.offset, len(torn.data)) == (len(good), 150_000)
    assert verify_jsonl(path).events == 2


def test_an_open_writer_refuses_to_append_after_another_writer_tore_the_log(
    log_path: Path,
) -> None:
    """The torn bytes of a crashed process must never be glued to the next event."""
    sink = JSONLSink(log_path, durability="flush")
    try:
        with open(log_path, "ab") as other:
            other.write(b'{"decision":null,"event_id":"crashed-mid-wr')
        before = log_path.read_bytes()
        with pytest.raises(AuditIntegrityError, match="incomplete line"):
            sink.append([_event(before.splitlines(), 1)])
        assert log_path.read_bytes() == before
    finally:
        sink.close()


CRASH_WRITER = textwrap.dedent(
    """
    import dataclasses, sys, uuid
    from crossroads.audit import AuditEvent, JSONLSink

    path, megabytes = sys.argv[1], int(sys.argv[2])
    sink = JSONLSink(path, durability="flush", group_commit=False)
    template = AuditEvent(
        event_id="0" * 32, trace_id="1" * 32, span_id="2" * 32, parent_id=None,
        timestamp="2026-11-24T06:04:31.123456Z", principal={"id": "crash", "groups": []},
        kind="tool", name="crash.loop", stage="event",
    )
    big = dataclasses.replace(template, result={"blob": "x" * (megabytes << 20)})
    small = dataclasses.replace(template, result={"rows": 1})
    sink.append([dataclasses.replace(small, event_id=uuid.uuid4().hex)])
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        event = big if i % 2 else small
        sink.append([dataclasses.replace(event, event_id=uuid.uuid4().hex)])
    """
)


def _crash_once(path: Path) -> bool:
    """Run a writer, SIGKILL it (mid-write if we catch one), check the invariant.

    Returns True when the kill left a torn tail (which is then recovered)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_WRITER, str(path), "8"],
        stdout=subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        fd = os.open(path, os.O_RDONLY)
        try:
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:  # kill when the last byte is mid-line
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    break
        finally:
            os.close(fd)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    report = verify_jsonl(path)
    if report.ok:
        AuditLog(path).close()  # opens without complaint
        return False
    # the only acceptable damage: an incomplete last line after intact events
    assert report.torn_tail, report.describe()
    assert report.line == report.events + 1
    with pytest.raises(AuditIntegrityError, match="incomplete line"):
        AuditLog(path)
    complete = path.read_bytes().rsplit(b"\n", 1)[0] + b"\n"
    with AuditLog.recover(path) as log:
        log.emit(kind="tool", name="after.crash", principal=ALICE)
    after = verify_jsonl(path)
    assert after.ok, after.describe()
    assert after.events == report.events + 2
    assert path.read_bytes().startswith(complete)
    quarantined = json.loads(Path(f"{path}.torn").read_text())
    assert quarantined["data"].startswith('{"decision":null,"error":null,"event_id":"')
    assert quarantined["offset"] == len(complete)
    return True


def test_a_real_crash_leaves_an_intact_chain_or_a_recoverable_torn_tail(
    tmp_path: Path,
) -> None:
    torn = False
    for attempt in range(3):  # every run checks the invariant; retry only to catch a write
        torn = _crash_once(tmp_path / f"crash{attempt}.jsonl")
        if torn:
            break
    # 8 MB writes take milliseconds, and the parent kills as soon as it sees one under
    # way, so a kill mid-write (and its recovery) is exercised, not merely allowed
    assert torn, "three SIGKILLs never landed mid-write"


# -- concurrency -----------------------------------------------------------------------


@pytest.mark.parametrize("group_commit", [True, False], ids=["group-commit", "one-by-one"])
def test_threads_share_one_linear_chain(tmp_path: Path, group_commit: bool) -> None:
    threads, per_thread = 8, 200
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, group_commit=group_commit)  # durability="fsync", the default
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []
    returned: dict[int, list[AuditEvent]] = {t: [] for t in range(threads)}

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                event = log.emit(kind="tool", name="t", principal=ALICE, input={"t": t, "i": i})
                returned[t].append(event)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log.close()
    assert errors == []

    report = verify_jsonl(path)
    assert report.ok, report.describe()
    assert report.events == threads * per_thread
    events = list(read_jsonl(path))
    assert [e.seq for e in events] == list(range(1, threads * per_thread + 1))
    seen = sorted((e.input["t"], e.input["i"]) for e in events if e.input)
    assert seen == [(t, i) for t in range(threads) for i in range(per_thread)]
    # each caller got back its own event, exactly as stored (a shared write hands the
    # chained events back to the right waiters)
    by_seq = {e.seq: e for e in events}
    for t, mine in returned.items():
        assert [e.input for e in mine] == [{"t": t, "i": i} for i in range(per_thread)]
        assert all(by_seq[e.seq] == e for e in mine)


PROCESS_WRITER = textwrap.dedent(
    """
    import sys
    from crossroads.audit import AuditLog
    from crossroads.policy._principal import Principal

    path, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    who = Principal(f"worker{worker}")
    with AuditLog(path) as log:
        sys.stdin.readline()  # start together
        for i in range(count):
            log.emit(kind="tool", name="p", principal=who, input={"i": i})
    """
)


def test_processes_share_one_linear_chain(tmp_path: Path) -> None:
    processes, per_process = 4, 100
    path = tmp_path / "audit.jsonl"
    write_events(path, 1)  # an existing log: every writer must continue its chain
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_WRITER, str(path), str(w), str(per_process)],
            stdin=subprocess.PIPE,
            env=subprocess_env(),
        )
        for w in range(processes)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        p.stdin.close()
    assert [p.wait(timeout=60) for p in procs] == [0] * processes

    report = verify_jsonl(path)
    assert report.ok, report.describe()
    assert report.events == 1 + processes * per_process
    events = list(read_jsonl(path))
    for w in range(processes):
        mine = [e.input["i"] for e in events if e.principal["id"] == f"worker{w}" and e.input]
        assert mine == list(range(per_process))  # each writer's events, in its order


# -- durability ------------------------------------------------------------------------


@pytest.mark.parametrize("durability", ["fsync", "flush"])
@pytest.mark.parametrize("group_commit", [True, False], ids=["group-commit", "one-by-one"])
def test_every_durability_mode_writes_a_verifiable_log(
    tmp_path: Path, durability: str, group_commit: bool
) -> None:
    path = tmp_path / "audit.jsonl"
    write_events(path, 5, durability=durability, group_commit=group_commit)
    write_events(path, 5, durability=durability, group_commit=group_commit)
    report = verify_jsonl(path)
    assert report.ok, report.describe()
    assert report.events == 10


@pytest.mark.parametrize("durability", ["sync", "FSYNC", "", None])
def test_an_unknown_durability_is_a_config_error(tmp_path: Path, durability: object) -> None:
    with pytest.raises(ConfigError, match="durability must be 'fsync' or 'flush'"):
        JSONLSink(tmp_path / "a.jsonl", durability=durability)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="durability"):
        AuditLog(tmp_path / "b.jsonl", durability=durability)  # type: ignore[arg-type]
    assert not (tmp_path / "a.jsonl").exists()


def test_bytes_outside_the_hashed_content_break_the_chain(tmp_path: Path) -> None:
    """A duplicate key parses to the same dict, so only a byte comparison sees it."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, durability="flush")
    log.emit(kind="tool", name="t", principal=Principal("alice"))
    log.emit(kind="tool", name="t", principal=Principal("alice"))
    log.close()
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("{", '{"principal":{"id":"mallory"},', 1)
    path.write_text("".join(lines))
    report = verify_jsonl(path)
    assert not report.ok
    assert report.line == 2
    assert "canonical" in (report.problem or "")
    with pytest.raises(AuditIntegrityError, match=":2:"):
        list(read_jsonl(path))
    skipped: list[int] = []
    assert len(list(read_jsonl(path, on_problem=lambda n, _: skipped.append(n)))) == 1
    assert skipped == [2]
