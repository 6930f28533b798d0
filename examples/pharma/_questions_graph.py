"""Labelled graph questions of the pharma domain, with the gold answers each principal
should get."""

from __future__ import annotations

import random
from typing import Any

from ._company import MANUFACTURERS, PRODUCTS
from ._drugs import ENZYMES, EXCIPIENTS, INVESTIGATIONAL, SENSITIVE
from ._graph import Graph

# which node labels each principal may see, and which relations it may traverse (the policy's
# graph rules, restated to compute the gold answers each principal should get)
_GRAPH_VIEW: dict[str, tuple[frozenset[str] | None, frozenset[str] | None]] = {
    "carol": (None, None),
    "alice": (frozenset({"drug", "ingredient", "enzyme", "condition", "manufacturer"}), None),
    "erin": (frozenset({"drug", "ingredient", "enzyme", "condition", "manufacturer"}), None),
    "bob": (
        frozenset({"drug", "ingredient", "condition", "manufacturer"}),
        frozenset({"has_ingredient", "indicated_for", "contraindicated_in", "manufactured_by"}),
    ),
}


def _follow(g: Graph, start: str, path: list[tuple[str, str]], labels: frozenset[str] | None):
    """The answer set of a relation path from ``start`` (as GraphQA's traversal computes it)."""
    out: dict[tuple[str, str], list[str]] = {}
    inc: dict[tuple[str, str], list[str]] = {}
    for s, r, o in g.edges:
        out.setdefault((s, r), []).append(o)
        inc.setdefault((o, r), []).append(s)
    layer = {start}
    for depth, (rel, direction) in enumerate(path):
        nxt: set[str] = set()
        for node in layer:
            found = (out if direction == "out" else inc).get((node, rel), [])
            for other in found:
                if depth and other == start:
                    continue
                if labels is not None and not set(g.labels[other]) & labels:
                    continue
                nxt.add(other)
        layer = nxt
    return sorted(layer)


# (template id, question, path, entity kind)
_GRAPH_TEMPLATES: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("g01", "Which enzymes metabolise {e}?", [("metabolised_by", "out")], "substrate"),
    ("g02", "Which drugs are metabolised by {e}?", [("metabolised_by", "in")], "enzyme"),
    ("g03", "Which drugs inhibit {e}?", [("inhibits", "in")], "enzyme"),
    ("g04", "Which drugs are known inducers of {e}?", [("induces", "in")], "enzyme"),
    ("g05", "What does {e} interact with?", [("interacts_with", "out")], "victim"),
    ("g06", "Which drugs interact with drugs metabolised by {e}?",
     [("metabolised_by", "in"), ("interacts_with", "out")], "enzyme"),
    ("g07", "Who manufactures drugs containing {e}?",
     [("has_ingredient", "in"), ("manufactured_by", "out")], "ingredient"),
    ("g08", "What is {e} indicated for?", [("indicated_for", "out")], "drug"),
    ("g09", "Which drugs are contraindicated in {e}?", [("contraindicated_in", "in")], "contra"),
    ("g10", "Which enzymes are inhibited by drugs that interact with {e}?",
     [("interacts_with", "out"), ("inhibits", "out")], "product"),
    ("g11", "Which ingredients does {e} contain?", [("has_ingredient", "out")], "product"),
    ("g12", "Which enzymes metabolise the drugs made by {e}?",
     [("manufactured_by", "in"), ("metabolised_by", "out")], "manufacturer"),
    ("g13", "Which drugs are metabolised by enzymes that {e} inhibits?",
     [("inhibits", "out"), ("metabolised_by", "in")], "inhibitor"),
    ("g14", "Which conditions are treated by drugs that interact with {e}?",
     [("interacts_with", "out"), ("indicated_for", "out")], "product"),
    ("g15", "Which manufacturers make drugs indicated for {e}?",
     [("indicated_for", "in"), ("manufactured_by", "out")], "indication"),
    ("g16", "Which drugs does {e} manufacture?", [("manufactured_by", "in")], "manufacturer"),
    # held out only: new wordings of the paths above
    ("g17", "What enzymes is {e} metabolised by?", [("metabolised_by", "out")], "substrate"),
    ("g18", "What drugs does {e} interact with?", [("interacts_with", "out")], "victim"),
    ("g19", "Which companies make products that contain {e}?",
     [("has_ingredient", "in"), ("manufactured_by", "out")], "ingredient"),
    ("g20", "For which conditions is {e} indicated?", [("indicated_for", "out")], "drug"),
    ("g21", "Which medicines should be avoided, being contraindicated in {e}?",
     [("contraindicated_in", "in")], "contra"),
    ("g22", "List the drugs that are metabolised by {e}.", [("metabolised_by", "in")], "enzyme"),
]  # fmt: skip
GRAPH_HELDOUT_ONLY = {"g17", "g18", "g19", "g20", "g21", "g22"}


def _graph_pools(g: Graph) -> dict[str, list[str]]:
    drugs = [n for n, labels in g.labels.items() if "drug" in labels]
    company = [p["name"] for p in PRODUCTS]
    has = {(s, r) for s, r, _ in g.edges}
    targets = {(o, r) for _, r, o in g.edges}
    return {
        "substrate": [d for d in drugs if (d, "metabolised_by") in has],
        "enzyme": [e for e in ENZYMES if (e, "metabolised_by") in targets],
        "victim": company + sorted(SENSITIVE),
        "ingredient": [p["generic"] for p in PRODUCTS] + EXCIPIENTS[:12],
        "drug": [d for d in drugs if (d, "indicated_for") in has],
        "contra": sorted({o for _, r, o in g.edges if r == "contraindicated_in"}),
        "product": company,
        "manufacturer": [m[0] for m in MANUFACTURERS],
        "inhibitor": sorted(
            {s for s, r, _ in g.edges if r == "inhibits"} - {i[0] for i in INVESTIGATIONAL}
        ),
        "indication": sorted({o for _, r, o in g.edges if r == "indicated_for"}),
    }


def graph_questions(g: Graph, rng: random.Random) -> list[dict[str, Any]]:
    """Graph questions from each template, each with the gold answers its principal may see."""
    pools = _graph_pools(g)
    out = []
    for tid, text, path, kind in _GRAPH_TEMPLATES:
        relations = {r for r, _ in path}
        who = [p for p, (_, rels) in _GRAPH_VIEW.items() if rels is None or relations <= rels]
        chosen: list[str] = []
        candidates = list(pools[kind])
        rng.shuffle(candidates)
        for entity in candidates:
            if len(chosen) >= (3 if tid in GRAPH_HELDOUT_ONLY else 4):
                break
            principal = rng.choice(who)
            answers = _follow(g, entity, path, _GRAPH_VIEW[principal][0])
            if not answers or len(answers) > 60:
                continue
            chosen.append(entity)
            out.append(
                {
                    "template": tid,
                    "question": text.format(e=entity),
                    "route": "graph",
                    "failure_mode": "multi_hop",
                    "principal": principal,
                    "answers": answers,
                    "path": "/".join(("^" if d == "in" else "") + r for r, d in path),
                }
            )
    return out
