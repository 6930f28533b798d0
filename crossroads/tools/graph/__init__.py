"""The knowledge-graph route: entity linking, relation-path planning (learned, from
relation names, or model-proposed and validated) and governed multi-hop traversal with
evidence paths.

::

    qa = GraphQA(NetworkXGraph.from_triples("kb.txt", sep="|"), catalog)
    qa.fit([("who directed [Kismet]", ["William Dieterle"]), ...])
    qa.ask("who directed [Casablanca]", alice).answers
"""

from crossroads.tools.graph._linker import EntityLinker, LinkedEntity, Mention
from crossroads.tools.graph._paths import GraphPath, RelationPath, Step, Traversal, traverse
from crossroads.tools.graph._planner import Candidate, NamePlanner, PathModel, explain
from crossroads.tools.graph._qa import (
    FitReport,
    GraphAnswer,
    GraphAskTool,
    GraphQA,
    GraphTraverseTool,
    TraverseResult,
)

__all__ = [
    "Candidate",
    "EntityLinker",
    "FitReport",
    "GraphAnswer",
    "GraphAskTool",
    "GraphPath",
    "GraphQA",
    "GraphTraverseTool",
    "LinkedEntity",
    "Mention",
    "NamePlanner",
    "PathModel",
    "RelationPath",
    "Step",
    "Traversal",
    "TraverseResult",
    "explain",
    "traverse",
]
