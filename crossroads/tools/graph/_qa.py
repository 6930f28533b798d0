"""The knowledge-graph route: :class:`GraphQA` and its tools ``graph.traverse`` and
``graph.ask``.

``graph.traverse`` is the governed primitive: follow relation paths from start nodes.
Its policy admits a path only when the principal may TRAVERSE every relation on it
(``relation:NAME``, or the whole graph ``graph:NAME``); nodes carrying labels are seen
only with TRAVERSE on one of their labels (``label:NAME``), unlabelled nodes by
anyone who may reach them. ``graph.ask`` links the question's entity, plans relation
paths (learned, from names, or proposed by a model) and runs them through
``graph.traverse`` — nested in the audit trail, so a forbidden relation is an audited
denial and never an answer.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crossroads.connectors.base import LLM, GraphStore
from crossroads.errors import AmbiguousEntity, CannotAnswer, ConfigError, PolicyViolation
from crossroads.policy._principal import Principal
from crossroads.tools._runner import (
    Permit,
    QuestionArgs,
    Tool,
    ToolRunner,
    model_gateway,
    runner_for,
)
from crossroads.tools.graph._linker import EntityLinker, LinkedEntity, Mention
from crossroads.tools.graph._paths import GraphPath, RelationPath, Step, Traversal, traverse
from crossroads.tools.graph._planner import (
    Candidate,
    NamePlanner,
    PathModel,
    adjacency,
    explain,
)

if TYPE_CHECKING:
    from crossroads.audit import AuditLog
    from crossroads.connectors.llm import LLMGateway
    from crossroads.policy import Catalog

__all__ = [
    "FitReport",
    "GraphAnswer",
    "GraphAskTool",
    "GraphQA",
    "GraphTraverseTool",
    "TraverseResult",
]

Mode = Literal["learned", "names", "llm"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TraverseResult:
    """What ``graph.traverse`` returns: the first path (of those tried, in order) that
    reached anything, with its answers and evidence."""

    start: tuple[str, ...]
    path: RelationPath | None
    """The path that answered; None when none reached anything."""
    answers: list[str]
    """Node ids, best supported first."""
    names: list[str]
    """Display names of ``answers``."""
    evidence: list[GraphPath]
    truncated: bool = False
    tried: tuple[RelationPath, ...] = ()
    """Every path followed, in order."""
    withheld: tuple[RelationPath, ...] = ()
    """Lower-ranked paths not tried because they cross a relation the principal may not
    traverse."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphAnswer:
    """The answer to a question asked of the graph route."""

    question: str
    answers: list[str]
    """Answer names, best supported first."""
    paths: list[GraphPath]
    """The evidence: one chain of edges from the entity per answer, same order."""
    text: str
    """The answer in words, with the relation path and evidence to cite."""
    entities: tuple[LinkedEntity, ...]
    """The linked topic entity (and how it was matched)."""
    relation_path: RelationPath
    """The relation path that answered."""
    mode: Mode
    """``learned`` (a path learned by fit), ``names`` (cued by relation names and
    synonyms) or ``llm`` (proposed by the model, then validated)."""
    truncated: bool = False
    """A fan-out cap cut the traversal: answers may be incomplete."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FitReport:
    """What :meth:`GraphQA.fit` learned."""

    examples: int
    explained: int
    """Examples some relation path explains (reaches at least one answer)."""
    templates: dict[str, list[tuple[RelationPath, float]]]
    """Each question template (entity as ``<e>``) and its paths with their shares."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Why the other examples taught nothing, with counts."""
    seconds: float = 0.0

    @property
    def paths(self) -> dict[RelationPath, int]:
        """Each learned path and how many templates use it as their best."""
        out: dict[RelationPath, int] = {}
        for dist in self.templates.values():
            if dist:
                out[dist[0][0]] = out.get(dist[0][0], 0) + 1
        return out


# --- the traverse tool ----------------------------------------------------------------------


class _TraverseArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: list[str] = Field(min_length=1, max_length=50, description="Start node ids.")
    paths: list[str] = Field(
        min_length=1,
        max_length=8,
        description="Relation paths like 'directed_by/^directed_by', tried in order; the "
        "first that reaches any node answers.",
    )

    @field_validator("paths")
    @classmethod
    def _readable(cls, paths: list[str]) -> list[str]:
        for p in paths:
            RelationPath.parse(p)  # a ConfigError (ValueError) becomes a validation error
        return paths


@dataclass(frozen=True, slots=True)
class _TraversePlan:
    start: tuple[str, ...]
    paths: tuple[RelationPath, ...]
    withheld: tuple[RelationPath, ...]
    principal: Principal


class GraphTraverseTool(Tool[_TraverseArgs, TraverseResult]):
    """Follows relation paths from start nodes, within the principal's TRAVERSE grants."""

    name: ClassVar[str] = "graph.traverse"
    description: ClassVar[str] = (
        "Follow relation paths from start nodes in the knowledge graph; only relations and "
        "node labels you may traverse are used."
    )
    Args: ClassVar[type[BaseModel]] = _TraverseArgs

    def __init__(self, qa: GraphQA) -> None:
        self._qa = qa

    def authorize(self, args: _TraverseArgs, principal: Principal, catalog: Catalog) -> Permit:
        """Admit the paths up to the first that crosses a forbidden relation; deny when
        that is the first path. Start nodes must be visible to the principal."""
        qa = self._qa
        for node in args.start:
            if not qa.graph.has_node(node) or not qa._visible(principal, catalog)(node):
                # unknown and invisible read the same: existence is not disclosed
                raise PolicyViolation(
                    f"principal {principal.id!r} may not start a traversal at node {node!r}: "
                    "no such node is visible to it",
                    principal=principal.id,
                    securable=f"graph:{qa.graph_name}",
                    rule="graph.node_visibility",
                    privilege="TRAVERSE",
                )
        allowed = qa.allowed_relations(principal, catalog)
        paths = [RelationPath.parse(p) for p in args.paths]
        admitted: list[RelationPath] = []
        for i, path in enumerate(paths):
            forbidden = sorted(path.relations - allowed)
            if forbidden:
                if not admitted:
                    raise PolicyViolation(
                        f"the path {path} crosses relation {forbidden[0]!r}, which principal "
                        f"{principal.id!r} may not traverse; ask an administrator to grant "
                        f"TRAVERSE on relation:{forbidden[0]} (or graph:{qa.graph_name})",
                        principal=principal.id,
                        securable=f"relation:{forbidden[0]}",
                        rule="default deny",
                        privilege="TRAVERSE",
                    )
                return self._permit(args, principal, admitted, paths[i:])
            admitted.append(path)
        return self._permit(args, principal, admitted, [])

    def _permit(
        self,
        args: _TraverseArgs,
        principal: Principal,
        admitted: list[RelationPath],
        withheld: list[RelationPath],
    ) -> Permit:
        relations = sorted({r for p in admitted for r in p.relations})
        policy: dict[str, Any] = {
            "relations": [f"relation:{r}" for r in relations],
            "paths": [str(p) for p in admitted],
        }
        if withheld:
            policy["withheld"] = [str(p) for p in withheld]
        return Permit(
            args=_TraversePlan(tuple(args.start), tuple(admitted), tuple(withheld), principal),
            reason="TRAVERSE granted on " + ", ".join(policy["relations"]),
            rule="graph.traverse",
            policy=policy,
        )

    def _execute(self, plan: _TraversePlan) -> TraverseResult:
        qa = self._qa
        visible = qa._visible(plan.principal, qa.catalog)
        tried: list[RelationPath] = []
        last: Traversal | None = None
        for path in plan.paths:
            tried.append(path)
            last = traverse(
                qa.graph,
                plan.start,
                path,
                visible=visible,
                max_fanout=qa.max_fanout,
                max_frontier=qa.max_frontier,
            )
            if last.answers:
                break
        assert last is not None
        found = bool(last.answers)
        return TraverseResult(
            start=plan.start,
            path=last.path if found else None,
            answers=last.answers,
            names=[qa.graph.node_name(a) for a in last.answers],
            evidence=last.evidence,
            truncated=last.truncated,
            tried=tuple(tried),
            withheld=plan.withheld,
            notes=last.notes,
        )

    def summarize(self, result: TraverseResult) -> dict[str, Any]:
        """The path that answered, how many answers, the paths tried (no node names)."""
        return {
            "path": None if result.path is None else str(result.path),
            "answers": len(result.answers),
            "tried": len(result.tried),
            "truncated": result.truncated,
        }


# --- the ask tool ---------------------------------------------------------------------------


class GraphAskTool(Tool[QuestionArgs, GraphAnswer]):
    """Answers a question by linking its entity and following relation paths."""

    name: ClassVar[str] = "graph.ask"
    description: ClassVar[str] = (
        "Answer a question about entities and their relationships from the knowledge "
        "graph; cites the chains of relations that justify each answer."
    )
    Args: ClassVar[type[BaseModel]] = QuestionArgs

    def __init__(self, qa: GraphQA) -> None:
        self._qa = qa

    def authorize(self, args: QuestionArgs, principal: Principal, catalog: Catalog) -> Permit:
        """Allowed when the principal may traverse at least one relation; every path it
        then follows is governed and audited on its own (``graph.traverse``)."""
        allowed = self._qa.allowed_relations(principal, catalog)
        if not allowed:
            raise PolicyViolation(
                f"principal {principal.id!r} may traverse no relation of graph "
                f"{self._qa.graph_name!r}, so no question can be answered from it; ask an "
                f"administrator for TRAVERSE on relation:NAME or graph:{self._qa.graph_name}",
                principal=principal.id,
                securable=f"graph:{self._qa.graph_name}",
                rule="default deny",
                privilege="TRAVERSE",
            )
        return Permit(
            args=(args.question, principal),
            reason=f"{len(allowed)} relations traversable by {principal.id}",
            rule="graph.relation_visibility",
            policy={"relations": sorted(allowed)},
        )

    def _execute(self, permitted: tuple[str, Principal]) -> GraphAnswer:
        question, principal = permitted
        return self._qa._answer(question, principal)

    def summarize(self, result: GraphAnswer) -> dict[str, Any]:
        """Mode, relation path, answer count (the nodes are in the nested events)."""
        return {
            "mode": result.mode,
            "path": str(result.relation_path),
            "answers": len(result.answers),
            "entities": [e.node for e in result.entities],
        }


# --- the front door -------------------------------------------------------------------------


class GraphQA:
    """Multi-hop question answering over a knowledge graph, governed and audited.

    >>> g = NetworkXGraph.from_triples("kb.txt", sep="|")        # doctest: +SKIP
    >>> qa = GraphQA(g, catalog)                                   # doctest: +SKIP
    >>> qa.fit([("who directed [Kismet]", ["William Dieterle"])])  # doctest: +SKIP
    >>> qa.ask("who directed [Casablanca]", alice).answers         # doctest: +SKIP
    ['Michael Curtiz']

    ``graph_name`` names the graph for grants: TRAVERSE on ``graph:<graph_name>`` covers
    every relation and label in it. ``synonyms`` maps a relation to phrases that cue it
    (``{"directed_by": ["director", "directed"]}``) for planning without examples;
    ``aliases`` maps extra names to node ids for entity linking.
    """

    def __init__(
        self,
        graph: GraphStore,
        catalog: Catalog,
        *,
        audit: AuditLog | None = None,
        runner: ToolRunner | None = None,
        graph_name: str = "default",
        synonyms: Mapping[str, Sequence[str]] | None = None,
        aliases: Mapping[str, str | Sequence[str]] | None = None,
        llm: LLMGateway | LLM | None = None,
        max_hops: int = 3,
        max_fanout: int = 1000,
        max_frontier: int = 10_000,
        max_repairs: int = 2,
    ) -> None:
        if not isinstance(graph, GraphStore):
            raise ConfigError(
                f"GraphQA needs a graph store (NetworkXGraph, Neo4jGraph …), got {graph!r}"
            )
        for name, value in (("max_hops", max_hops), ("max_fanout", max_fanout)):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}", key=name)
        if max_frontier < 1:
            raise ConfigError(f"max_frontier must be at least 1, got {max_frontier}")
        self.graph = graph
        self.catalog = catalog
        self.graph_name = graph_name
        self.max_hops = max_hops
        self.max_fanout = max_fanout
        self.max_frontier = max_frontier
        self.max_repairs = max_repairs
        self.synonyms = {
            r: [p] if isinstance(p, str) else list(p) for r, p in (synonyms or {}).items()
        }
        unknown = sorted(set(self.synonyms) - graph.relations())
        if unknown:
            raise ConfigError(
                f"synonyms name relations the graph does not have: {unknown}; its relations "
                f"are {sorted(graph.relations())}",
                key="synonyms",
            )
        self.linker = EntityLinker(graph, aliases)
        self.linker.check_aliases()
        self.model = PathModel()
        self.runner = runner_for("GraphQA", catalog, runner, audit)
        self.llm = model_gateway(llm, self.runner.audit)
        self._names: NamePlanner | None = None
        self._relations_cache: dict[Principal, tuple[Any, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self.runner.register(GraphTraverseTool(self))
        self.runner.register(GraphAskTool(self))

    # --- governance ----------------------------------------------------------------------

    def allowed_relations(
        self, principal: Principal, catalog: Catalog | None = None
    ) -> frozenset[str]:
        """The relations ``principal`` may traverse: granted one by one, or all of them
        with TRAVERSE on ``graph:<graph_name>``."""
        catalog = catalog or self.catalog
        with self._lock:
            cached = self._relations_cache.get(principal)
        relations = self.graph.relations()
        with self._lock:
            if cached is not None and cached[0] == (catalog.version, relations):
                return cached[1]
        if catalog.is_allowed(principal, "TRAVERSE", f"graph:{self.graph_name}"):
            allowed = frozenset(relations)
        else:
            allowed = catalog.traversable_relations(principal, relations)
        with self._lock:
            if len(self._relations_cache) >= 4096:  # bounded: one entry per principal
                self._relations_cache.clear()
            self._relations_cache[principal] = ((catalog.version, relations), allowed)
        return allowed

    def _visible(self, principal: Principal, catalog: Catalog) -> Any:
        """A ``node -> bool``: unlabelled nodes are visible; a labelled node needs TRAVERSE
        on one of its labels (or on the whole graph)."""
        if catalog.is_allowed(principal, "TRAVERSE", f"graph:{self.graph_name}"):
            return lambda node: True
        seen: dict[str, bool] = {}

        def visible(node: str) -> bool:
            labels = self.graph.node_labels(node)
            if not labels:
                return True
            for label in labels:
                ok = seen.get(label)
                if ok is None:
                    ok = seen[label] = catalog.is_allowed(principal, "TRAVERSE", f"label:{label}")
                if ok:
                    return True
            return False

        return visible

    # --- learning ------------------------------------------------------------------------

    def fit(
        self,
        examples: Iterable[tuple[str, Sequence[str]]],
        *,
        per_template: int = 50,
    ) -> FitReport:
        """Learn relation paths from ``(question, [answers])`` examples.

        Each example's topic entity is linked (``[brackets]`` or spans), the paths of up
        to ``max_hops`` steps either way that best reach its answers are found, and the
        question's template is credited with them. Once a template has ``per_template``
        explained examples, later ones only add weight (the search is skipped). Fitting
        again adds to what was learned.
        """
        began = time.perf_counter()
        adj = adjacency(self.graph)
        searched: dict[str, int] = {}
        skipped: dict[str, int] = {}
        total = explained = 0
        for item in examples:
            total += 1
            try:
                question, answers = item
            except (TypeError, ValueError):
                raise ConfigError(
                    f"fit examples are (question, [answers]) pairs; example {total} is {item!r}"
                ) from None
            if isinstance(answers, str):
                answers = [answers]
            gold = {a for name in answers for a in self._answer_nodes(name)}
            if not gold:
                skipped["no answer is a node of the graph"] = (
                    skipped.get("no answer is a node of the graph", 0) + 1
                )
                continue
            mentions = self.linker.mentions(question)
            best: tuple[float, list[RelationPath], list[str]] | None = None
            for mention in mentions:
                tokens = mention.template(question)
                if searched.get(" ".join(tokens), 0) >= per_template:
                    best = (1.0, [], tokens)  # a well-explained template: count it only
                    break
                for node in mention.nodes:
                    f1, paths = explain(adj, node, gold, max_hops=self.max_hops)
                    if paths and (best is None or f1 > best[0]):
                        best = (f1, paths, tokens)
            if best is None:
                reason = (
                    "no entity of the graph is named in the question"
                    if not any(m.nodes for m in mentions)
                    else f"no path of up to {self.max_hops} steps reaches an answer"
                )
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            explained += 1
            _, paths, tokens = best
            template = " ".join(tokens)
            if paths:
                self.model.add(template, {p: 1.0 / len(paths) for p in paths})
                searched[template] = searched.get(template, 0) + 1
            else:
                self.model.count(template)
        templates = {t: self.model.distribution(t) for t in self.model.templates}
        return FitReport(
            examples=total,
            explained=explained,
            templates=templates,
            skipped=skipped,
            seconds=time.perf_counter() - began,
        )

    def _answer_nodes(self, name: str) -> list[str]:
        hit = self.linker.resolve(name)
        return list(hit[1]) if hit is not None else []

    # --- answering -----------------------------------------------------------------------

    def ask(self, question: str, principal: Principal) -> GraphAnswer:
        """Answer ``question`` as ``principal`` (audited as ``graph.ask``, with each
        traversal nested under it).

        Raises ``CannotAnswer`` when no entity is linked or no path reaches anything
        (``AmbiguousEntity``, with the candidates, when a mention names several nodes
        that all answer), and ``PolicyViolation`` when the path the question needs
        crosses a relation the principal may not traverse.
        """
        answer: GraphAnswer = self.runner.call(
            "graph.ask", {"question": question}, principal=principal
        ).value
        return answer

    def traverse(
        self, start: str | Sequence[str], path: str | RelationPath, principal: Principal
    ) -> TraverseResult:
        """Follow ``path`` from ``start`` as ``principal`` (audited as ``graph.traverse``)."""
        starts = [start] if isinstance(start, str) else list(start)
        result: TraverseResult = self.runner.call(
            "graph.traverse", {"start": starts, "paths": [str(path)]}, principal=principal
        ).value
        return result

    def _names_planner(self) -> NamePlanner:
        relations = self.graph.relations()
        if self._names is None or self._names.relations != relations:
            self._names = NamePlanner(relations, self.synonyms)
        return self._names

    def _plan(
        self, tokens: list[str], nodes: Sequence[str], allowed: frozenset[str]
    ) -> tuple[list[Candidate], list[RelationPath]]:
        """Learned candidates first, then those cued by relation names; a path whose
        first step no entity node has is dropped (a film has no ``^directed_by``) and
        returned second. Paths starting with a relation the principal may not traverse
        are kept unchecked, so running them is denied rather than silently skipped."""
        adj = adjacency(self.graph, allowed)
        steps = {step for node in nodes for step in adj(node)}

        def plausible(path: RelationPath) -> bool:
            first = path.steps[0]
            if first.relation not in allowed:
                return True
            if first.direction == "both":
                return bool({Step(first.relation, "out"), Step(first.relation, "in")} & steps)
            return first in steps

        learned = self.model.candidates(tokens, top=8)
        out = [c for c in learned if plausible(c.path)]
        dropped = [c.path for c in learned if not plausible(c.path)]
        if not out or out[0].score < 0.5:
            seen = {c.path for c in out}
            out += [
                c
                for c in self._names_planner().candidates(
                    tokens, nodes[0], adj, allowed, max_hops=self.max_hops
                )
                if c.path not in seen
            ]
        return out, dropped

    def _rank_mentions(
        self, question: str, principal: Principal
    ) -> list[tuple[float, Mention, list[str]]]:
        visible = self._visible(principal, self.catalog)
        found: list[tuple[Mention, list[str], float | None]] = []
        for mention in self.linker.mentions(question):
            nodes = tuple(n for n in mention.nodes if visible(n))
            if not nodes:
                continue
            mention = dataclasses.replace(mention, nodes=nodes)
            tokens = mention.template(question)
            seen = self.model.distribution(" ".join(tokens))
            found.append((mention, tokens, seen[0][1] if seen else None))
        # a question seen in fit outranks any classifier guess, so the classifier is
        # consulted only when no span leaves a known question
        any_seen = any(share is not None for _, _, share in found)
        ranked: list[tuple[float, Mention, list[str]]] = []
        for mention, tokens, share in found:
            if share is not None:
                score = 2.0 + share
            elif any_seen:
                score = 0.0
            else:
                cands = self.model.candidates(tokens, top=1)
                score = cands[0].score if cands else 0.0
            score += 0.1 * mention.words + (0.2 if mention.text[:1].isupper() else 0.0)
            ranked.append((score, mention, tokens))
        ranked.sort(key=lambda x: -x[0])
        return ranked

    def _answer(self, question: str, principal: Principal) -> GraphAnswer:
        ranked = self._rank_mentions(question, principal)
        if not ranked:
            raise CannotAnswer(
                "no entity of the graph is named in the question (or none you may see); "
                "name it as it appears in the graph, in [brackets] to mark it, or declare an "
                "alias",
                tool="graph.ask",
                reason="no linked entity",
            )
        allowed = self.allowed_relations(principal)
        tried: list[str] = []
        for _, mention, tokens in ranked[:3]:
            found = self._answer_mention(question, principal, mention, tokens, allowed)
            if isinstance(found, GraphAnswer):
                return found
            tried.append(found)
        raise CannotAnswer(
            "the graph holds no answer: " + "; ".join(tried),
            tool="graph.ask",
            reason="no path reached an answer",
        )

    def _answer_mention(
        self,
        question: str,
        principal: Principal,
        mention: Mention,
        tokens: list[str],
        allowed: frozenset[str],
    ) -> GraphAnswer | str:
        """The answer through ``mention``, or a sentence saying why there is none."""
        notes: list[str] = []
        proposed: list[Candidate] = []
        if self.llm is not None:
            from crossroads.tools.graph._llm import llm_paths

            proposed, llm_notes = llm_paths(self, question, principal, mention, allowed)
            notes += llm_notes
        planned, dropped = self._plan(tokens, mention.nodes, allowed)
        plans = proposed + [c for c in planned if c not in proposed]
        if not plans and dropped:
            return (
                f"no path from {mention.text!r} fits the question: the paths it reads as "
                f"({', '.join(str(p) for p in dropped)}) start with a relation "
                f"{mention.text!r} does not have"
            )
        if not plans:
            return (
                f"no relation path was found for the question about {mention.text!r}; fit "
                "GraphQA on example questions or declare relation synonyms"
            )
        paths = list(dict.fromkeys(c.path for c in plans))[:8]
        results: list[tuple[str, TraverseResult]] = []
        for node in mention.nodes:
            result: TraverseResult = self.runner.call(
                "graph.traverse",
                {"start": [node], "paths": [str(p) for p in paths]},
                principal=principal,
            ).value
            if result.answers:
                results.append((node, result))
        if not results:
            tried = ", ".join(str(p) for p in paths)
            return f"no path from {mention.text!r} ({tried}) reached anything"
        if len(results) > 1:
            raise AmbiguousEntity(
                f"{mention.text!r} names {len(mention.nodes)} nodes and the question has "
                f"answers for {len(results)} of them: "
                + ", ".join(
                    repr(self.graph.node_name(n))
                    + ("" if self.graph.node_name(n) == n else f" (id {n})")
                    for n, _ in results
                )
                + "; ask again naming one exactly",
                mention=mention.text,
                candidates=[n for n, _ in results],
                tool="graph.ask",
            )
        node, result = results[0]
        if len(mention.nodes) > 1:
            notes.append(
                f"{mention.text!r} could name {len(mention.nodes)} nodes; only "
                f"{self.graph.node_name(node)!r} has an answer"
            )
        assert result.path is not None
        chosen = next(c for c in plans if c.path == result.path)
        mode: Mode = {"llm": "llm", "names": "names"}.get(chosen.source, "learned")  # type: ignore[assignment]
        notes += list(result.notes)
        if result.withheld:
            notes.append(
                "not tried (relations you may not traverse): "
                + ", ".join(str(p) for p in result.withheld)
            )
        entity = LinkedEntity(mention.text, node, mention.method, mention.nodes)
        return GraphAnswer(
            question=question,
            answers=result.names,
            paths=result.evidence,
            text=answer_text(result, self.graph.node_name(node)),
            entities=(entity,),
            relation_path=result.path,
            mode=mode,
            truncated=result.truncated,
            notes=tuple(notes),
        )


def answer_text(result: TraverseResult, entity: str, *, shown: int = 20) -> str:
    """The answers in words, the relation path, and the evidence chains to cite."""
    names = result.names
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    head = (
        f"{names[0]}."
        if len(names) == 1
        else f"{len(names)} answers: {', '.join(names[:shown])}{more}."
    )
    lines = [head, f"Path from {entity}: {result.path}."]
    lines += ["Evidence:"] + [f"- {p}" for p in result.evidence[:5]]
    if len(result.evidence) > 5:
        lines.append(f"- … {len(result.evidence) - 5} more chains")
    if result.truncated:
        lines.append("(A fan-out cap cut the traversal: the answers may be incomplete.)")
    return "\n".join(lines)
