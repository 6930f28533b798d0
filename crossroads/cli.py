"""The ``crossroads`` command line.

::

    crossroads demo [--sql] [--dir DIR]              a guided tour: one question per route, then
                                                     one question as two principals (--sql: the
                                                     governed-SQL tour)
    crossroads ask QUESTION --as ID [--json]         answer a question (default: --example pharma)
    crossroads route QUESTION --as ID [--json]       which route, and why (nothing is run)
    crossroads chat --as ID                          a multi-turn conversation
    crossroads run FILE --as ID                      run a YAML workflow (resumable, with approvals)
    crossroads resume RUN                            continue a stopped or interrupted run
    crossroads approve RUN STEP [--reject]           decide an approval step
    crossroads runs                                  list workflow runs
    crossroads sql --policy P --db URL --as ID SQL   run one statement as a principal
    crossroads policy check POLICY.yaml              validate a policy file
    crossroads audit verify PATH                     exit 0 when the hash chain is intact, 1 if not
    crossroads audit tail PATH [-n N]                the last events, one line each
    crossroads audit show PATH TRACE_ID              one request as a tree of calls
    crossroads audit repair PATH                     quarantine a torn last line, continue the chain

``PATH`` is a JSONL file, or a database URL (``--table`` names the audit table).
Errors print a message on stderr and exit 2; a denial exits 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any

from crossroads.audit import (
    AuditEvent,
    AuditLog,
    SQLSink,
    VerifyReport,
    iter_tree,
    read_jsonl,
    verify_jsonl,
)
from crossroads.errors import CrossroadsError, PolicyViolation

__all__ = ["main"]


def _read(path: str, table: str) -> tuple[list[AuditEvent], int]:
    """The events, and how many damaged lines were skipped (each reported on stderr)."""
    if "://" in path:
        sink = SQLSink(path, table=table)
        try:
            return list(sink.read()), 0
        finally:
            sink.close()
    problems: list[int] = []

    def report(line: int, problem: str) -> None:
        problems.append(line)
        print(f"warning: {path}:{line}: {problem} (skipped)", file=sys.stderr)

    events = list(read_jsonl(path, on_problem=report))
    if problems:
        print(
            f"warning: {len(problems)} damaged line(s); run `crossroads audit verify {path}`",
            file=sys.stderr,
        )
    return events, len(problems)


def _verify(path: str, table: str, anchor: str | None) -> VerifyReport:
    if "://" in path:
        sink = SQLSink(path, table=table)
        try:
            return sink.verify(anchor=anchor)
        finally:
            sink.close()
    return verify_jsonl(path, anchor=anchor)


def _audit_verify(args: argparse.Namespace) -> int:
    report = _verify(args.path, args.table, args.anchor)
    print(report.describe())
    if report.torn_tail:
        print(f"run `crossroads audit repair {args.path}` to quarantine the torn bytes")
    return 0 if report.ok else 1


def _audit_tail(args: argparse.Namespace) -> int:
    events, damaged = _read(args.path, args.table)
    for event in deque(events, maxlen=args.n):
        print(json.dumps(event.to_dict()) if args.json else event.summary())
    return 1 if damaged else 0


def _describe(event: AuditEvent) -> str:
    bits: list[str] = [event.stage]
    if event.decision is not None:
        bits.append(("ALLOW " if event.decision.allowed else "DENY ") + event.decision.reason)
    if event.error is not None:
        bits.append(f"{event.error.get('type')}: {event.error.get('message')}")
    if event.result:
        bits.append(json.dumps(event.result, default=str))
    if event.tokens:
        bits.append(f"tokens {event.tokens.get('total', 0)}")
    if event.latency_ms is not None and event.stage in ("end", "error"):
        bits.append(f"{event.latency_ms:.1f} ms")
    return "  ".join(bits)


def _audit_show(args: argparse.Namespace) -> int:
    everything, damaged = _read(args.path, args.table)
    events = [e for e in everything if e.trace_id.startswith(args.trace_id)]
    if not events:
        print(f"no events with trace id {args.trace_id!r} in {args.path}", file=sys.stderr)
        return 1
    first = events[0]
    print(f"trace {first.trace_id}  principal {first.principal.get('id')}  {first.timestamp}")
    for depth, span in iter_tree(events):
        pad = "  " * depth
        head = span[0]
        print(f"{pad}└ {head.kind} {head.name}")
        for event in span:
            print(f"{pad}    #{event.seq} {_describe(event)}")
            if event.policy and "sql_after" in event.policy:
                print(f"{pad}      sql before: {event.policy.get('sql_before')}")
                print(f"{pad}      sql after:  {event.policy.get('sql_after')}")
    return 1 if damaged else 0


def _audit_repair(args: argparse.Namespace) -> int:
    log = AuditLog.recover(args.path)  # quarantines, then records an audit.recovered event
    torn = log.recovered
    log.close()
    if torn is None:
        print(f"{args.path}: no torn last line; nothing to repair")
        return 0
    print(
        f"{args.path}: moved {len(torn.data)} torn bytes (from offset {torn.offset}) to "
        f"{args.path}.torn; the chain continues"
    )
    return 0


def _policy_check(args: argparse.Namespace) -> int:
    from crossroads.policy import Catalog

    catalog = Catalog.from_yaml(args.path)
    print(
        f"{args.path}: OK — {len(catalog.principals)} principals, {len(catalog.grants)} grants, "
        f"{len(catalog.row_filters)} row filters, {len(catalog.column_masks)} column masks"
    )
    return 0


def _print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 20) -> None:
    shown = [[("NULL" if v is None else str(v)) for v in row] for row in rows[:limit]]
    widths = [len(c) for c in columns]
    for row in shown:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=False)]
    print("  " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)))
    print("  " + "-+-".join("-" * w for w in widths))
    for row in shown:
        print("  " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)))
    if len(rows) > limit:
        print(f"  … {len(rows) - limit} more rows")


def _sql(args: argparse.Namespace) -> int:
    from crossroads.connectors import SQLDatabase
    from crossroads.policy import Catalog
    from crossroads.tools.sql import GovernedSQL

    catalog = Catalog.from_yaml(args.policy)
    principal = catalog.principal(args.principal)
    audit = AuditLog(args.audit) if args.audit else None
    with SQLDatabase(args.db) as db:
        tool = GovernedSQL(db, catalog, audit=audit, max_rows=args.max_rows)
        if args.explain:
            print(tool.govern(args.sql, principal).sql)
            return 0
        result = tool.run(args.sql, principal)
    print(f"ran: {result.sql}")
    _print_table(result.columns, result.rows)
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.sql:
        from crossroads._demo import run_demo

        return run_demo(args.dir)
    from crossroads._tour import run_tour

    return run_tour(args.dir)


def print_answer(answer: Any) -> None:
    """An answer for people: the text, then how it was reached."""
    print(answer.text)
    print()
    decision = answer.decision
    if decision is not None:
        print(f"route: {decision.explain()}")
    for fallback in answer.fallbacks:
        print(f"fell back from {fallback.route}: {fallback.reason}")
    if answer.route != (decision.route if decision else answer.route):
        print(f"answered by: {answer.route}")
    for note in answer.governance:
        print(f"governance: {note}")
    for source in answer.sources[:10]:
        print(f"source: {source}")
    print(f"trace: {answer.trace_id}")


def _ask(args: argparse.Namespace) -> int:
    from crossroads._cli_app import app_from_args

    app = app_from_args(args)
    answer = app.ask(args.question, principal=app.principal(args.principal))
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, default=str))
    else:
        print_answer(answer)
    return 0 if answer.answered else 1


def _route(args: argparse.Namespace) -> int:
    from crossroads._cli_app import app_from_args
    from crossroads.agents._types import decision_dict

    app = app_from_args(args)
    decision = app.route(args.question, principal=app.principal(args.principal))
    if args.json:
        print(json.dumps(decision_dict(decision), indent=2, default=str))
        return 0
    print(decision.explain())
    print("scores: " + ", ".join(f"{r} {p:.2f}" for r, p in decision.scores.items()))
    for part in decision.parts:
        print(f"  part: {part.question} → {part.explain()}")
    unavailable = decision.signals.get("unavailable")
    if unavailable:
        for route, why in unavailable.items():
            print(f"not available: {route} ({why})")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crossroads", description="Governed enterprise question answering."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="a guided tour: every route, then governance")
    demo.add_argument("--dir", default=None, help="where to write the demo files (default: temp)")
    demo.add_argument(
        "--sql", action="store_true", help="the governed-SQL tour (row filters, masks, denials)"
    )
    demo.set_defaults(func=_demo)

    from crossroads._cli_app import add_app_arguments

    for name, func, helptext in (
        ("ask", _ask, "answer a question as a principal"),
        ("route", _route, "which route a question takes, and why (nothing is run)"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("question")
        add_app_arguments(cmd)
        cmd.add_argument("--json", action="store_true", help="print JSON")
        cmd.set_defaults(func=func)

    sql = sub.add_parser("sql", help="run one SQL statement as a principal")
    sql.add_argument("sql", help="the statement")
    sql.add_argument("--policy", required=True, help="policy YAML file")
    sql.add_argument("--db", required=True, help="SQLAlchemy URL of the database")
    sql.add_argument("--as", dest="principal", required=True, help="principal id from the policy")
    sql.add_argument("--audit", default=None, help="audit log path (default: the process default)")
    sql.add_argument("--max-rows", type=int, default=1000)
    sql.add_argument("--explain", action="store_true", help="print the governed SQL, do not run")
    sql.set_defaults(func=_sql)

    from crossroads.agents._chat_cli import register as register_chat
    from crossroads.agents._workflow_cli import register as register_workflows

    register_chat(sub)
    register_workflows(sub)

    policy = sub.add_parser("policy", help="policy files")
    psub = policy.add_subparsers(dest="policy_command", required=True)
    check = psub.add_parser("check", help="validate a policy file")
    check.add_argument("path")
    check.set_defaults(func=_policy_check)

    audit = sub.add_parser("audit", help="read and verify audit logs")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    for name, func, helptext in (
        (
            "verify",
            _audit_verify,
            "exit 0 when the hash chain is intact, 1 and the first bad event",
        ),
        ("tail", _audit_tail, "the last events"),
        ("show", _audit_show, "one request (trace) as a tree"),
        ("repair", _audit_repair, "quarantine a torn last line and continue the chain"),
    ):
        cmd = asub.add_parser(name, help=helptext)
        cmd.add_argument("path", help="JSONL file or database URL")
        if name == "show":
            cmd.add_argument("trace_id", help="trace id (a unique prefix is enough)")
        if name == "verify":
            cmd.add_argument(
                "--anchor",
                default=None,
                help="a hash printed by an earlier verify; fails if that event is gone",
            )
        if name == "tail":
            cmd.add_argument("-n", type=int, default=20, help="how many events")
            cmd.add_argument("--json", action="store_true", help="print raw JSON events")
        cmd.add_argument("--table", default="crossroads_audit", help="audit table (URLs only)")
        cmd.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crossroads`` console script; returns the exit code."""
    return dispatch(_parser().parse_args(argv))


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command: a denial exits 3, any other crossroads error 2, each
    with one line on stderr."""
    try:
        code: int = args.func(args)
    except PolicyViolation as exc:
        print(f"DENIED: {exc}", file=sys.stderr)
        return 3
    except CrossroadsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
