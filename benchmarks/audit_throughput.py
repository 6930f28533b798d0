"""Audit throughput: events per second into each sink, and what auditing adds to a tool call.

Measured through the public API (``AuditLog.emit`` and ``ToolRunner.call``), so every
number includes redaction, hashing and serialisation, not just the write:

- JSONL, one ``flush`` per event (survives a crash of the process);
- JSONL, one ``fsync`` per event (survives power loss);
- JSONL with group commit and ``fsync``, from 1, 4 and 16 writer threads;
- the SQL sink on a SQLite file;
- the runner's overhead per call (three events: start, decision, end) with a memory,
  a JSONL ``flush`` and a JSONL ``fsync`` log, minus the bare cost of the tool itself.

Run ``python benchmarks/audit_throughput.py`` (``--quick`` for a tiny run, ``--events N``,
``--calls N``, ``--out PATH``, ``--results benchmarks/RESULTS.md`` to update the summary).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from _report import machine, update_results
from pydantic import BaseModel

from crossroads.audit import AuditLog, SQLSink
from crossroads.errors import PolicyViolation
from crossroads.policy import Catalog, Principal
from crossroads.tools import Permit, Tool, ToolRunner

HEADING = "## Audit throughput (benchmarks/audit_throughput.py)"
DEFAULT_OUT = Path("benchmarks/out/audit_throughput.json")
PRINCIPAL = Principal("bench", groups=["benchmarks"])
WARMUP_EVENTS = 20
WARMUP_CALLS = 50
GROUP_THREADS = (1, 4, 16)


class EchoArgs(BaseModel):
    """The trivial tool's one argument."""

    text: str


class Echo(Tool[EchoArgs, str]):
    """A tool that does (almost) nothing, so a call's cost is the runner's and the log's."""

    name: ClassVar[str] = "bench.echo"
    description: ClassVar[str] = "Return the text it was given (benchmark only)."
    Args: ClassVar[type[BaseModel]] = EchoArgs

    def authorize(self, args: EchoArgs, principal: Principal, catalog: Catalog) -> Permit:
        if not catalog.is_allowed(principal, "EXECUTE", "tool:bench.echo"):
            raise PolicyViolation(
                f"{principal.id} may not EXECUTE tool:bench.echo",
                principal=principal.id,
                securable="tool:bench.echo",
                rule="default deny",
                privilege="EXECUTE",
            )
        return Permit(args=args, reason="EXECUTE on tool:bench.echo to user:bench", rule="grant")

    def _execute(self, permitted: EchoArgs) -> str:
        return permitted.text

    def summarize(self, result: str) -> dict[str, Any]:
        return {"chars": len(result)}


# -- events per second -----------------------------------------------------------------


def _emit(log: AuditLog, i: int) -> None:
    log.emit(
        kind="tool",
        name="bench.emit",
        principal=PRINCIPAL,
        stage="event",
        input={"sql": "SELECT region, count(*) FROM adverse_events GROUP BY region", "i": i},
        result={"rows": 12},
        latency_ms=1.234,
    )


def _throughput(make_log: Callable[[], AuditLog], events: int, threads: int) -> dict[str, Any]:
    """Emit ``events`` events from ``threads`` threads (after a warm-up); events/s."""
    log = make_log()
    try:
        for i in range(WARMUP_EVENTS):
            _emit(log, -i)
        shares = [events // threads + (1 if t < events % threads else 0) for t in range(threads)]
        barrier = threading.Barrier(threads + 1)
        errors: list[BaseException] = []

        def work(share: int) -> None:
            try:
                barrier.wait()
                for i in range(share):
                    _emit(log, i)
            except BaseException as exc:  # reported after the run
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(share,)) for share in shares]
        for w in workers:
            w.start()
        barrier.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        seconds = time.perf_counter() - start
        if errors:
            raise errors[0]
        report = log.verify()
        if not report.ok or report.events != events + WARMUP_EVENTS:
            raise RuntimeError(f"benchmark log is not intact: {report.describe()}")
    finally:
        log.close()
    return {
        "events": events,
        "threads": threads,
        "seconds": seconds,
        "events_per_s": events / seconds,
    }


def _jsonl(path: Path, durability: str, group_commit: bool) -> Callable[[], AuditLog]:
    return lambda: AuditLog(path, durability=durability, group_commit=group_commit)  # type: ignore[arg-type]


def measure_throughput(tmp: Path, events: int) -> dict[str, dict[str, Any]]:
    """Every events-per-second measurement, by name."""
    runs: dict[str, tuple[Callable[[], AuditLog], int]] = {
        "jsonl_flush": (_jsonl(tmp / "flush.jsonl", "flush", group_commit=False), 1),
        "jsonl_fsync": (_jsonl(tmp / "fsync.jsonl", "fsync", group_commit=False), 1),
    }
    for threads in GROUP_THREADS:
        runs[f"jsonl_group_commit_fsync_{threads}_threads"] = (
            _jsonl(tmp / f"group{threads}.jsonl", "fsync", group_commit=True),
            threads,
        )
    runs["sql_sqlite_file"] = (lambda: AuditLog(SQLSink(f"sqlite:///{tmp / 'audit.db'}")), 1)
    return {name: _throughput(make, events, threads) for name, (make, threads) in runs.items()}


# -- runner overhead -------------------------------------------------------------------


def _percentile_50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def _time_calls(call: Callable[[], object], calls: int) -> list[float]:
    """Microseconds per call, one sample per call."""
    samples = []
    clock = time.perf_counter
    for _ in range(calls):
        start = clock()
        call()
        samples.append((clock() - start) * 1e6)
    return samples


def measure_runner(tmp: Path, calls: int) -> dict[str, dict[str, float]]:
    """Microseconds per ``ToolRunner.call`` by audit log, and over the bare tool."""
    catalog = Catalog()
    catalog.grant("EXECUTE", on="tool:bench.echo", to="user:bench")
    args = EchoArgs(text="hello")
    bare_tool = Echo()
    for _ in range(WARMUP_CALLS):
        bare_tool._execute(args)
    bare = _time_calls(lambda: bare_tool._execute(args), calls)
    bare_p50, bare_mean = _percentile_50(bare), statistics.fmean(bare)
    out: dict[str, dict[str, float]] = {"bare_execute": {"p50_us": bare_p50, "mean_us": bare_mean}}

    logs: dict[str, Callable[[], AuditLog]] = {
        "memory": AuditLog.memory,
        "jsonl_flush": lambda: AuditLog(tmp / "runner-flush.jsonl", durability="flush"),
        "jsonl_fsync": lambda: AuditLog(tmp / "runner-fsync.jsonl", durability="fsync"),
    }
    for name, make_log in logs.items():
        log = make_log()
        try:
            runner = ToolRunner(catalog, audit=log)
            runner.register(Echo())
            payload = {"text": "hello"}

            def call(runner: ToolRunner = runner, payload: dict[str, str] = payload) -> object:
                return runner.call("bench.echo", payload, principal=PRINCIPAL)

            for _ in range(WARMUP_CALLS):
                call()
            samples = _time_calls(call, calls)
            report = log.verify()
            if not report.ok or report.events != 3 * (calls + WARMUP_CALLS):
                raise RuntimeError(f"runner log is not intact: {report.describe()}")
        finally:
            log.close()
        p50, mean = _percentile_50(samples), statistics.fmean(samples)
        out[name] = {
            "calls": calls,
            "p50_call_us": p50,
            "mean_call_us": mean,
            "p50_us": p50 - bare_p50,
            "mean_us": mean - bare_mean,
        }
    return out


# -- report ----------------------------------------------------------------------------


def _label(name: str) -> str:
    labels = {
        "jsonl_flush": "JSONL, flush per event",
        "jsonl_fsync": "JSONL, fsync per event",
        "sql_sqlite_file": "SQL sink, SQLite file",
    }
    for threads in GROUP_THREADS:
        labels[f"jsonl_group_commit_fsync_{threads}_threads"] = (
            f"JSONL, group commit + fsync, {threads} thread{'s' if threads > 1 else ''}"
        )
    return labels.get(name, name)


def render(results: dict[str, Any]) -> str:
    """The two tables, as Markdown."""
    lines = [
        "| sink (through `AuditLog.emit`) | threads | events | events/s | µs/event |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results["throughput"].items():
        lines.append(
            f"| {_label(name)} | {r['threads']} | {r['events']} | "
            f"{r['events_per_s']:,.0f} | {1e6 / r['events_per_s']:,.1f} |"
        )
    runner = results["runner_overhead"]
    bare = runner["bare_execute"]
    lines += [
        "",
        "| audit log behind `ToolRunner.call` | p50 µs/call | mean µs/call "
        "| overhead p50 µs | overhead mean µs |",
        "|---|---:|---:|---:|---:|",
        f"| none (bare `tool._execute`) | {bare['p50_us']:,.2f} | {bare['mean_us']:,.2f} | – | – |",
    ]
    for name in ("memory", "jsonl_flush", "jsonl_fsync"):
        r = runner[name]
        lines.append(
            f"| {name.replace('_', ' ')} | {r['p50_call_us']:,.1f} | {r['mean_call_us']:,.1f} "
            f"| {r['p50_us']:,.1f} | {r['mean_us']:,.1f} |"
        )
    return "\n".join(lines)


def results_section(results: dict[str, Any]) -> str:
    """The RESULTS.md section: machine, tables, and how to reproduce."""
    m = results["machine"]
    cfg = results["config"]
    return "\n".join(
        [
            HEADING,
            "",
            f"{results['date'][:10]}, {m['cpu_count']} CPUs, {m['implementation']} {m['python']}, "
            f"{m['platform']}; {cfg['events']} events per sink, {cfg['calls']} runner calls, "
            "after a warm-up. Each event goes through `AuditLog.emit` (redaction, hashing, "
            "canonical JSON, write); each runner call writes three events (start, decision, "
            "end). Overhead is the call minus the bare `tool._execute`.",
            "",
            render(results),
            "",
            "Reproduce:",
            "",
            "```",
            results["command"],
            "```",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000, help="events per sink (2000)")
    parser.add_argument("--calls", type=int, default=2000, help="runner calls per log (2000)")
    parser.add_argument("--quick", action="store_true", help="a tiny run: 40 events, 60 calls")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON ({DEFAULT_OUT})")
    parser.add_argument("--results", type=Path, help="update this RESULTS.md section")
    parser.add_argument("--tmp", type=Path, help="where the logs go (a fresh temporary dir)")
    args = parser.parse_args(argv)
    events, calls = (40, 60) if args.quick else (args.events, args.calls)
    if events < max(GROUP_THREADS) or calls < 1:
        parser.error(f"--events must be at least {max(GROUP_THREADS)} and --calls at least 1")

    with tempfile.TemporaryDirectory(prefix="audit-bench-", dir=args.tmp) as tmp_dir:
        tmp = Path(tmp_dir)
        results: dict[str, Any] = {
            "benchmark": "audit_throughput",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python benchmarks/audit_throughput.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine(),
            "config": {"events": events, "calls": calls, "quick": args.quick},
            "throughput": measure_throughput(tmp, events),
            "runner_overhead": measure_runner(tmp, calls),
        }
    results["command"] = results["command"].strip()
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    if args.results is not None:
        update_results(args.results, HEADING, results_section(results))
        print(f"updated {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
