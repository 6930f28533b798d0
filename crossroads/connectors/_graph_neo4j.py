"""The Neo4j graph store, on the official ``neo4j`` driver.

::

    g = Neo4jGraph("neo4j://localhost:7687", auth=("neo4j", "secret"), database="movies")
    g.neighbors("Kismet", "directed_by")

Node identity is the ``name`` property: the node id the protocol speaks of is
``n.name`` (give ``node_label=`` so lookups use an index on ``:Label(name)``).
Every statement is parameterised Cypher run in a read transaction
(``default_access_mode=READ_ACCESS``, ``execute_read``) under a server-side
timeout. Relation types cannot be Cypher parameters: a type is interpolated,
backtick-quoted, only after it matched a strict identifier pattern and is one
of :meth:`Neo4jGraph.relations`. The driver is imported on first use, so
importing crossroads does not import it.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal

from crossroads.connectors.base import Edge
from crossroads.errors import ConfigError, ConnectorError

__all__ = ["Neo4jGraph", "check_identifier", "neighbors_cypher"]

Direction = Literal["out", "in", "both"]
_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATTERNS = {
    "out": "(n{label} {{name: $name}})-[r{rel}]->(m)",
    "in": "(n{label} {{name: $name}})<-[r{rel}]-(m)",
    "both": "(n{label} {{name: $name}})-[r{rel}]-(m)",
}


def check_identifier(value: str, what: str = "relation type") -> str:
    """``value`` backtick-quoted for Cypher, once it is a plain identifier
    (``[A-Za-z_][A-Za-z0-9_]*``); ConfigError otherwise."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not a plain identifier (letters, digits and _, not "
            "starting with a digit), so it cannot be used in a Cypher statement"
        )
    return f"`{value}`"


def neighbors_cypher(
    relation: str | None,
    direction: Direction,
    *,
    limit: bool = False,
    node_label: str | None = None,
) -> str:
    """The Cypher statement :meth:`Neo4jGraph.neighbors` runs (parameters ``$name`` and,
    with ``limit``, ``$limit``); the relation type and label are checked identifiers."""
    if direction not in _PATTERNS:
        raise ConfigError(
            f"direction must be 'out', 'in' or 'both', got {direction!r}", key="direction"
        )
    rel = "" if relation is None else ":" + check_identifier(relation)
    label = "" if node_label is None else ":" + check_identifier(node_label, "node label")
    pattern = _PATTERNS[direction].format(label=label, rel=rel)
    return (
        f"MATCH {pattern} WHERE m.name IS NOT NULL "
        "RETURN startNode(r).name AS source, type(r) AS relation, endNode(r).name AS target"
        + (" LIMIT $limit" if limit else "")
    )


class Neo4jGraph:
    """A :class:`~crossroads.connectors.base.GraphStore` on a Neo4j server, read-only.

    ``uri`` is a driver URI (``neo4j://``, ``bolt://``, ``+s``/``+ssc`` variants),
    ``auth`` a ``(user, password)`` pair or a driver auth token, ``database`` the
    database (the server's default when None). ``timeout_s`` bounds connecting,
    acquiring a connection, retrying a transaction and each statement on the
    server. ``node_label`` restricts nodes to one label (use it when an index on
    ``:Label(name)`` exists). Nothing connects until the first call; close it
    with :meth:`close` or a ``with`` block.
    """

    def __init__(
        self,
        uri: str,
        auth: Any = None,
        database: str | None = None,
        *,
        timeout_s: float = 30.0,
        node_label: str | None = None,
    ) -> None:
        if (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, int | float)
            or not math.isfinite(timeout_s)
            or timeout_s <= 0
        ):
            raise ConfigError(
                f"timeout_s must be a number of seconds > 0, got {timeout_s!r}", key="timeout_s"
            )
        if node_label is not None:
            check_identifier(node_label, "node label")
        scheme = uri.partition("://")[0] if isinstance(uri, str) and "://" in uri else None
        if scheme not in _SCHEMES:
            raise ConfigError(
                f"Neo4j URI {uri!r} must start with one of "
                f"{', '.join(s + '://' for s in _SCHEMES)}, e.g. 'neo4j://localhost:7687'",
                key="uri",
            )
        self._uri = uri
        self._auth = auth
        self._database = database
        self._timeout_s = float(timeout_s)
        self._node_label = node_label
        self._label = "" if node_label is None else f":`{node_label}`"
        self._driver: Any = None
        self._relations: frozenset[str] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"Neo4jGraph({self._uri!r}, database={self._database!r})"

    # --- the GraphStore protocol ---------------------------------------------------------

    def relations(self) -> frozenset[str]:
        """Every relation type in the database (cached; see :meth:`refresh`)."""
        with self._lock:
            cached = self._relations
        if cached is None:
            rows = self._read(
                "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType"
            )
            cached = frozenset(str(r[0]) for r in rows)
            with self._lock:
                self._relations = cached
        return cached

    def refresh(self) -> None:
        """Forget the cached relation types; the next call reads them again."""
        with self._lock:
            self._relations = None

    def has_node(self, node: str) -> bool:
        """Whether a node with ``name = node`` exists."""
        rows = self._read(
            f"MATCH (n{self._label} {{name: $name}}) RETURN count(n) > 0 AS found", name=node
        )
        return bool(rows and rows[0][0])

    def neighbors(
        self,
        node: str,
        relation: str | None = None,
        *,
        direction: Direction = "out",
        limit: int | None = None,
    ) -> list[Edge]:
        """Edges at the node named ``node`` of type ``relation`` (any when None).

        Order is the server's. A relation type not in :meth:`relations` (after one
        refresh) or an unknown node gives ``[]``.
        """
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ConfigError(
                f"limit must be a whole number ≥ 0 or None, got {limit!r}", key="limit"
            )
        if relation is not None and not self._known_relation(relation):
            return []
        if limit == 0:
            return []
        cypher = neighbors_cypher(
            relation, direction, limit=limit is not None, node_label=self._node_label
        )
        params: dict[str, Any] = {"name": node}
        if limit is not None:
            params["limit"] = limit
        return [Edge(str(s), str(r), str(t)) for s, r, t in self._read(cypher, **params)]

    def node_labels(self, node: str) -> frozenset[str]:
        """The labels of the node(s) named ``node``; empty for an unknown node."""
        rows = self._read(
            f"MATCH (n{self._label} {{name: $name}}) UNWIND labels(n) AS label "
            "RETURN DISTINCT label",
            name=node,
        )
        return frozenset(str(r[0]) for r in rows)

    def find_nodes(self, name: str) -> list[str]:
        """``[name]`` when a node of that name exists (the name is the id), else ``[]``."""
        return [name] if self.has_node(name) else []

    def node_name(self, node: str) -> str:
        """``node`` itself: a Neo4j node's id is its ``name`` property."""
        return node

    def nodes(self) -> Iterator[str]:
        """Every distinct node name (read in one transaction)."""
        rows = self._read(
            f"MATCH (n{self._label}) WHERE n.name IS NOT NULL RETURN DISTINCT n.name AS name"
        )
        return (str(r[0]) for r in rows)

    def node_count(self) -> int:
        """The number of nodes (with ``node_label``: of that label)."""
        rows = self._read(f"MATCH (n{self._label}) RETURN count(n)")
        return int(rows[0][0])

    def edge_count(self) -> int:
        """The number of relationships (with ``node_label``: between such nodes)."""
        rows = self._read(f"MATCH (a{self._label})-[r]->(b{self._label}) RETURN count(r)")
        return int(rows[0][0])

    # --- running statements --------------------------------------------------------------

    def _known_relation(self, relation: str) -> bool:
        if relation not in self.relations():
            self.refresh()  # it may have been created since the cache was filled
            if relation not in self.relations():
                return False
        check_identifier(relation)  # a type like `has genre` exists but is not supported
        return True

    def _read(self, cypher: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run one parameterised statement in a read transaction; rows as tuples."""
        import neo4j

        driver = self._get_driver()
        query = neo4j.Query(cypher, timeout=self._timeout_s)

        def work(tx: Any) -> list[tuple[Any, ...]]:
            return [tuple(record.values()) for record in tx.run(query, params)]

        try:
            with driver.session(
                database=self._database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                rows: list[tuple[Any, ...]] = session.execute_read(work)
                return rows
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from exc

    def _get_driver(self) -> Any:
        with self._lock:
            if self._closed:
                raise ConnectorError(f"{self!r} is closed; create a new Neo4jGraph to query again")
            if self._driver is None:
                import neo4j

                try:
                    self._driver = neo4j.GraphDatabase.driver(
                        self._uri,
                        auth=self._auth,
                        connection_timeout=self._timeout_s,
                        connection_acquisition_timeout=self._timeout_s,
                        max_transaction_retry_time=self._timeout_s,
                    )
                except Exception as exc:
                    translated = self._translate(exc)
                    if translated is None:
                        raise
                    raise translated from exc
            return self._driver

    def _translate(self, exc: Exception) -> Exception | None:
        """The crossroads error for a driver error; None for anything else (a bug)."""
        from neo4j import exceptions as errors

        where = f"Neo4j at {self._uri!r}" + (
            f" (database {self._database!r})" if self._database else ""
        )
        if isinstance(exc, errors.AuthError):
            return ConfigError(
                f"{where} refused the credentials: {exc.message or exc}. "
                "Check auth=(user, password)"
            )
        if isinstance(exc, errors.ServiceUnavailable | errors.SessionExpired):
            return ConnectorError(
                f"could not reach {where}: {exc}. Check that the server is running and the "
                "URI (scheme, host, port) is right"
            )
        if isinstance(exc, errors.ConfigurationError | ValueError):
            return ConfigError(f"bad Neo4j configuration for {self._uri!r}: {exc}")
        if isinstance(exc, errors.Neo4jError):
            code = exc.code or ""
            if code.endswith("DatabaseNotFound"):
                return ConfigError(
                    f"{where}: no such database. Check database= against SHOW DATABASES"
                )
            if "Timeout" in code or "TransactionTimedOut" in code:
                return ConnectorError(
                    f"{where}: the statement ran past timeout_s={self._timeout_s}s and was "
                    "stopped. Ask a narrower question or raise timeout_s"
                )
            return ConnectorError(f"{where} failed a statement: {code}: {exc.message}")
        if isinstance(exc, errors.DriverError):
            return ConnectorError(f"{where}: the driver failed: {exc}")
        return None

    # --- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the driver and its connections."""
        with self._lock:
            self._closed = True
            driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()

    def __enter__(self) -> Neo4jGraph:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
