"""Graph stores: one conformance suite for every GraphStore, then each backend's own tests.

``TestGraphStoreConformance`` runs against :class:`NetworkXGraph` always and
against :class:`Neo4jGraph` when ``CROSSROADS_TEST_NEO4J_URI`` is set (with
``CROSSROADS_TEST_NEO4J_AUTH=user:password`` when the server wants it). The
Neo4j fixture EMPTIES the database it is pointed at: give it a throwaway one.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crossroads.connectors import Edge, GraphStore, Neo4jGraph, NetworkXGraph, SQLDatabase
from crossroads.connectors._graph_neo4j import check_identifier, neighbors_cypher
from crossroads.connectors._graph_nx import fk_relation_name
from crossroads.errors import ConfigError, ConnectorError

METAQA_KB = Path(__file__).resolve().parents[3] / "shared" / "bench" / "metaqa" / "kb.txt"

# The fixture graph: films, people and a genre; no self-loops.
TRIPLES = [
    ("Kismet", "directed_by", "William Dieterle"),
    ("Kismet", "starred_actors", "Marlene Dietrich"),
    ("Kismet", "starred_actors", "Ronald Colman"),
    ("Kismet", "has_genre", "Drama"),
    ("Juarez", "directed_by", "William Dieterle"),
    ("Juarez", "starred_actors", "Bette Davis"),
    ("Juarez", "has_genre", "Drama"),
    ("Dishonored", "starred_actors", "Marlene Dietrich"),
    ("William Dieterle", "born_in", "Ludwigshafen"),
]
LABELS = {"Kismet": {"Movie"}, "Juarez": {"Movie"}, "William Dieterle": {"Person", "Director"}}


def _build_networkx() -> Iterator[GraphStore]:
    g = NetworkXGraph()
    for s, r, t in TRIPLES:
        g.add_edge(s, r, t)
    for node, labels in LABELS.items():
        g.add_node(node, labels=labels)
    yield g


def _build_neo4j() -> Iterator[GraphStore]:
    uri = os.environ.get("CROSSROADS_TEST_NEO4J_URI")
    if not uri:
        pytest.skip(
            "CROSSROADS_TEST_NEO4J_URI is not set: set it to a throwaway Neo4j server "
            "(bolt://127.0.0.1:7687) to run the conformance suite on Neo4jGraph"
        )
    import neo4j

    user, _, password = os.environ.get("CROSSROADS_TEST_NEO4J_AUTH", "").partition(":")
    auth = (user, password) if user else None
    with neo4j.GraphDatabase.driver(uri, auth=auth) as driver, driver.session() as session:
        session.run("MATCH (n) DETACH DELETE n").consume()
        for s, r, t in TRIPLES:
            # the relation type comes from the fixture above, never from input
            session.run(
                f"MERGE (a {{name: $s}}) MERGE (b {{name: $t}}) MERGE (a)-[:{r}]->(b)",
                s=s,
                t=t,
            ).consume()
        for node, labels in LABELS.items():
            for label in labels:
                session.run(f"MATCH (n {{name: $name}}) SET n:{label}", name=node).consume()
    graph = Neo4jGraph(uri, auth=auth, timeout_s=10)
    try:
        yield graph
    finally:
        graph.close()


BACKENDS: dict[str, Callable[[], Iterator[GraphStore]]] = {
    "networkx": _build_networkx,
    "neo4j": _build_neo4j,
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    """The fixture graph in each backend."""
    yield from BACKENDS[request.param]()


def _set(edges: list[Edge]) -> set[tuple[str, str, str]]:
    return {(e.source, e.relation, e.target) for e in edges}


class TestGraphStoreConformance:
    """What every GraphStore must do, on the same small graph."""

    def test_is_a_graph_store(self, store: GraphStore) -> None:
        assert isinstance(store, GraphStore)

    def test_relations(self, store: GraphStore) -> None:
        assert store.relations() == {"directed_by", "starred_actors", "has_genre", "born_in"}

    def test_has_node(self, store: GraphStore) -> None:
        assert store.has_node("Kismet")
        assert store.has_node("Drama")
        assert not store.has_node("Casablanca")

    def test_neighbors_out_with_relation(self, store: GraphStore) -> None:
        found = store.neighbors("Kismet", "starred_actors")
        assert _set(found) == {
            ("Kismet", "starred_actors", "Marlene Dietrich"),
            ("Kismet", "starred_actors", "Ronald Colman"),
        }
        assert all(isinstance(e, Edge) for e in found)

    def test_neighbors_out_any_relation(self, store: GraphStore) -> None:
        assert _set(store.neighbors("Juarez")) == {t for t in TRIPLES if t[0] == "Juarez"}

    def test_neighbors_in_keeps_edge_orientation(self, store: GraphStore) -> None:
        found = store.neighbors("William Dieterle", "directed_by", direction="in")
        assert _set(found) == {
            ("Kismet", "directed_by", "William Dieterle"),
            ("Juarez", "directed_by", "William Dieterle"),
        }
        assert store.neighbors("William Dieterle", "directed_by") == []

    def test_neighbors_in_any_relation(self, store: GraphStore) -> None:
        assert _set(store.neighbors("Marlene Dietrich", direction="in")) == {
            ("Kismet", "starred_actors", "Marlene Dietrich"),
            ("Dishonored", "starred_actors", "Marlene Dietrich"),
        }

    def test_neighbors_both(self, store: GraphStore) -> None:
        assert _set(store.neighbors("Kismet", direction="both")) == {
            t for t in TRIPLES if t[0] == "Kismet"
        }
        assert _set(store.neighbors("Drama", "has_genre", direction="both")) == {
            ("Kismet", "has_genre", "Drama"),
            ("Juarez", "has_genre", "Drama"),
        }

    def test_neighbors_both_mixes_directions(self, store: GraphStore) -> None:
        both = _set(store.neighbors("William Dieterle", direction="both"))
        assert both == {t for t in TRIPLES if "William Dieterle" in (t[0], t[2])}
        assert len(both) == 3

    def test_limit(self, store: GraphStore) -> None:
        assert len(store.neighbors("Kismet", limit=2)) == 2
        assert len(store.neighbors("Kismet", limit=10)) == 4
        assert store.neighbors("Kismet", limit=0) == []
        assert len(store.neighbors("Drama", direction="in", limit=1)) == 1

    def test_bad_limit_is_a_config_error(self, store: GraphStore) -> None:
        with pytest.raises(ConfigError, match="limit"):
            store.neighbors("Kismet", limit=-1)

    def test_unknown_node_or_relation_is_empty(self, store: GraphStore) -> None:
        assert store.neighbors("Casablanca") == []
        assert store.neighbors("Casablanca", direction="both") == []
        assert store.neighbors("Kismet", "written_by") == []
        assert store.neighbors("Kismet", "not an identifier`) DETACH DELETE n //") == []

    def test_labels(self, store: GraphStore) -> None:
        assert store.node_labels("William Dieterle") == {"Person", "Director"}
        assert store.node_labels("Kismet") == {"Movie"}
        assert store.node_labels("Drama") == frozenset()
        assert store.node_labels("Casablanca") == frozenset()

    def test_find_nodes_is_exact(self, store: GraphStore) -> None:
        assert store.find_nodes("Kismet") == ["Kismet"]
        assert store.find_nodes("kismet") == []

    def test_node_name_of_a_named_node(self, store: GraphStore) -> None:
        assert store.node_name("Kismet") == "Kismet"

    def test_counts_and_nodes(self, store: GraphStore) -> None:
        names = {n for t in TRIPLES for n in (t[0], t[2])}
        assert set(store.nodes()) == names
        assert store.node_count() == len(names)
        assert store.edge_count() == len(TRIPLES)


# --- NetworkXGraph -----------------------------------------------------------------------


def test_duplicate_triples_are_stored_once() -> None:
    g = NetworkXGraph()
    g.add_edge("a", "r", "b")
    g.add_edge("a", "r", "b")
    g.add_edge("a", "s", "b")
    assert g.edge_count() == 2
    assert g.relation_counts() == {"r": 1, "s": 1}
    assert g.graph.number_of_edges() == 2


def test_self_loop_is_returned_once_for_both() -> None:
    g = NetworkXGraph()
    g.add_edge("a", "r", "a")
    assert g.neighbors("a", direction="both") == [Edge("a", "r", "a")]
    assert g.neighbors("a", direction="in") == [Edge("a", "r", "a")]


def test_add_node_name_and_find_nodes() -> None:
    g = NetworkXGraph()
    g.add_node("products:1", labels=["products"], name="Widget")
    g.add_node("products:2", labels=["products"], name="Widget")
    assert g.find_nodes("Widget") == ["products:1", "products:2"]
    assert g.find_nodes("products:1") == ["products:1"]
    g.add_node("products:2", name="Gadget")
    assert g.find_nodes("Widget") == ["products:1"]
    assert g.node_name("products:2") == "Gadget"
    with pytest.raises(ConfigError, match="not one string"):
        g.add_node("x", labels="products")


def test_bad_direction_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="direction"):
        NetworkXGraph().neighbors("a", direction="sideways")  # type: ignore[arg-type]


def test_graph_view_is_read_only() -> None:
    g = NetworkXGraph()
    g.add_edge("a", "r", "b")
    with pytest.raises(Exception, match="Frozen"):
        g.graph.add_edge("b", "c")


def test_from_triples(tmp_path: Path) -> None:
    kb = tmp_path / "kb.txt"
    kb.write_text("Kismet|directed_by|William Dieterle\n\n  \nKismet|has_genre|Drama\n")
    g = NetworkXGraph.from_triples(kb)
    assert g.edge_count() == 2
    assert g.neighbors("Drama", direction="in") == [Edge("Kismet", "has_genre", "Drama")]


def test_from_triples_other_separator(tmp_path: Path) -> None:
    kb = tmp_path / "kb.tsv"
    kb.write_text("a\tr\tb\n")
    assert NetworkXGraph.from_triples(kb, sep="\t").neighbors("a") == [Edge("a", "r", "b")]


@pytest.mark.parametrize("bad", ["Kismet|directed_by", "a|b|c|d", "Kismet||Drama"])
def test_from_triples_malformed_line_names_file_and_line(tmp_path: Path, bad: str) -> None:
    kb = tmp_path / "kb.txt"
    kb.write_text(f"a|r|b\n\n{bad}\nc|r|d\n")
    with pytest.raises(ConfigError) as info:
        NetworkXGraph.from_triples(kb)
    assert info.value.file == str(kb)
    assert info.value.line == 3
    assert f"{kb}:3:" in str(info.value)


def test_from_triples_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        NetworkXGraph.from_triples(tmp_path / "nope.txt")


def test_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_text('src,rel,dst\nKismet,directed_by,William Dieterle\n"A, B",r,C\n\n')
    g = NetworkXGraph.from_csv(path, source="src", relation="rel", target="dst")
    assert g.edge_count() == 2
    assert g.neighbors("A, B") == [Edge("A, B", "r", "C")]


def test_from_csv_fixed_relation(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_text("drug,other\nwarfarin,aspirin\n")
    g = NetworkXGraph.from_csv(path, source="drug", target="other", fixed_relation="INTERACTS")
    assert g.neighbors("aspirin", direction="in") == [Edge("warfarin", "INTERACTS", "aspirin")]


def test_from_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_text("source,target,relation\na,b,r\na,,r\n")
    with pytest.raises(ConfigError) as info:
        NetworkXGraph.from_csv(path)
    assert info.value.line == 3
    with pytest.raises(ConfigError, match="no column 'from'"):
        NetworkXGraph.from_csv(path, source="from")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        NetworkXGraph.from_csv(empty)


@pytest.fixture
def shop_db(tmp_path: Path) -> Iterator[SQLDatabase]:
    """A SQLite file with foreign keys: products -> manufacturers, reviews -> products."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE manufacturers (id INTEGER PRIMARY KEY, name TEXT, code TEXT UNIQUE);
            CREATE TABLE products (
                id INTEGER PRIMARY KEY, title TEXT,
                manufacturer_id INTEGER REFERENCES manufacturers(id),
                made_by TEXT REFERENCES manufacturers(code)
            );
            CREATE TABLE reviews (
                id INTEGER PRIMARY KEY, productId INTEGER REFERENCES products(id)
            );
            CREATE TABLE log (message TEXT);
            INSERT INTO manufacturers VALUES (1, 'Acme', 'AC'), (2, 'Globex', 'GX');
            INSERT INTO products VALUES (10, 'Widget', 1, 'GX'), (11, 'Gadget', NULL, NULL);
            INSERT INTO reviews VALUES (100, 10), (101, 10);
            INSERT INTO log VALUES ('hello');
            """
        )
    conn.close()
    db = SQLDatabase(f"sqlite:///{path}")
    try:
        yield db
    finally:
        db.close()


def test_from_sql(shop_db: SQLDatabase) -> None:
    g = NetworkXGraph.from_sql(shop_db)
    assert g.relations() == {"MANUFACTURER", "MADE_BY", "PRODUCT"}
    assert g.node_count() == 6  # log has no primary key
    assert g.node_labels("products:10") == {"products"}
    assert g.find_nodes("Acme") == ["manufacturers:1"]
    assert g.find_nodes("Widget") == ["products:10"]
    assert _set(g.neighbors("products:10")) == {
        ("products:10", "MANUFACTURER", "manufacturers:1"),
        ("products:10", "MADE_BY", "manufacturers:2"),  # through the unique code column
    }
    assert g.neighbors("products:11") == []  # NULL keys give no edge
    assert _set(g.neighbors("products:10", "PRODUCT", direction="in")) == {
        ("reviews:100", "PRODUCT", "products:10"),
        ("reviews:101", "PRODUCT", "products:10"),
    }


def test_from_sql_subset_and_cap(shop_db: SQLDatabase) -> None:
    g = NetworkXGraph.from_sql(shop_db, tables=["products", "reviews"])
    assert g.relations() == {"PRODUCT"}  # manufacturers are outside the subset
    with pytest.raises(ConfigError, match="max_rows=1"):
        NetworkXGraph.from_sql(shop_db, max_rows=1)
    with pytest.raises(ConfigError, match="no table 'orders'"):
        NetworkXGraph.from_sql(shop_db, tables=["orders"])


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (("manufacturer_id",), "MANUFACTURER"),
        (("productId",), "PRODUCT"),
        (("made_by",), "MADE_BY"),
        (("valid",), "VALID"),
        (("id",), "PARENTS"),
        (("a_id", "b_id"), "A_B"),
    ],
)
def test_fk_relation_name(columns: tuple[str, ...], expected: str) -> None:
    assert fk_relation_name(columns, "parents") == expected


@pytest.mark.skipif(not METAQA_KB.exists(), reason=f"MetaQA KB not found at {METAQA_KB}")
def test_metaqa_kb_loads() -> None:
    g = NetworkXGraph.from_triples(METAQA_KB)
    assert 40_000 < g.node_count() < 50_000
    assert 130_000 < g.edge_count() < 140_000
    assert len(g.relations()) == 9
    assert Edge("Kismet", "directed_by", "William Dieterle") in g.neighbors("Kismet")
    assert len(g.neighbors("Drama", "has_genre", direction="in", limit=50)) == 50


# --- Neo4jGraph without a server ----------------------------------------------------------


def test_check_identifier() -> None:
    assert check_identifier("directed_by") == "`directed_by`"
    for bad in ["", "has genre", "a`b", "1st", "x) DETACH DELETE n //", "名前"]:
        with pytest.raises(ConfigError, match="plain identifier"):
            check_identifier(bad)


def test_neighbors_cypher() -> None:
    assert neighbors_cypher("directed_by", "out") == (
        "MATCH (n {name: $name})-[r:`directed_by`]->(m) WHERE m.name IS NOT NULL "
        "RETURN startNode(r).name AS source, type(r) AS relation, endNode(r).name AS target"
    )
    assert "(n {name: $name})<-[r]-(m)" in neighbors_cypher(None, "in")
    both = neighbors_cypher("r", "both", limit=True, node_label="Movie")
    assert "(n:`Movie` {name: $name})-[r:`r`]-(m)" in both
    assert both.endswith(" LIMIT $limit")
    with pytest.raises(ConfigError):
        neighbors_cypher("a`]->(m) DETACH DELETE m //", "out")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"uri": "http://localhost:7474"}, "must start with"),
        ({"uri": "localhost:7687"}, "must start with"),
        ({"uri": "bolt://localhost", "timeout_s": 0}, "timeout_s"),
        ({"uri": "bolt://localhost", "node_label": "Bad Label"}, "node label"),
    ],
)
def test_neo4j_bad_configuration(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Neo4jGraph(**kwargs)


def test_neo4j_connection_refused_is_a_connector_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    with (
        Neo4jGraph(f"bolt://127.0.0.1:{port}", auth=("neo4j", "x"), timeout_s=0.5) as g,
        pytest.raises(ConnectorError, match=f"could not reach Neo4j at 'bolt://127.0.0.1:{port}'"),
    ):
        g.has_node("Kismet")


def test_neo4j_closed_graph_refuses() -> None:
    g = Neo4jGraph("bolt://127.0.0.1:1")
    g.close()
    with pytest.raises(ConnectorError, match="closed"):
        g.relations()


def test_importing_crossroads_does_not_import_the_driver() -> None:
    import subprocess
    import sys

    code = "import sys, crossroads.connectors; print('neo4j' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
