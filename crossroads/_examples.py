"""The shipped example domains (``examples/<name>/``), built once into a cache.

An example is a folder with ``domain.py`` (a seeded generator: ``build(directory)``
writes the SQLite database, graph, documents and labelled questions;
``load_graph(directory)`` reads the graph back), ``policy.yaml`` and ``workflows/``.
The build is deterministic, so it is cached under ``$CROSSROADS_CACHE`` (default
``~/.cache/crossroads``) in a folder named by a hash of the generator's modules and the
policy: edit any of them and the next load rebuilds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from crossroads.errors import ConfigError

if TYPE_CHECKING:
    from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase
    from crossroads.policy import Catalog

__all__ = ["Example", "LabelledQuestion", "examples_root", "load_example"]


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def examples_root() -> Path:
    """Where the example folders are: ``$CROSSROADS_EXAMPLES``, else ``examples/`` next
    to the package (a source checkout or editable install)."""
    env = os.environ.get("CROSSROADS_EXAMPLES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "examples"


def _cache_root() -> Path:
    env = os.environ.get("CROSSROADS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "crossroads"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelledQuestion:
    """A question of an example domain, labelled with its route."""

    id: str
    question: str
    route: str
    """``sql``, ``graph``, ``rag``, ``long_context`` or ``compound``."""
    failure_mode: str
    split: str
    """``fit`` (to fit models on) or ``heldout`` (to measure them on)."""
    principal: str
    answers: tuple[str, ...] = ()
    """Gold answers (graph questions)."""
    parts: tuple[dict[str, Any], ...] = ()
    """For a compound question: each part's question and route."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the line held (``doc``, ``collection`` …)."""


@dataclass
class Example:
    """A built example domain."""

    name: str
    source: Path
    """The example's folder (generator, policy, workflows)."""
    directory: Path
    """The built data (database, graph, documents, questions)."""
    module: ModuleType

    @property
    def policy_path(self) -> Path:
        """The policy file."""
        return self.source / "policy.yaml"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the built database."""
        return f"sqlite:///{self.directory / f'{self.name}.sqlite'}"

    @property
    def graph_name(self) -> str:
        """The graph's name in the policy (``graph:<name>``)."""
        return str(getattr(self.module, "GRAPH_NAME", self.name))

    @property
    def graph_synonyms(self) -> dict[str, list[str]] | None:
        """Relation phrasings for the graph route."""
        return getattr(self.module, "GRAPH_SYNONYMS", None)

    @property
    def sql_synonyms(self) -> dict[str, str] | None:
        """Extra phrases for tables and columns."""
        return getattr(self.module, "SQL_SYNONYMS", None)

    @property
    def budget_tokens(self) -> int:
        """The long-context budget the domain is tuned for."""
        return int(getattr(self.module, "BUDGET_TOKENS", 100_000))

    def catalog(self) -> Catalog:
        """The policy, loaded."""
        from crossroads.policy import Catalog

        return Catalog.from_yaml(self.policy_path)

    def sql(self) -> SQLDatabase:
        """The database (read-only governed access happens in the tools)."""
        from crossroads.connectors import SQLDatabase

        return SQLDatabase(self.database_url)

    def graph(self) -> NetworkXGraph:
        """The knowledge graph."""
        graph: NetworkXGraph = self.module.load_graph(self.directory)
        return graph

    def documents(self) -> DocumentIndex:
        """The document index, each document in its collection."""
        index: DocumentIndex = self.module.load_documents(self.directory)
        return index

    @cached_property
    def questions(self) -> list[LabelledQuestion]:
        """The labelled questions."""
        out = []
        path = self.directory / "questions.jsonl"
        known = {"id", "question", "route", "failure_mode", "split", "principal", "answers"}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            out.append(
                LabelledQuestion(
                    id=raw["id"],
                    question=raw["question"],
                    route=raw["route"],
                    failure_mode=raw.get("failure_mode", ""),
                    split=raw["split"],
                    principal=raw.get("principal", ""),
                    answers=tuple(raw.get("answers") or ()),
                    parts=tuple(raw.get("parts") or ()),
                    extra={k: v for k, v in raw.items() if k not in known | {"parts"}},
                )
            )
        return out

    def graph_examples(self) -> list[tuple[str, list[str]]]:
        """``(question, answers)`` of the graph questions in the fit split."""
        return [
            (q.question, list(q.answers))
            for q in self.questions
            if q.route == "graph" and q.split == "fit" and q.answers
        ]


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"crossroads_example_{name}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import the example generator {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_example(name: str, *, directory: str | Path | None = None) -> Example:
    """Build (once) and open the example ``name``.

    ``directory`` is where to build it: a new or empty folder, or one an earlier build
    wrote (it holds a ``.built`` stamp); any other folder is refused, never emptied.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"an example name is letters, digits, '-' and '_' (such as 'pharma'), got {name!r}"
        )
    root = examples_root()
    source = root / name
    generator = source / "domain.py"
    if not generator.is_file():
        known = sorted(p.name for p in root.glob("*") if (p / "domain.py").is_file())
        raise ConfigError(
            f"no example named {name!r} in {root} (examples: {', '.join(known) or 'none'}). "
            "Examples ship in the source tree: install with `pip install -e .` from a "
            "checkout, or set CROSSROADS_EXAMPLES to the examples folder"
        )
    module = _import(generator, name)
    # the generator and everything it reads: its modules and the policy
    hasher = hashlib.sha256()
    for part in [*sorted(source.glob("*.py")), source / "policy.yaml"]:
        hasher.update(part.name.encode() + b"\0" + part.read_bytes())
    digest = hasher.hexdigest()[:12]
    target = Path(directory) if directory else _cache_root() / "examples" / f"{name}-{digest}"
    stamp = target / ".built"
    if target.is_dir() and not stamp.is_file() and any(target.iterdir()):
        raise ConfigError(
            f"{target} is not empty and holds no earlier build of the {name!r} example; "
            "pass a new or empty folder (a build replaces the folder's contents)"
        )
    if not stamp.is_file() or stamp.read_text(encoding="utf-8") != digest:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        try:
            module.build(work)
            (work / ".built").write_text(digest, encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return Example(name=name, source=source, directory=target, module=module)
