"""Relation paths, the evidence paths traversal returns, and the traversal itself.

A relation path is a sequence of steps, each a relation followed forwards, backwards
or either way. It is written in SPARQL property-path notation::

    directed_by/^directed_by/starred_actors
    METABOLISED_BY/(INTERACTS_WITH|^INTERACTS_WITH)

``r`` follows ``r`` from subject to object, ``^r`` from object to subject and
``(r|^r)`` either way; a relation name that is not a plain word is written in angle
brackets (``<has part>``).

Traversal works layer by layer over sets of nodes, so a hub repeated by many paths is
expanded once; each node keeps the first few ways it was reached, which become the
evidence paths. Fan-out is capped per node and per layer, so a hub cannot blow up a
query: the result says when a cap cut it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from crossroads.connectors.base import GraphStore
from crossroads.errors import ConfigError

__all__ = ["GraphPath", "RelationPath", "Step", "Traversal", "traverse"]

Direction = Literal["out", "in", "both"]
_PLAIN = re.compile(r"[A-Za-z_][\w.-]*")
_NAME = r"<[^<>]+>|[^|()<>]+"
_STEP = re.compile(
    rf"\s*(?:\((?P<a>{_NAME})\|\^(?P<b>{_NAME})\)|(?P<inv>\^)?(?P<rel><[^<>]+>|[^/^()|<>\s]+))\s*"
)


def _name(relation: str) -> str:
    return relation if _PLAIN.fullmatch(relation) else f"<{relation}>"


def _unquote(text: str) -> str:
    text = text.strip()
    return text[1:-1] if text.startswith("<") and text.endswith(">") else text


@dataclass(frozen=True, slots=True, order=True)
class Step:
    """One hop: follow ``relation`` ``out`` (subject to object), ``in`` or ``both``."""

    relation: str
    direction: Direction = "out"

    def __str__(self) -> str:
        name = _name(self.relation)
        if self.direction == "both":
            return f"({name}|^{name})"
        return f"^{name}" if self.direction == "in" else name


@dataclass(frozen=True, slots=True, order=True)
class RelationPath:
    """A sequence of :class:`Step`; ``str()`` gives its property-path form.

    >>> RelationPath.parse("directed_by/^directed_by").steps[1]
    Step(relation='directed_by', direction='in')
    """

    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ConfigError("a relation path needs at least one step")

    @classmethod
    def parse(cls, text: str) -> RelationPath:
        """Read ``r1/^r2/(r3|^r3)``; a ConfigError names the part it could not read."""
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(
                f"a relation path is written like 'directed_by/^directed_by', got {text!r}"
            )
        steps = []
        for part in _split(text):
            m = _STEP.fullmatch(part)
            if m is None:
                raise ConfigError(
                    f"cannot read {part.strip()!r} in the relation path {text!r}: write a "
                    "relation name, ^name to follow it backwards, or (name|^name) for "
                    "either way; quote odd names as <name>"
                )
            if m.group("a") is not None:
                a, b = _unquote(m.group("a")), _unquote(m.group("b"))
                if a != b:
                    raise ConfigError(
                        f"({m.group('a')}|^{m.group('b')}) in {text!r} mixes two relations; "
                        "an either-way step names one relation twice, as (r|^r)"
                    )
                steps.append(Step(a, "both"))
            else:
                steps.append(Step(_unquote(m.group("rel")), "in" if m.group("inv") else "out"))
        return cls(tuple(steps))

    @classmethod
    def of(cls, value: RelationPath | str | Sequence[Step]) -> RelationPath:
        """A path from its text, its steps, or itself."""
        if isinstance(value, RelationPath):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        return cls(tuple(value))

    @property
    def relations(self) -> frozenset[str]:
        """The relation types the path follows."""
        return frozenset(s.relation for s in self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        return "/".join(str(s) for s in self.steps)

    def __repr__(self) -> str:
        return f"RelationPath.parse({str(self)!r})"


def _split(text: str) -> list[str]:
    """Split on ``/`` outside ``<...>`` quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        if ch == "/" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True, slots=True)
class GraphPath:
    """One chain of edges from the topic entity to an answer: the evidence to cite.

    ``nodes`` has one more element than ``steps``; ``str()`` reads like
    ``Kismet -[directed_by]-> William Dieterle <-[directed_by]- Dark Waters``.
    """

    nodes: tuple[str, ...]
    steps: tuple[Step, ...]
    names: tuple[str, ...] = field(default=(), compare=False)
    """Display names of ``nodes`` (the ids when empty)."""

    @property
    def answer(self) -> str:
        """The node the path ends at."""
        return self.nodes[-1]

    def __str__(self) -> str:
        names = self.names or self.nodes
        out = [names[0]]
        for step, node in zip(self.steps, names[1:], strict=True):
            rel = _name(step.relation)
            out.append(f"<-[{rel}]-" if step.direction == "in" else f"-[{rel}]->")
            out.append(node)
        return " ".join(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Traversal:
    """What following a relation path from some start nodes reached."""

    path: RelationPath
    answers: list[str]
    """Node ids, best supported first (most distinct chains), then in discovery order."""
    evidence: list[GraphPath]
    """One chain per answer, in the same order."""
    support: list[int]
    """How many distinct chains reach each answer."""
    truncated: bool = False
    """A fan-out cap cut the traversal: answers may be incomplete."""
    notes: tuple[str, ...] = ()


def traverse(
    graph: GraphStore,
    starts: Iterable[str],
    path: RelationPath,
    *,
    visible: Callable[[str], bool] | None = None,
    max_fanout: int = 1000,
    max_frontier: int = 10_000,
    exclude_starts: bool = True,
) -> Traversal:
    """Follow ``path`` from ``starts``.

    ``visible`` hides nodes (they are neither passed through nor returned);
    ``max_fanout`` caps the edges read per node and step, ``max_frontier`` the nodes per
    layer. With ``exclude_starts`` the start nodes are not re-entered after the first
    step: "films that share a director with X" does not answer X itself, while a
    first-step self-loop (a film named after its star) is still an answer.
    """
    start_list = list(dict.fromkeys(starts))
    start_set = frozenset(start_list)
    # layer: {node: (support count, first predecessor or None)}
    layer: dict[str, tuple[int, str | None]] = dict.fromkeys(start_list, (1, None))
    history: list[dict[str, tuple[int, str | None]]] = [layer]
    truncated = False
    notes: list[str] = []
    for depth, step in enumerate(path.steps):
        nxt: dict[str, tuple[int, str | None]] = {}
        frontier_noted = False
        for node, (count, _) in layer.items():
            edges = graph.neighbors(
                node, step.relation, direction=step.direction, limit=max_fanout + 1
            )
            if len(edges) > max_fanout:
                truncated = True
                notes.append(
                    f"{node!r} has more than {max_fanout} {step} edges; only the first "
                    f"{max_fanout} were followed"
                )
                edges = edges[:max_fanout]
            for edge in edges:
                other = edge.target if edge.source == node else edge.source
                if step.direction == "both" and edge.source == edge.target == node:
                    other = node
                if exclude_starts and depth and other in start_set:
                    continue
                if visible is not None and not visible(other):
                    continue
                seen = nxt.get(other)
                if seen is None:
                    if len(nxt) >= max_frontier:
                        if not frontier_noted:
                            frontier_noted = True
                            notes.append(
                                f"more than {max_frontier} nodes after step {depth + 1} "
                                f"({step}); the rest were not followed"
                            )
                        truncated = True
                        continue
                    nxt[other] = (count, node)
                else:
                    nxt[other] = (seen[0] + count, seen[1])
        layer = nxt
        history.append(layer)
        if not layer:
            break
    ranked = sorted(layer.items(), key=lambda item: -item[1][0])  # stable: discovery order
    answers = [node for node, _ in ranked]
    support = [count for _, (count, _) in ranked]
    evidence = [_chain(history, a, path, graph) for a in answers]
    return Traversal(
        path=path,
        answers=answers,
        evidence=evidence,
        support=support,
        truncated=truncated,
        notes=tuple(notes),
    )


def _chain(
    history: list[dict[str, tuple[int, str | None]]],
    answer: str,
    path: RelationPath,
    graph: GraphStore,
) -> GraphPath:
    nodes = [answer]
    node: str | None = answer
    for layer in reversed(history[1:]):
        assert node is not None
        node = layer[node][1]
        assert node is not None
        nodes.append(node)
    nodes.reverse()
    steps = tuple(
        # an either-way step is shown in the direction the edge was found
        s if s.direction != "both" else _oriented(graph, s.relation, a, b)
        for s, a, b in zip(path.steps, nodes, nodes[1:], strict=False)
    )
    return GraphPath(
        nodes=tuple(nodes),
        steps=steps,
        names=tuple(graph.node_name(n) for n in nodes),
    )


def _oriented(graph: GraphStore, relation: str, a: str, b: str) -> Step:
    forward = any(e.target == b for e in graph.neighbors(a, relation, direction="out"))
    return Step(relation, "out" if forward else "in")
