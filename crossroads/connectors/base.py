"""One small protocol per backend kind, and the value types they exchange.

Backends: SQL databases (:class:`SQLBackend`), graph stores (:class:`GraphStore`),
document indexes (:class:`DocumentStore`), embedders (:class:`Embedder`) and
language models (:class:`LLM`). Each protocol has an embedded or in-memory
reference backend, and every backend of a kind passes that kind's shared
conformance suite in ``tests/``.

Connectors know nothing of policy: they are called only by tools, and tools
only through the runner, which authorises and audits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "LLM",
    "Chunk",
    "Column",
    "Completion",
    "Document",
    "DocumentStore",
    "Edge",
    "Embedder",
    "ForeignKey",
    "GraphStore",
    "Message",
    "QueryResult",
    "SQLBackend",
    "Schema",
    "Table",
    "Usage",
]


# --- SQL -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table as introspected from the live database."""

    name: str
    type: str
    """The database's type name, upper-cased (``INTEGER``, ``VARCHAR(20)``, ``TEXT``)."""
    nullable: bool = True
    primary_key: bool = False


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """``columns`` of the owning table reference ``ref_columns`` of ``ref_table``."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A table (or view) with its columns and keys."""

    name: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    schema: str | None = None
    """The database schema (namespace) holding the table, when not the default one."""

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in table order."""
        return tuple(c.name for c in self.columns)

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Names of the primary-key columns, in table order."""
        return tuple(c.name for c in self.columns if c.primary_key)

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (case-insensitive), or None."""
        low = name.lower()
        for c in self.columns:
            if c.name.lower() == low:
                return c
        return None


@dataclass(frozen=True, slots=True)
class Schema:
    """The tables of a database, keyed by lower-cased table name."""

    tables: Mapping[str, Table] = field(default_factory=dict)

    def table(self, name: str) -> Table | None:
        """The table called ``name`` (case-insensitive), or None."""
        return self.tables.get(name.lower())

    def to_sqlglot(self) -> dict[str, dict[str, str]]:
        """``{table: {column: type}}``, the mapping sqlglot's optimizer expects."""
        return {
            t.name: {c.name: c.type or "UNKNOWN" for c in t.columns} for t in self.tables.values()
        }


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows returned by a backend, capped at ``max_rows`` (``truncated`` says if more existed)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool = False
    elapsed_ms: float = 0.0


@runtime_checkable
class SQLBackend(Protocol):
    """A SQL database that introspects its schema and runs read-only statements."""

    @property
    def dialect(self) -> str:
        """The sqlglot dialect name of the database (``sqlite``, ``postgres``, ``mysql`` …)."""
        ...

    def schema(self) -> Schema:
        """Tables, columns, types and keys of the live database (cached; see ``refresh``)."""
        ...

    def execute(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> QueryResult:
        """Run one read-only statement; cancel it past ``timeout_s``; cap rows at ``max_rows``."""
        ...

    def validate(self, sql: str, *, timeout_s: float | None = None) -> None:
        """Check the statement on the target (EXPLAIN / prepare) without running it,
        within ``timeout_s``."""
        ...

    def sample_values(self, table: str, column: str, *, limit: int = 5) -> list[Any]:
        """Up to ``limit`` distinct non-null values of a column."""
        ...


# --- graph ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edge:
    """A directed, typed relation between two nodes."""

    source: str
    relation: str
    target: str


@runtime_checkable
class GraphStore(Protocol):
    """A labelled graph with typed, directed relations between named nodes.

    Nodes are identified by a string id (for Neo4j, the ``name`` property).
    """

    def relations(self) -> frozenset[str]:
        """Every relation type in the graph."""
        ...

    def has_node(self, node: str) -> bool:
        """Whether a node with this id exists."""
        ...

    def neighbors(
        self,
        node: str,
        relation: str | None = None,
        *,
        direction: Literal["out", "in", "both"] = "out",
        limit: int | None = None,
    ) -> list[Edge]:
        """Edges at ``node`` of type ``relation`` (any when None), in ``direction``.

        Every :class:`Edge` keeps its stored orientation (``source`` -> ``target``)
        whatever the direction asked for. An unknown node or relation gives an empty
        list, not an error; ``limit`` caps the number of edges returned (fan-out cap).
        """
        ...

    def node_labels(self, node: str) -> frozenset[str]:
        """The labels (types) of ``node``; empty for an unlabelled or unknown node."""
        ...

    def find_nodes(self, name: str) -> list[str]:
        """Ids of the nodes whose id or ``name`` is exactly ``name`` (no normalisation)."""
        ...

    def node_name(self, node: str) -> str:
        """The display name of ``node`` (answers are given by name); its id when unnamed."""
        ...

    def nodes(self) -> Iterator[str]:
        """Every node id (entity linking builds its index from them)."""
        ...

    def node_count(self) -> int:
        """The number of nodes."""
        ...

    def edge_count(self) -> int:
        """The number of edges (a triple stored twice counts once)."""
        ...


# --- documents and embeddings ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """A document as ingested: its whole text and its metadata (region, owner, dates …)."""

    id: str
    collection: str
    """The collection it belongs to: the securable ``collection:NAME`` that grants cover."""
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """JSON values only (dates become ISO strings), so an index saves and loads unchanged."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one document: what is retrieved, filtered and cited.

    ``text`` is ``document.text[start:end]``; ``heading`` the path of headings above
    it (``Dosing › Renal impairment``, empty when none). ``metadata`` is the
    document's metadata plus its ``collection``, which is what access-control
    filters are matched against.
    """

    chunk_id: str
    """``"<doc_id>#<n>"``, ``n`` counting the document's chunks from 0: stable while
    the document's text is unchanged."""
    doc_id: str
    collection: str
    text: str
    start: int
    end: int
    heading: str
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)


@runtime_checkable
class DocumentStore(Protocol):
    """Documents split into chunks, searchable under a filter applied before ranking."""

    def collections(self) -> frozenset[str]:
        """Every collection holding documents."""
        ...

    def __len__(self) -> int:
        """The number of chunks."""
        ...

    def chunks(self, doc_id: str | None = None) -> list[Chunk]:
        """Every chunk in index order, or those of one document (KeyError when unknown)."""
        ...

    def search(
        self, query: str, k: int = 10, *, where: Callable[[Chunk], bool] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` best chunks for ``query`` with their scores, best first.

        Only chunks for which ``where`` is true compete: a chunk it rejects is never
        returned, however well it scores. Chunks that do not match at all (score 0)
        are left out, so fewer than ``k`` may come back.
        """
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-size vectors."""

    @property
    def dimension(self) -> int:
        """The vector size."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


# --- language models -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens used by one model call, as reported by the provider (or estimated)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        """The counts as written to the audit log."""
        return {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "total": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer. ``data`` holds the parsed JSON when structured output was asked for."""

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    data: Any = None


@runtime_checkable
class LLM(Protocol):
    """A chat model behind some wire protocol. Knows nothing of principals or policy."""

    @property
    def model(self) -> str:
        """The model identifier sent to the provider."""
        ...

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Completion:
        """One chat completion. With ``json_schema`` the answer is JSON, parsed into ``data``."""
        ...


def as_messages(messages: str | Iterable[Message | Mapping[str, str]]) -> list[Message]:
    """Accept a prompt string, Message objects or ``{"role", "content"}`` dicts."""
    if isinstance(messages, str):
        return [Message("user", messages)]
    out: list[Message] = []
    for m in messages:
        if isinstance(m, Message):
            out.append(m)
        else:
            role = m.get("role", "")
            if role not in ("system", "user", "assistant"):
                from crossroads.errors import ConfigError

                raise ConfigError(
                    f"message role must be 'system', 'user' or 'assistant', got {role!r}"
                )
            out.append(Message(role, str(m.get("content", ""))))  # type: ignore[arg-type]
    return out
