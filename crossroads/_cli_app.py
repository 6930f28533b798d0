"""Building a :class:`Crossroads` app from command-line options (shared by ``ask``,
``route``, ``chat`` and the workflow commands)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from crossroads.errors import ConfigError

if TYPE_CHECKING:
    from crossroads._app import Crossroads
    from crossroads.audit import AuditLog

__all__ = ["add_app_arguments", "app_from_args", "app_from_spec", "app_spec"]


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """``--example`` or ``--policy`` with any of ``--db``, ``--graph``, ``--docs``;
    ``--as`` and ``--audit``."""
    group = parser.add_argument_group("the data and policy to answer from")
    group.add_argument("--example", default=None, help="a shipped example domain (default: pharma)")
    group.add_argument("--policy", default=None, help="policy YAML (instead of --example)")
    group.add_argument("--db", default=None, help="SQLAlchemy URL of the database")
    group.add_argument(
        "--graph", default=None, help="graph triples file, 'subject|relation|object' per line"
    )
    group.add_argument("--graph-sep", default="|", help="field separator of --graph (default |)")
    group.add_argument("--docs", default=None, help="documents: a JSONL file or a folder")
    parser.add_argument("--as", dest="principal", required=True, help="principal id")
    parser.add_argument("--audit", default=None, help="audit log path (default: process default)")


def app_spec(args: argparse.Namespace) -> dict[str, str]:
    """The options that rebuild the same app later (stored with workflow runs)."""
    if args.policy:
        spec = {"policy": str(Path(args.policy).resolve())}
        for key in ("db", "graph", "docs"):
            value = getattr(args, key, None)
            if value:
                spec[key] = value if key == "db" else str(Path(value).resolve())
        if getattr(args, "graph_sep", "|") != "|":
            spec["graph_sep"] = args.graph_sep
        return spec
    if any(getattr(args, key, None) for key in ("db", "graph", "docs")):
        raise ConfigError(
            "--db, --graph and --docs need --policy FILE (the policy that governs them)"
        )
    return {"example": args.example or "pharma"}


def app_from_args(args: argparse.Namespace, *, audit: AuditLog | None = None) -> Crossroads:
    """The app the options describe."""
    return app_from_spec(app_spec(args), audit=audit or _audit(args))


def _audit(args: argparse.Namespace) -> AuditLog | None:
    from crossroads.audit import AuditLog

    path = getattr(args, "audit", None)
    return AuditLog(path) if path else None


def app_from_spec(spec: dict[str, str], *, audit: AuditLog | None = None) -> Crossroads:
    """The app an :func:`app_spec` describes."""
    from crossroads._app import Crossroads

    if "example" in spec:
        if any(k in spec for k in ("policy", "db", "graph", "docs")):
            raise ConfigError("give --example or --policy with --db/--graph/--docs, not both")
        return Crossroads.from_example(spec["example"], audit=audit)
    from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase
    from crossroads.policy import Catalog

    if not any(k in spec for k in ("db", "graph", "docs")):
        raise ConfigError("--policy needs at least one of --db, --graph or --docs to answer from")
    catalog = Catalog.from_yaml(spec["policy"])
    documents = None
    docs = spec.get("docs")
    if docs:
        path = Path(docs)
        if not path.exists():
            raise ConfigError(f"--docs {docs}: no such file or folder")
        documents = (
            DocumentIndex.from_folder(path) if path.is_dir() else DocumentIndex.from_jsonl(path)
        )
    graph = None
    if spec.get("graph"):
        graph = NetworkXGraph.from_triples(spec["graph"], sep=spec.get("graph_sep", "|"))
    return Crossroads(
        catalog=catalog,
        sql=SQLDatabase(spec["db"]) if spec.get("db") else None,
        graph=graph,
        documents=documents,
        audit=audit,
    )
