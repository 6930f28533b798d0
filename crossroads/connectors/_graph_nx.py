"""The embedded graph store: a networkx MultiDiGraph with per-relation adjacency indexes.

::

    g = NetworkXGraph.from_triples("kb.txt", sep="|")      # subject|relation|object lines
    g.neighbors("Kismet", "directed_by")                     # [Edge('Kismet', 'directed_by', …)]
    g.neighbors("William Dieterle", "directed_by", direction="in")

The MultiDiGraph keys each edge by its relation, so a triple loaded twice is
stored once. Next to it every node keeps ``{relation: {neighbour: None}}`` dicts
for both directions: a neighbour lookup by relation touches only that node's
edges of that relation, never a scan of the graph.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import networkx as nx

from crossroads.connectors._sql import SQLDatabase
from crossroads.connectors.base import Edge, Table
from crossroads.errors import ConfigError

__all__ = ["NetworkXGraph", "fk_relation_name"]

Direction = Literal["out", "in", "both"]
_DIRECTIONS = ("out", "in", "both")
# {node: {relation: {neighbour: None}}}: dicts keep insertion order and drop duplicates.
_Adjacency = dict[str, dict[str, dict[str, None]]]


class NetworkXGraph:
    """A :class:`~crossroads.connectors.base.GraphStore` held in memory.

    Build one with :meth:`from_triples`, :meth:`from_csv` or :meth:`from_sql`, or
    empty and filled with :meth:`add_node` / :meth:`add_edge`. Node ids are
    strings; a node may carry labels (``{"products"}``) and a display ``name``
    used by :meth:`find_nodes` (by default the id itself).
    """

    def __init__(self) -> None:
        self._graph: Any = nx.MultiDiGraph()
        self._out: _Adjacency = {}
        self._in: _Adjacency = {}
        self._relations: dict[str, int] = {}
        self._by_name: dict[str, dict[str, None]] = {}
        self._edges = 0

    # --- building ------------------------------------------------------------------------

    def add_node(self, node: str, *, labels: Iterable[str] = (), name: str | None = None) -> None:
        """Add ``node`` (or update it): ``labels`` are added to its labels, ``name``
        (when given) becomes its display name for :meth:`find_nodes`."""
        if isinstance(labels, str):
            raise ConfigError(
                f"labels must be a list of label names, not one string; write labels=[{labels!r}]",
                key="labels",
            )
        self._ensure(node)
        attrs = self._graph.nodes[node]
        if labels:
            attrs["labels"] = attrs.get("labels", frozenset()) | frozenset(labels)
        if name is not None and name != attrs.get("name", node):
            old = attrs.get("name", node)
            if old != node:
                self._by_name.get(old, {}).pop(node, None)
            attrs["name"] = name
            self._by_name.setdefault(name, {})[node] = None

    def add_edge(self, source: str, relation: str, target: str) -> None:
        """Add the edge ``source -relation-> target``, creating missing nodes.

        Adding the same triple again changes nothing.
        """
        if not relation:
            raise ConfigError("an edge needs a relation name, got an empty string")
        out = self._out.get(source)
        if out is None:
            self._ensure(source)
            out = self._out[source]
        targets = out.get(relation)
        if targets is None:
            targets = out[relation] = {}
        elif target in targets:
            return
        targets[target] = None
        inc = self._in.get(target)
        if inc is None:
            self._ensure(target)
            inc = self._in[target]
        inc.setdefault(relation, {})[source] = None
        self._graph.add_edge(source, target, key=relation)
        self._relations[relation] = self._relations.get(relation, 0) + 1
        self._edges += 1

    def _ensure(self, node: str) -> None:
        if node not in self._out:
            if not isinstance(node, str) or not node:
                raise ConfigError(f"node ids must be non-empty strings, got {node!r}")
            self._graph.add_node(node)
            self._out[node] = {}
            self._in[node] = {}

    # --- the GraphStore protocol ---------------------------------------------------------

    def relations(self) -> frozenset[str]:
        """Every relation type in the graph."""
        return frozenset(self._relations)

    def has_node(self, node: str) -> bool:
        """Whether a node with this id exists."""
        return node in self._out

    def neighbors(
        self,
        node: str,
        relation: str | None = None,
        *,
        direction: Direction = "out",
        limit: int | None = None,
    ) -> list[Edge]:
        """Edges at ``node`` of type ``relation`` (any when None), in ``direction``.

        Edges come in insertion order, outgoing before incoming for ``"both"``; a
        self-loop is returned once. An unknown node or relation gives ``[]``.
        """
        if direction not in _DIRECTIONS:
            raise ConfigError(
                f"direction must be 'out', 'in' or 'both', got {direction!r}", key="direction"
            )
        cap = _check_limit(limit)
        out = self._out.get(node)
        if out is None or cap == 0:
            return []
        found: list[Edge] = []
        if direction in ("out", "both"):
            for rel, targets in _pick(out, relation):
                for target in targets:
                    found.append(Edge(node, rel, target))
                    if len(found) == cap:
                        return found
        if direction in ("in", "both"):
            for rel, sources in _pick(self._in[node], relation):
                for source in sources:
                    if direction == "both" and source == node:
                        continue  # the self-loop was returned as an outgoing edge
                    found.append(Edge(source, rel, node))
                    if len(found) == cap:
                        return found
        return found

    def node_labels(self, node: str) -> frozenset[str]:
        """The labels of ``node``; empty for an unlabelled or unknown node."""
        if node not in self._out:
            return frozenset()
        labels: frozenset[str] = self._graph.nodes[node].get("labels", frozenset())
        return labels

    def find_nodes(self, name: str) -> list[str]:
        """Ids of the nodes whose id or display name is exactly ``name``."""
        found = dict.fromkeys([name]) if name in self._out else {}
        found.update(self._by_name.get(name, {}))
        return list(found)

    def nodes(self) -> Iterator[str]:
        """Every node id, in insertion order."""
        return iter(self._out)

    def node_count(self) -> int:
        """The number of nodes."""
        return len(self._out)

    def edge_count(self) -> int:
        """The number of distinct ``(source, relation, target)`` edges."""
        return self._edges

    # --- extras --------------------------------------------------------------------------

    def relation_counts(self) -> dict[str, int]:
        """How many edges each relation has."""
        return dict(self._relations)

    def node_name(self, node: str) -> str:
        """The display name of ``node`` (its id unless a name was given)."""
        name: str = self._graph.nodes[node].get("name", node) if node in self._out else node
        return name

    @property
    def graph(self) -> Any:
        """A read-only view of the underlying ``networkx.MultiDiGraph`` (edge key =
        relation, node attributes ``labels`` and ``name``), for networkx algorithms."""
        return self._graph.copy(as_view=True)

    def __repr__(self) -> str:
        return (
            f"NetworkXGraph({self.node_count()} nodes, {self._edges} edges, "
            f"{len(self._relations)} relations)"
        )

    # --- loaders -------------------------------------------------------------------------

    @classmethod
    def from_triples(cls, path: str | os.PathLike[str], *, sep: str = "|") -> NetworkXGraph:
        """Load ``subject<sep>relation<sep>object`` lines (UTF-8), e.g. MetaQA's ``kb.txt``.

        Blank lines are skipped and fields are stripped of surrounding spaces. A line
        without exactly three non-empty fields raises ConfigError naming the file and
        line.
        """
        if not sep:
            raise ConfigError("sep must be a non-empty string", key="sep")
        graph = cls()
        name = os.fspath(path)
        with _open(name, newline=None) as handle:
            for lineno, line in enumerate(handle, start=1):
                parts = line.split(sep)
                if len(parts) == 3:
                    s, r, o = parts[0].strip(), parts[1].strip(), parts[2].strip()
                    if s and r and o:
                        graph.add_edge(s, r, o)
                        continue
                elif not line.strip():
                    continue
                raise ConfigError(
                    f"expected 'subject{sep}relation{sep}object' (three non-empty fields), "
                    f"got {line.rstrip()!r}. Fix the line or pass the right sep=",
                    file=name,
                    line=lineno,
                )
        return graph

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str],
        *,
        source: str = "source",
        target: str = "target",
        relation: str | None = "relation",
        fixed_relation: str | None = None,
        delimiter: str = ",",
    ) -> NetworkXGraph:
        """Load an edge list from a CSV file with a header row.

        ``source``, ``target`` and ``relation`` name the columns; with
        ``fixed_relation`` every row gets that relation and ``relation`` is not read.
        Rows whose source or target (or relation) is empty raise ConfigError with the
        file and line; a missing column raises ConfigError listing the columns there are.
        """
        name = os.fspath(path)
        if fixed_relation is None and relation is None:
            raise ConfigError(
                "from_csv needs relation= (a column) or fixed_relation= (one name for all rows)"
            )
        graph = cls()
        with _open(name, newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise ConfigError("the CSV file is empty: expected a header row", file=name)
            wanted = [source, target] + ([relation] if fixed_relation is None and relation else [])
            missing = [c for c in wanted if c not in header]
            if missing:
                raise ConfigError(
                    f"no column {', '.join(map(repr, missing))} in the header; the columns "
                    f"are {header}. Pass source=, target= and relation= to name them",
                    file=name,
                    line=1,
                )
            si, ti = header.index(source), header.index(target)
            ri = None if fixed_relation is not None or relation is None else header.index(relation)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                lineno = reader.line_num
                cells = [_cell(row, i) for i in (si, ti)]
                rel = fixed_relation if ri is None else _cell(row, ri)
                if not (cells[0] and cells[1] and rel):
                    raise ConfigError(
                        f"empty source, target or relation in row {row!r}",
                        file=name,
                        line=lineno,
                    )
                graph.add_edge(cells[0], rel, cells[1])
        return graph

    @classmethod
    def from_sql(
        cls,
        db: SQLDatabase,
        tables: Sequence[str] | None = None,
        *,
        max_rows: int = 100_000,
    ) -> NetworkXGraph:
        """Turn relational tables into a graph through their foreign keys.

        Each row of a table with a primary key becomes a node ``"<table>:<key>"``
        (a composite key's values joined by ``","``) labelled with the table name;
        its display name is the row's ``name`` or ``title`` column when it has one.
        Each foreign key becomes an edge from the referencing row to the referenced
        row, its relation named by :func:`fk_relation_name`
        (``products.manufacturer_id -> manufacturers`` gives ``MANUFACTURER``).
        NULL keys, tables without a primary key and references to rows outside
        ``tables`` give no node or edge. A table with more than ``max_rows`` rows
        raises ConfigError rather than load part of it.
        """
        if isinstance(tables, str):
            raise ConfigError(
                f"tables must be a list of table names; write tables=[{tables!r}]", key="tables"
            )
        schema = db.schema()
        chosen: list[Table] = []
        for table_name in schema.tables if tables is None else tables:
            table = schema.table(table_name)
            if table is None:
                known = sorted(t.name for t in schema.tables.values())
                raise ConfigError(
                    f"no table {table_name!r} in the database; the tables are {known}",
                    key="tables",
                )
            if table.primary_key:
                chosen.append(table)
        graph = cls()
        rows = {t.name: _read_rows(db, t, max_rows) for t in chosen}
        # {(table, column tuple): {values: node id}} to resolve each foreign key.
        keys: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], str]] = {}
        for table in chosen:
            columns, data = rows[table.name]
            pk = [columns.index(c) for c in table.primary_key]
            label_col = _name_column(table)
            for row in data:
                values = tuple(row[i] for i in pk)
                node = f"{table.name}:{','.join(str(v) for v in values)}"
                name = None if label_col is None else row[columns.index(label_col)]
                graph.add_node(node, labels=[table.name], name=None if name is None else str(name))
                keys.setdefault((table.name, table.primary_key), {})[values] = node
        for table in chosen:
            columns, data = rows[table.name]
            pk = [columns.index(c) for c in table.primary_key]
            for fk in table.foreign_keys:
                ref = schema.table(fk.ref_table)
                if ref is None or ref.name not in rows:
                    continue
                index = _key_index(keys, rows, ref, fk.ref_columns)
                relation = fk_relation_name(fk.columns, ref.name)
                fk_cols = [columns.index(c) for c in fk.columns]
                for row in data:
                    values = tuple(row[i] for i in fk_cols)
                    target = None if None in values else index.get(values)
                    if target is not None:
                        source = keys[(table.name, table.primary_key)][tuple(row[i] for i in pk)]
                        graph.add_edge(source, relation, target)
        return graph


def fk_relation_name(columns: Sequence[str], ref_table: str) -> str:
    """The relation a foreign key becomes in :meth:`NetworkXGraph.from_sql`.

    The referencing column upper-cased without an ``_id`` or camel-case ``Id`` suffix
    (``manufacturer_id`` → ``MANUFACTURER``, ``parentId`` → ``PARENT``), composite
    keys joined by ``_``; when nothing is left (a column called ``id``) the
    referenced table's name upper-cased.
    """
    parts = []
    for col in columns:
        if col.lower().endswith("_id"):
            col = col[:-3]
        elif col.endswith("Id") or col.lower() == "id":
            col = col[:-2]
        if col:
            parts.append(col.upper())
    return "_".join(parts) or ref_table.upper()


def _pick(
    adjacency: dict[str, dict[str, None]], relation: str | None
) -> Iterable[tuple[str, dict[str, None]]]:
    if relation is None:
        return adjacency.items()
    found = adjacency.get(relation)
    return () if found is None else ((relation, found),)


def _check_limit(limit: int | None) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"limit must be a whole number ≥ 0 or None, got {limit!r}", key="limit")
    return limit


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _open(name: str, *, newline: str | None) -> Any:
    try:
        return open(name, encoding="utf-8", newline=newline)
    except FileNotFoundError as exc:
        raise ConfigError("no such file: check the path", file=name) from exc
    except IsADirectoryError as exc:
        raise ConfigError("is a directory, expected a file", file=name) from exc


def _name_column(table: Table) -> str | None:
    for wanted in ("name", "title"):
        col = table.column(wanted)
        if col is not None:
            return col.name
    return None


def _read_rows(
    db: SQLDatabase, table: Table, max_rows: int
) -> tuple[list[str], list[tuple[Any, ...]]]:
    from sqlglot import exp

    select = exp.select(*(exp.column(c, quoted=True) for c in table.column_names)).from_(
        exp.table_(table.name, db=table.schema, quoted=True)
    )
    result = db.execute(select.sql(dialect=db.dialect), max_rows=max_rows)
    if result.truncated:
        raise ConfigError(
            f"table {table.name!r} has more than max_rows={max_rows} rows; raise max_rows "
            "or leave the table out of tables=",
            key="max_rows",
        )
    return list(result.columns), result.rows


def _key_index(
    keys: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], str]],
    rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    ref: Table,
    ref_columns: tuple[str, ...],
) -> dict[tuple[Any, ...], str]:
    """``{referenced values: node id}`` (a foreign key may reference a unique column)."""
    found = keys.get((ref.name, ref_columns))
    if found is None:
        columns, data = rows[ref.name]
        pk_index = keys[(ref.name, ref.primary_key)]
        cols = [columns.index(c) for c in ref_columns]
        pk = [columns.index(c) for c in ref.primary_key]
        found = {tuple(r[i] for i in cols): pk_index[tuple(r[i] for i in pk)] for r in data}
        keys[(ref.name, ref_columns)] = found
    return found
