"""The workflow commands: run, resume and approve workflows from the command line.

::

    crossroads run FILE --as P [--example pharma | --policy P --db URL … | --app MOD:FUNC]
                         [--input K=V]... [--checkpoint PATH_OR_URL] [--audit PATH] [--out FILE]
    crossroads resume RUN_ID [--app MOD:FUNC] [--checkpoint …] [--out FILE]
    crossroads approve RUN_ID STEP --as P [--app MOD:FUNC] [--reject] [--note TEXT] […]
    crossroads runs [--checkpoint …]

A run remembers its file, inputs, principal and how the app was built (the app options
with the SHA-256 of each file they name, and ``--audit``), so ``resume`` and ``approve``
need only the run id — unless the app was built in Python: the run store never names code
to import, so ``--app module:function`` must be given again. A changed policy, SQLite
database, graph or docs file is refused, like a changed workflow file. Exit codes: 0 done
or waiting for an approval, 1 failed or rejected; errors 2, denials 3. :func:`register`
adds the four commands to any argparse subparsers object (``crossroads.cli`` adds them at
the top level); ``python -m crossroads.agents._workflow_cli`` runs them standalone.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crossroads.audit import AuditLog, resolve_audit
from crossroads.errors import ConfigError

__all__ = ["build_app", "main", "register", "spec_digests"]

_CHECKPOINT_HELP = "SQLite file or postgresql:// URL holding the runs (default: %(default)s)"


def build_app(spec: Mapping[str, Any], *, factory: str | None = None) -> Any:
    """The app a run is started or continued with: ``factory`` (``--app module:function``
    from the command line, called with ``audit=``) or the app options of
    :func:`crossroads._cli_app.app_spec` in ``spec`` (``{"example": "pharma"}``,
    ``{"policy": …, "db": …}``), writing to ``spec["audit"]`` when it names a log. A
    ``"factory"`` in ``spec`` is never imported: code is named on the command line only."""
    audit = AuditLog(spec["audit"]) if spec.get("audit") else None
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
    if spec.get("factory"):
        raise ConfigError(
            "the app was built by a Python function; name it on the command line with --app",
            key="app",
        )
    from crossroads._cli_app import app_from_spec

    options = {k: str(v) for k, v in spec.items() if k not in ("audit", "digests")}
    if not options:
        raise ConfigError("the run does not say which app runs it; start it again with --example")
    return app_from_spec(options, audit=audit)


_DIGESTED = ("policy",)
"""The app options naming files whose content a run remembers: the policy (a run stops
rather than continue under a policy edited since it started). Data files are not
digested: data changes while a run waits for an approval, and that is normal."""


def _file_of(key: str, value: str) -> Path | None:
    if key != "db":
        return Path(value)
    if value.startswith("sqlite:///") and value != "sqlite:///:memory:":
        return Path(value.removeprefix("sqlite:///").split("?", 1)[0])
    return None  # a database server: nothing to digest


def _digest(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, sorted)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            h.update(str(file.relative_to(path)).encode("utf-8") + b"\0")
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def spec_digests(spec: Mapping[str, Any]) -> dict[str, str]:
    """SHA-256 of each file of :data:`_DIGESTED` the app options name."""
    out: dict[str, str] = {}
    for key in _DIGESTED:
        value = spec.get(key)
        path = _file_of(key, str(value)) if value else None
        if path is not None and path.exists():
            out[key] = _digest(path)
    return out


def _checked_spec(record: Any, factory: str | None) -> dict[str, Any]:
    """The stored app spec, if it may rebuild the app: a factory-built app needs ``--app``
    again (and the same one); every file the options name must still have its digest."""
    spec = dict(record.app)
    stored = spec.get("factory")
    if stored:
        if not factory:
            raise ConfigError(
                f"run {record.run_id} was started with an app built in Python "
                f"(--app {stored}); the run store never names code to import: pass "
                f"--app {stored} again",
                key="app",
            )
        if factory != stored:
            raise ConfigError(
                f"run {record.run_id} was started with --app {stored}, not --app {factory}; "
                "a run continues with the app it started with",
                key="app",
            )
        return spec
    if factory:
        raise ConfigError(
            f"run {record.run_id} was started with the app options {_shown(spec)}, not "
            "--app; leave --app out",
            key="app",
        )
    digests = spec.get("digests") or {}
    now = spec_digests(spec)
    for key in _DIGESTED:
        if key in now and digests.get(key) != now[key]:
            then = str(digests.get(key) or "none")[:12]
            raise ConfigError(
                f"the {key} of run {record.run_id} ({spec[key]}) changed since the run "
                f"started (SHA-256 {then}… then, {now[key][:12]}… now); a run continues "
                "with the policy and data it started with: restore it, or start a new run"
            )
        if key in digests and key not in now:
            raise ConfigError(
                f"the {key} of run {record.run_id} ({spec[key]}) is gone (run from the "
                "folder the run was started in, or restore it)"
            )
    return spec


def _shown(spec: Mapping[str, Any]) -> str:
    return " ".join(f"--{k} {v}" for k, v in spec.items() if k not in ("audit", "digests"))


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
    if not args.app:
        spec["digests"] = spec_digests(spec)
    if args.audit:
        spec["audit"] = str(Path(args.audit).resolve())
    app = build_app(spec, factory=args.app)
    principal = app.catalog.principal(args.principal)
    with WorkflowRunner(app, checkpoint=args.checkpoint, app_spec=spec) as runner:
        state = runner.start(workflow, principal, _inputs(args.input))
    return _report(state, args.out)


def _runner_for(run_id: str, checkpoint: str, factory: str | None) -> Any:
    from crossroads.graphs import WorkflowRunner
    from crossroads.graphs._workflow_store import RunStore

    store = RunStore.open(checkpoint)
    try:
        record = store.get(run_id)
        app = build_app(_checked_spec(record, factory), factory=factory)
    except BaseException:
        store.close()
        raise
    return record, WorkflowRunner(app, checkpoint=store)


def _resume(args: argparse.Namespace) -> int:
    record, runner = _runner_for(args.run_id, args.checkpoint, args.app)
    try:
        state = runner.resume(record.run_id)
    finally:
        runner.store.close()
    return _report(state, args.out)


def _approve(args: argparse.Namespace) -> int:
    record, runner = _runner_for(args.run_id, args.checkpoint, args.app)
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
    print(
        f"{'run':12}  {'status':8}  {'waiting on':14}  {'by':10}  {'updated':27}  "
        f"{'lease':36}  workflow"
    )
    for r in records:
        print(
            f"{r.run_id:12}  {r.status:8}  {r.waiting_on or '':14}  "
            f"{r.principal.get('id', '?'):10}  {r.updated_at:27}  {_lease(r):36}  {r.workflow}"
        )
    return 0


def _lease(record: Any) -> str:
    """``live until T`` (a process runs it), ``stale since T`` (resume it) or blank."""
    from crossroads.audit._event import utc_now
    from crossroads.graphs._workflow import _owner_is_dead

    if record.status != "running":
        return ""
    expires = record.lease_expires
    if expires is None:
        return "stale (no lease)"
    if expires < utc_now() or _owner_is_dead(record.lease_owner):
        return f"stale since {expires}"
    return f"live until {expires}"


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

    for parser in (resume, approve):
        parser.add_argument(
            "--app",
            default=None,
            help="module:function that built the app: required again for a run started "
            "with --app (the run store never names code to import)",
        )
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
