"""The pharmacology knowledge graph of the pharma domain (``graph.json``)."""

from __future__ import annotations

import random
from typing import Any

from ._company import MANUFACTURERS, PRODUCTS
from ._drugs import ENZYMES, EXCIPIENTS, INVESTIGATIONAL, PD_INTERACTIONS, SENSITIVE, drug_table


class Graph:
    """Nodes (id → labels) and edges, in insertion order, for graph.json."""

    def __init__(self) -> None:
        self.labels: dict[str, list[str]] = {}
        self.edges: dict[tuple[str, str, str], None] = {}

    def node(self, name: str, label: str) -> str:
        """Add ``label`` to the node ``name`` (created if new); the name."""
        found = self.labels.setdefault(name, [])
        if label not in found:
            found.append(label)
        return name

    def edge(self, s: str, rel: str, o: str) -> None:
        """Add the edge ``s -rel-> o`` (once)."""
        self.edges[(s, rel, o)] = None

    def out(self, s: str, rel: str) -> list[str]:
        """The targets of ``s``'s ``rel`` edges, in insertion order."""
        return [o for (a, r, o) in self.edges if a == s and r == rel]


def build_graph(rng: random.Random) -> Graph:
    """The knowledge graph: enzymes, manufacturers, the products and other drugs with their
    ingredients, enzymes, uses and contraindications, investigational compounds, and the
    interactions (enzyme-based and pharmacodynamic, both ways)."""
    g = Graph()
    for enzyme in ENZYMES:
        g.node(enzyme, "enzyme")
    for name, *_ in MANUFACTURERS:
        g.node(name, "manufacturer")
    generic_makers = [m[0] for m in MANUFACTURERS if m[3] == "generic"]
    substrates: dict[str, list[str]] = {}
    perpetrators: dict[str, list[str]] = {}  # enzyme -> inhibitors and inducers

    def drug(d: dict[str, Any], label: str) -> None:
        name = g.node(d["name"], label)
        for e in d["enzymes"]:
            g.edge(name, "metabolised_by", e)
            substrates.setdefault(e, []).append(name)
        for rel, key in (("inhibits", "inhibits"), ("induces", "induces")):
            for e in d[key]:
                g.edge(name, rel, e)
                perpetrators.setdefault(e, []).append(name)
        for c in d["indications"]:
            g.edge(name, "indicated_for", g.node(c, "condition"))
        for c in d["contra"]:
            g.edge(name, "contraindicated_in", g.node(c, "condition"))

    for p in PRODUCTS:
        drug(p, "drug")
        g.edge(p["name"], "has_ingredient", g.node(p["generic"], "ingredient"))
        for x in rng.sample(EXCIPIENTS, rng.randint(4, 6)):
            g.edge(p["name"], "has_ingredient", g.node(x, "ingredient"))
        g.edge(p["name"], "manufactured_by", p["maker"])
    for d in drug_table():
        drug(d, "drug")
        if d["salt"]:
            g.edge(d["name"], "has_ingredient", g.node(d["salt"], "ingredient"))
        for x in rng.sample(EXCIPIENTS, rng.randint(2, 4)):
            g.edge(d["name"], "has_ingredient", g.node(x, "ingredient"))
        for m in rng.sample(generic_makers, rng.randint(1, 3)):
            g.edge(d["name"], "manufactured_by", m)
    for code, maker, enzymes, inhibits, indication, partner in INVESTIGATIONAL:
        g.node(code, "investigational")
        for e in enzymes:
            g.edge(code, "metabolised_by", e)
        for e in inhibits:
            g.edge(code, "inhibits", e)
        g.edge(code, "indicated_for", g.node(indication, "condition"))
        g.edge(code, "manufactured_by", maker)
        g.edge(code, "interacts_with", partner)
        g.edge(partner, "interacts_with", code)
    # interactions: a perpetrator of an enzyme with a sensitive substrate (or a company product)
    company = {p["name"] for p in PRODUCTS}
    pairs: set[tuple[str, str]] = set()
    for enzyme, victims in substrates.items():
        for victim in victims:
            if victim not in SENSITIVE and victim not in company:
                continue
            for perp in perpetrators.get(enzyme, []):
                if perp != victim:
                    pairs.add((perp, victim))
    pairs |= set(PD_INTERACTIONS)
    for a, b in sorted(pairs):
        g.edge(a, "interacts_with", b)
        g.edge(b, "interacts_with", a)
    return g


def graph_json(g: Graph) -> dict[str, Any]:
    """``g`` as the JSON object ``graph.json`` holds."""
    return {
        "name": "pharma",
        "nodes": [{"id": n, "labels": labels} for n, labels in g.labels.items()],
        "edges": [list(e) for e in g.edges],
    }
