"""The default sink: an append-only, hash-chained JSON Lines file.

Each event is one line of canonical JSON, written with a single ``write`` on a file
opened ``O_APPEND`` and (by default) ``fsync``-ed before ``append`` returns, under an
exclusive ``flock`` so several processes can share one log. Concurrent writers in one
process share a write and an fsync (group commit).

A crash mid-write leaves an incomplete last line. Opening such a file raises
:class:`~crossroads.errors.AuditIntegrityError` (fail closed: no tool runs unaudited);
:func:`repair_torn_tail` moves the torn bytes to ``PATH.torn`` so the chain can go on.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crossroads.audit._event import GENESIS_HASH, AuditEvent, VerifyReport, canonical_json
from crossroads.audit._sinks import check_chain
from crossroads.errors import AuditError, AuditIntegrityError

__all__ = [
    "Durability",
    "JSONLSink",
    "TornTail",
    "read_jsonl",
    "repair_torn_tail",
    "verify_jsonl",
]

Durability = Literal["fsync", "flush"]
"""``fsync``: on disk before the caller sees its result (survives power loss).
``flush``: handed to the operating system (survives a crash of the process)."""

_BLOCK = 64 * 1024


@dataclass(frozen=True, slots=True)
class TornTail:
    """Bytes after the last newline of a log: a write cut short by a crash."""

    offset: int
    """Where the torn bytes start (the end of the last complete line)."""
    data: bytes
    """The torn bytes themselves."""


def _find_tail(fd: int, size: int) -> tuple[bytes, TornTail | None]:
    """The last complete line of the file (without its newline) and any torn bytes."""
    if size == 0:
        return b"", None
    buf = b""
    pos = size
    # Walk back until the buffer holds the final newline-terminated line in full.
    while True:
        step = min(_BLOCK, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        last_nl = buf.rfind(b"\n")
        complete_end = pos + last_nl + 1 if last_nl >= 0 else None
        if complete_end is not None:
            prev_nl = buf.rfind(b"\n", 0, last_nl)
            if prev_nl >= 0 or pos == 0:
                line = buf[prev_nl + 1 : last_nl]
                torn = None
                if complete_end < size:
                    torn = TornTail(offset=complete_end, data=buf[last_nl + 1 :])
                return line, torn
        if pos == 0:
            # no newline at all: the whole file is one torn line
            return b"", TornTail(offset=0, data=buf)


def _torn_message(path: Path, torn: TornTail) -> str:
    return (
        f"audit log {path} ends with an incomplete line ({len(torn.data)} bytes after the "
        "last complete event): the process writing it stopped mid-write. Nothing was merged "
        "or dropped. Check the rest with `crossroads audit verify "
        f"{path}`, then run `crossroads audit repair {path}` to move the torn bytes to "
        f"{path}.torn and continue the chain."
    )


class JSONLSink:
    """Append-only JSON Lines file, hash-chained, durable before ``append`` returns."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Durability = "fsync",
        group_commit: bool = True,
    ) -> None:
        if durability not in ("fsync", "flush"):
            from crossroads.errors import ConfigError

            raise ConfigError(f"durability must be 'fsync' or 'flush', got {durability!r}")
        self._path = Path(path)
        self._durability = durability
        self._group_commit = group_commit
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._rfd = os.open(self._path, os.O_RDONLY)
        except OSError as exc:
            self.close()
            raise AuditError(
                f"cannot open audit log {self._path} for appending: {exc.strerror}. "
                "Choose a writable path (audit=AuditLog(PATH) or CROSSROADS_AUDIT_PATH)."
            ) from exc
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leader = False
        self._broken: str | None = None
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        try:
            self._seq, self._hash, self._end = self._load_tail()
        except BaseException:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self.close()
            raise
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    @property
    def source(self) -> str:
        """The file path."""
        return str(self._path)

    @property
    def path(self) -> Path:
        """The file path."""
        return self._path

    def _load_tail(self) -> tuple[int, str, int]:
        size = os.fstat(self._rfd).st_size
        line, torn = _find_tail(self._rfd, size)
        if torn is not None:
            raise AuditIntegrityError(
                _torn_message(self._path, torn), path=str(self._path), line=None
            )
        if not line:
            return 0, GENESIS_HASH, size
        try:
            last = AuditEvent.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise AuditIntegrityError(
                f"the last line of audit log {self._path} is not an audit event ({exc}); "
                f"run `crossroads audit verify {self._path}` to find where the damage starts",
                path=str(self._path),
            ) from exc
        if last.compute_hash() != last.hash:
            raise AuditIntegrityError(
                f"the last event of audit log {self._path} (seq {last.seq}) does not match its "
                f"hash: the file was altered. Run `crossroads audit verify {self._path}`.",
                path=str(self._path),
                event_id=last.event_id,
            )
        return last.seq, last.hash, size

    def _write(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Chain and write one batch; caller guarantees a single writer in this process."""
        if self._broken is not None:
            raise AuditError(self._broken)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size != self._end:
                # another process appended since our last write: continue its chain
                self._seq, self._hash, self._end = self._load_tail()
            seq, prev = self._seq, self._hash
            chained: list[AuditEvent] = []
            for event in events:
                seq += 1
                linked = event.chained(seq, prev)
                prev = linked.hash
                chained.append(linked)
            data = "".join(canonical_json(e.to_dict()) + "\n" for e in chained).encode("utf-8")
            try:
                written = os.write(self._fd, data)
                while written < len(data):
                    written += os.write(self._fd, data[written:])
                if self._durability == "fsync":
                    os.fsync(self._fd)
            except OSError as exc:
                self._broken = (
                    f"writing audit log {self._path} failed ({exc.strerror}); the log may end "
                    "with a torn line. No further events are accepted by this process: free "
                    f"the disk, then run `crossroads audit repair {self._path}`."
                )
                raise AuditError(self._broken) from exc
            self._seq, self._hash = seq, prev
            self._end += len(data)
            return chained
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def append(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Chain ``events`` after the last one in the file, write and sync them, return them."""
        if not events:
            return []
        if not self._group_commit:
            with self._write_lock:
                return self._write(events)
        mine = _Pending(list(events))
        with self._cond:
            self._queue.append(mine)
            while self._leader and not mine.done:
                self._cond.wait()
            if mine.done:
                return mine.result()
            self._leader = True
        try:
            self._lead()
        finally:
            with self._cond:
                self._leader = False
                self._cond.notify_all()
        return mine.result()

    def _lead(self) -> None:
        """Write every queued batch together until the queue is empty (group commit)."""
        while True:
            with self._cond:
                batch, self._queue = self._queue, []
            if not batch:
                return
            try:
                chained = self._write([e for p in batch for e in p.events])
            except BaseException as exc:
                for p in batch:
                    p.error = exc
            else:
                at = 0
                for p in batch:
                    p.chained = chained[at : at + len(p.events)]
                    at += len(p.events)
            with self._cond:
                for p in batch:
                    p.done = True
                self._cond.notify_all()

    def read(self) -> Iterator[AuditEvent]:
        """Every complete event in the file, oldest first (a torn last line is skipped)."""
        return read_jsonl(self._path)

    def verify(self, *, anchor: str | None = None) -> VerifyReport:
        """Check the whole file; see :func:`verify_jsonl`."""
        return verify_jsonl(self._path, anchor=anchor)

    def close(self) -> None:
        """Close the file descriptors."""
        for name in ("_fd", "_rfd"):
            fd = getattr(self, name, None)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)


@dataclass(slots=True)
class _Pending:
    events: list[AuditEvent]
    done: bool = False
    chained: list[AuditEvent] = field(default_factory=list)
    error: BaseException | None = None

    def result(self) -> list[AuditEvent]:
        if self.error is not None:
            raise self.error
        return self.chained


def _records(path: Path) -> Iterator[tuple[int, dict[str, object] | str]]:
    """``(line number, event dict)`` per line, or ``(line, problem)`` for an unreadable line."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                yield (
                    number,
                    (
                        f"incomplete last line ({len(raw)} bytes, no newline): "
                        "a write was cut short by a crash"
                    ),
                )
                return
            try:
                record = json.loads(raw)
            except ValueError as exc:
                yield number, f"the line is not valid JSON ({exc})"
                continue
            if not isinstance(record, dict):
                yield number, "the line is not a JSON object"
                continue
            if raw != canonical_json(record).encode("utf-8") + b"\n":
                # the hash covers the parsed content; the bytes must be exactly what was
                # written, or a duplicate key or reformatting could hide text in the line
                yield number, "the line's bytes differ from the event's canonical JSON"
                continue
            yield number, record


def read_jsonl(
    path: str | os.PathLike[str],
    *,
    on_problem: Callable[[int, str], None] | None = None,
) -> Iterator[AuditEvent]:
    """Every readable event of a JSONL log, oldest first, without opening it for writing
    (so a log with a torn tail can still be read).

    An unreadable line is passed to ``on_problem(line, problem)`` and skipped; without
    ``on_problem`` it raises :class:`AuditIntegrityError`, except for an incomplete last
    line (a write still in progress, or cut short by a crash), which ends the reading.
    """
    p = Path(path)
    if not p.exists():
        raise AuditError(f"audit log {p} does not exist; check the path")
    for number, record in _records(p):
        if isinstance(record, str):
            if on_problem is None and record.startswith("incomplete last line"):
                return  # a write in progress (or cut by a crash): verify reports it
            if on_problem is None:
                raise AuditIntegrityError(
                    f"{p}:{number}: {record}; run `crossroads audit verify {p}`",
                    path=str(p),
                    line=number,
                )
            on_problem(number, record)
            continue
        yield AuditEvent.from_dict(record)


def verify_jsonl(path: str | os.PathLike[str], *, anchor: str | None = None) -> VerifyReport:
    """Verify a JSONL audit log: every hash, every link, no torn last line, and (with
    ``anchor``) that the event carrying that hash is still there."""
    p = Path(path)
    if not p.exists():
        raise AuditError(f"audit log {p} does not exist; check the path")
    report = check_chain(_records(p), source=str(p), anchor=anchor)
    if not report.ok and report.problem and report.problem.startswith("incomplete last line"):
        return VerifyReport(
            ok=False,
            events=report.events,
            source=report.source,
            line=report.line,
            problem=report.problem,
            torn_tail=True,
        )
    return report


def repair_torn_tail(path: str | os.PathLike[str]) -> TornTail | None:
    """Move the torn bytes at the end of a log to ``PATH.torn``; None when there are none.

    The bytes are appended (with their offset and SHA-256) to the quarantine file and
    synced before the log is truncated, so nothing is lost and nothing is merged.
    """
    p = Path(path)
    fd = os.open(p, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        _, torn = _find_tail(fd, size)
        if torn is None:
            return None
        record = {
            "source": str(p),
            "offset": torn.offset,
            "length": len(torn.data),
            "sha256": hashlib.sha256(torn.data).hexdigest(),
            "data": torn.data.decode("utf-8", errors="backslashreplace"),
        }
        quarantine = p.with_name(p.name + ".torn")
        with open(quarantine, "a", encoding="utf-8") as q:
            q.write(json.dumps(record, ensure_ascii=False) + "\n")
            q.flush()
            os.fsync(q.fileno())
        os.ftruncate(fd, torn.offset)
        os.fsync(fd)
        return torn
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
