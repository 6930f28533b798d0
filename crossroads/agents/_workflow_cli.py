"""The workflow commands: run, resume and approve workflows from the command line.

::

    crossroads run FILE --as P [--example pharma | --policy P --db URL … | --app MOD:FUNC]
                         [--input K=V]... [--checkpoint PATH_OR_URL] [--audit PATH] [--out FILE]
    crossroads resume RUN_ID [--checkpoint …] [--out FILE]
    crossroads approve RUN_ID STEP --as P [--reject] [--note TEXT] [--checkpoint …]
    crossroads runs [--checkpoint …]

A run remembers its file, inputs, principal and how the app was built (the app options,
or ``--app module:function`` for an app built in Python, and ``--audit``), so ``resume``
and ``approve`` need only the run id. Exit codes: 0 done or waiting for an approval, 1
failed or rejected; errors 2, denials 3. :func:`register` adds the four commands to any
argparse subparsers object (``crossroads.cli`` adds them at the top level);
``python -m crossroads.agents._workflow_cli`` runs them standalone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crossroads.audit import AuditLog, resolve_audit
from crossroads.errors import ConfigError

__all__ = ["build_app", "main", "register"]

_CHECKPOINT_HELP = "SQLite file or postgresql:// URL holding the runs (default: %(default)s)"


def build_app(spec: Mapping[str, Any]) -> Any:
    """The app a run was started with, from its stored spec: the app options of
    :func:`crossroads._cli_app.app_spec` (``{"example": "pharma"}``, ``{"policy": …,
    "db": …}``) or ``{"factory": "module:function"}`` (called with ``audit=``), writing to
    ``spec["audit"]`` when it names a log."""
    audit = AuditLog(spec["audit"]) if spec.get("audit") else None
    factory = spec.get("factory")
    if factory:
        module_name, _, attr = str(factory).partition(":")
        if not attr:
            raise ConfigError(f"--app {factory!r} must be written module:function", key="app")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"--app {factory!r}: cannot import {module_name!r} ({exc}); check the "
                "module is on PYTHONPATH",
                key="app",
            ) from exc
        make = getattr(module, attr, None)
        if not callable(make):
            raise ConfigError(f"--app {factory!r}: {module_name} has no function {attr!r}")
        return make(audit=resolve_audit(audit))
    from crossroads._cli_app import app_from_spec

    options = {k: str(v) for k, v in spec.items() if k != "audit"}
    if not options:
        raise ConfigError("the run does not say which app runs it; start it again with --example")
    return app_from_spec(options, audit=audit)


def _inputs(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--input {pair!r} must be written NAME=VALUE", key="input")
        out[key.strip()] = value
    return out


def _report(state: Any, out: str | None) -> int:
    from crossroads.graphs import RunState

    assert isinstance(state, RunState)
    print(f"run {state.run_id}: {state.status}", file=sys.stderr)
    if state.status == "waiting":
        print(
            f"waiting on the approval {state.waiting_on!r}: {state.message}\n"
            f"  approve: crossroads approve {state.run_id} {state.waiting_on} --as ID\n"
            f"  reject:  crossroads approve {state.run_id} {state.waiting_on} --as ID "
            "--reject --note WHY",
            file=sys.stderr,
        )
        return 0
    if state.status == "failed":
        print(
            f"failed: {state.error}\n  retry: crossroads resume {state.run_id}",
            file=sys.stderr,
        )
        return 1
    if state.report is not None:
        if out:
            Path(out).write_text(state.report, encoding="utf-8")
            print(f"report written to {out}", file=sys.stderr)
        else:
            print(state.report)
    return 0 if state.status == "done" else 1


def _run(args: argparse.Namespace) -> int:
    from crossroads._cli_app import app_spec
    from crossroads.graphs import Workflow, WorkflowRunner

    workflow = Workflow.from_yaml(args.file)  # check the file before building anything
    spec: dict[str, Any] = {"factory": args.app} if args.app else dict(app_spec(args))
    if args.audit:
        spec["audit"] = str(Path(args.audit).resolve())
    app = build_app(spec)
    principal = app.catalog.principal(args.principal)
    with WorkflowRunner(app, checkpoint=args.checkpoint, app_spec=spec) as runner:
        state = runner.start(workflow, principal, _inputs(args.input))
    return _report(state, args.out)


def _runner_for(run_id: str, checkpoint: str) -> Any:
    from crossroads.graphs import WorkflowRunner
    from crossroads.graphs._workflow_store import RunStore

    store = RunStore.open(checkpoint)
    try:
        record = store.get(run_id)
        app = build_app(record.app)
    except BaseException:
        store.close()
        raise
    return record, WorkflowRunner(app, checkpoint=store)


def _resume(args: argparse.Namespace) -> int:
    record, runner = _runner_for(args.run_id, args.checkpoint)
    try:
        state = runner.resume(record.run_id)
    finally:
        runner.store.close()
    return _report(state, args.out)


def _approve(args: argparse.Namespace) -> int:
    record, runner = _runner_for(args.run_id, args.checkpoint)
    try:
        who = runner.app.catalog.principal(args.principal)
        state = runner.approve(
            record.run_id, args.step, who, approved=not args.reject, note=args.note
        )
    finally:
        runner.store.close()
    return _report(state, args.out)


def _runs(args: argparse.Namespace) -> int:
    from crossroads.graphs._workflow_store import RunStore

    with RunStore.open(args.checkpoint) as store:
        records = store.runs()
    if not records:
        print(f"no runs in {args.checkpoint}")
        return 0
    print(f"{'run':12}  {'status':8}  {'waiting on':14}  {'by':10}  {'updated':27}  workflow")
    for r in records:
        print(
            f"{r.run_id:12}  {r.status:8}  {r.waiting_on or '':14}  "
            f"{r.principal.get('id', '?'):10}  {r.updated_at:27}  {r.workflow}"
        )
    return 0


def register(subparsers: Any) -> None:
    """Add ``run``, ``resume``, ``approve`` and ``runs`` to an argparse subparsers object."""
    from crossroads._cli_app import add_app_arguments
    from crossroads.graphs._workflow_store import DEFAULT_CHECKPOINT

    run = subparsers.add_parser("run", help="start a workflow run")
    run.add_argument("file", help="workflow YAML file")
    add_app_arguments(run)
    run.add_argument(
        "--app", default=None, help="module:function that builds the app (instead of the options)"
    )
    run.add_argument(
        "--input", action="append", default=[], metavar="NAME=VALUE", help="a workflow input"
    )
    run.set_defaults(func=_run)

    resume = subparsers.add_parser("resume", help="continue a stopped or failed run")
    resume.add_argument("run_id", help="run id (a unique prefix is enough)")
    resume.set_defaults(func=_resume)

    approve = subparsers.add_parser("approve", help="approve or reject a waiting step")
    approve.add_argument("run_id", help="run id (a unique prefix is enough)")
    approve.add_argument("step", help="the approval step's id")
    approve.add_argument("--as", dest="principal", required=True, help="approver's principal id")
    approve.add_argument("--reject", action="store_true", help="reject: the run ends")
    approve.add_argument("--note", default="", help="why (goes into the audit and the report)")
    approve.set_defaults(func=_approve)

    runs = subparsers.add_parser("runs", help="list runs")
    runs.set_defaults(func=_runs)

    for parser in (run, resume, approve, runs):
        parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help=_CHECKPOINT_HELP)
    for parser in (run, resume, approve):
        parser.add_argument("--out", default=None, help="write the report to this file")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m crossroads.agents._workflow_cli …`` (the same commands, standalone)."""
    parser = argparse.ArgumentParser(prog="crossroads workflow")
    register(parser.add_subparsers(dest="workflow_command", required=True))
    from crossroads.cli import dispatch

    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
