"""Relation-path planning: learned from examples, or read from relation names.

**Learned** (:class:`PathModel`). ``fit`` takes questions with their answers. For each
it links the topic entity, searches the relation paths of up to three hops in either
direction that reach the answers from it (:func:`explain`, set-at-a-time, so a hub is
expanded once per path), and credits the question's *template* — the question with
the entity replaced by ``<e>`` — with the paths that explain the answers best. At ask
time a known template gives its paths directly; an unseen wording (a paraphrase) is
classified by a multinomial naive Bayes model over the templates' stems, word pairs
and length (:func:`features`), trained on the same credit.

**From names** (:class:`NamePlanner`). Without examples, the words of the question are
matched to relation names and declared synonyms (by stem: ``directed``, ``director``
and ``directs`` all cue ``directed_by``); the cued relations are chained outwards from
the entity, nearest cue first, each step's direction read off the graph. "Share" /
"same" / "also" before a cue makes it a there-and-back step ("films that share a
director with X": ``directed_by/^directed_by``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from crossroads.connectors.base import GraphStore
from crossroads.tools.graph._paths import RelationPath, Step
from crossroads.tools.graph._text import stem, tokenize

__all__ = ["ENTITY", "NamePlanner", "PathModel", "explain", "features"]

ENTITY = "<e>"
"""The placeholder that stands for the topic entity in a template."""

_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "by",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "with",
        "has",
        "have",
        "had",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "and",
        "or",
        "as",
        "that",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "how",
        "this",
        "these",
        "those",
        "it",
        "its",
    ]
)
_SHARE_CUES = frozenset({"share", "shared", "sharing", "same", "also", "other", "common"})


def features(tokens: Sequence[str]) -> list[str]:
    """A template's features for the classifier: stemmed words, adjacent pairs, pairs one
    word apart (``share _ director``) and a length bucket (short questions are mostly
    one hop). ``<e>`` is kept as a word."""
    stems = [t if t == ENTITY else stem(t) for t in tokens]
    return (
        stems
        + [f"{a} {b}" for a, b in itertools.pairwise(stems)]
        + [f"{a} _ {b}" for a, b in zip(stems, stems[2:], strict=False)]
        + [f"len:{min(len(tokens) // 3, 5)}"]
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A relation path proposed for a question, with how sure the planner is."""

    path: RelationPath
    score: float
    """In (0, 1]: the template's share of credit, or the classifier's posterior."""
    source: str
    """``template`` (seen in fit), ``similar`` (classified), or ``names``."""


class PathModel:
    """Question templates → relation paths, learned from answered examples."""

    def __init__(self, *, alpha: float = 0.5, min_share: float = 0.05) -> None:
        self.alpha = alpha
        self.min_share = min_share
        self.templates: dict[str, dict[RelationPath, float]] = {}
        self.counts: dict[str, int] = {}
        self._nb: _NaiveBayes | None = None

    def __len__(self) -> int:
        return len(self.templates)

    def add(self, template: str, credit: Mapping[RelationPath, float]) -> None:
        """Credit ``template`` (one example) with paths; the weights should sum to 1."""
        dist = self.templates.setdefault(template, {})
        for path, weight in credit.items():
            dist[path] = dist.get(path, 0.0) + weight
        self.counts[template] = self.counts.get(template, 0) + 1
        self._nb = None

    def count(self, template: str) -> None:
        """One more example of an already-explained template (credit by its share)."""
        self.counts[template] = self.counts.get(template, 0) + 1
        self._nb = None

    def distribution(self, template: str) -> list[tuple[RelationPath, float]]:
        """The template's paths and their shares of credit, best first, noise dropped."""
        dist = self.templates.get(template)
        if not dist:
            return []
        total = sum(dist.values())
        ranked = sorted(dist.items(), key=lambda item: (-item[1], str(item[0])))
        return [(p, w / total) for p, w in ranked if w / total >= self.min_share]

    def candidates(self, tokens: Sequence[str], *, top: int = 4) -> list[Candidate]:
        """Paths for a template, best first: its own credit when it was seen in fit,
        else the classifier's posterior (a paraphrase of seen templates)."""
        template = " ".join(tokens)
        seen = self.distribution(template)
        if seen:
            return [Candidate(p, s, "template") for p, s in seen[:top]]
        if not self.templates:
            return []
        return [
            Candidate(p, s, "similar")
            for p, s in self._classifier().posterior(features(tokens))[:top]
            if s >= 0.01
        ]

    def _classifier(self) -> _NaiveBayes:
        if self._nb is None:
            nb = _NaiveBayes(self.alpha)
            for template, n in self.counts.items():
                feats = features(template.split(" "))
                for path, share in self.distribution(template):
                    nb.add(feats, path, n * share)
            self._nb = nb
        return self._nb

    @property
    def paths(self) -> frozenset[RelationPath]:
        """Every path some template was credited with."""
        return frozenset(p for dist in self.templates.values() for p in dist)


class _NaiveBayes:
    """Multinomial naive Bayes with additive smoothing, weighted examples."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.feature_counts: dict[RelationPath, dict[str, float]] = {}
        self.totals: dict[RelationPath, float] = {}
        self.priors: dict[RelationPath, float] = {}
        self.vocab: set[str] = set()

    def add(self, feats: Sequence[str], label: RelationPath, weight: float) -> None:
        counts = self.feature_counts.setdefault(label, {})
        for f in feats:
            counts[f] = counts.get(f, 0.0) + weight
        self.totals[label] = self.totals.get(label, 0.0) + weight * len(feats)
        self.priors[label] = self.priors.get(label, 0.0) + weight
        self.vocab.update(feats)

    def posterior(self, feats: Sequence[str]) -> list[tuple[RelationPath, float]]:
        known = [f for f in feats if f in self.vocab]
        if not any(f != ENTITY and not f.startswith("len:") for f in known) or not self.priors:
            return []
        n = sum(self.priors.values())
        v = len(self.vocab)
        logs: dict[RelationPath, float] = {}
        for label, prior in self.priors.items():
            counts = self.feature_counts[label]
            denom = math.log(self.totals[label] + self.alpha * v)
            score = math.log(prior / n)
            for f in known:
                score += math.log(counts.get(f, 0.0) + self.alpha) - denom
            logs[label] = score
        top = max(logs.values())
        exp = {label: math.exp(s - top) for label, s in logs.items()}
        z = sum(exp.values())
        return sorted(((p, e / z) for p, e in exp.items()), key=lambda x: (-x[1], str(x[0])))


# --- explaining an example: which paths reach its answers? ---------------------------------

Adjacency = Callable[[str], Mapping[Step, Sequence[str]]]


def adjacency(graph: GraphStore, relations: frozenset[str] | None = None) -> Adjacency:
    """A memoised ``node -> {step: neighbours}`` over ``graph`` (only ``relations``)."""
    memo: dict[str, dict[Step, list[str]]] = {}

    def get(node: str) -> Mapping[Step, Sequence[str]]:
        found = memo.get(node)
        if found is None:
            found = {}
            for edge in graph.neighbors(node, None, direction="both"):
                if relations is not None and edge.relation not in relations:
                    continue
                if edge.source == node:
                    found.setdefault(Step(edge.relation, "out"), []).append(edge.target)
                if edge.target == node:
                    found.setdefault(Step(edge.relation, "in"), []).append(edge.source)
            memo[node] = found
        return found

    return get


def explain(
    adj: Adjacency,
    start: str,
    answers: Iterable[str],
    *,
    max_hops: int = 3,
    max_frontier: int = 2000,
) -> tuple[float, list[RelationPath]]:
    """The relation paths from ``start`` whose end nodes best match ``answers`` (F1).

    Returns ``(best F1, paths with that F1)``; ``(0.0, [])`` when no path of at most
    ``max_hops`` steps reaches any answer. Shorter paths win: the search stops deepening
    once some path reaches exactly the answers. The start is not re-entered after the
    first step (as in :func:`traverse`); frontiers larger than ``max_frontier`` are
    scored but not expanded.
    """
    gold = frozenset(answers)
    if not gold:
        return 0.0, []
    # for the last step: the nodes one step before an answer, by the step that leads on
    before: dict[Step, set[str]] = {}
    for answer in gold:
        for step, others in adj(answer).items():
            back = Step(step.relation, "in" if step.direction == "out" else "out")
            before.setdefault(back, set()).update(others)
    best, best_paths = 0.0, []
    frontier: list[tuple[tuple[Step, ...], frozenset[str]]] = [((), frozenset({start}))]
    for depth in range(max_hops):
        last = depth == max_hops - 1
        grown: dict[tuple[Step, ...], set[str]] = {}
        for steps, nodes in frontier:
            if len(nodes) > max_frontier:
                continue
            if last:  # only steps that can end at an answer from this frontier
                wanted = [s for s, pre in before.items() if not nodes.isdisjoint(pre)]
                for step in wanted:
                    bucket: set[str] = set()
                    for node in nodes:
                        bucket.update(adj(node).get(step, ()))
                    grown[(*steps, step)] = bucket
                continue
            for node in nodes:
                for step, others in adj(node).items():
                    found = grown.get((*steps, step))
                    if found is None:
                        found = grown[(*steps, step)] = set()
                    found.update(others)
        frontier = []
        for steps, reached in grown.items():
            if depth:
                reached.discard(start)
            if not reached:
                continue
            hit = sum(1 for a in gold if a in reached)
            if hit:
                f1 = 2 * hit / (len(reached) + len(gold))
                if f1 > best + 1e-12:
                    best, best_paths = f1, [RelationPath(steps)]
                elif abs(f1 - best) <= 1e-12:
                    best_paths.append(RelationPath(steps))
            if not last:
                frontier.append((steps, frozenset(reached)))
        if best >= 1.0 - 1e-12 or not frontier:
            break
    return best, best_paths


# --- planning from relation names and synonyms ---------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def relation_words(relation: str) -> list[str]:
    """The content words of a relation name: ``directed_by`` -> ``[directed]``,
    ``METABOLISED_BY`` -> ``[metabolised]``, ``hasImdbRating`` -> ``[imdb, rating]``."""
    spaced = _CAMEL.sub(" ", relation).replace("_", " ").replace("-", " ")
    return [t.text for t in tokenize(spaced) if t.text not in _FUNCTION_WORDS]


class NamePlanner:
    """Relation paths cued by the question's words (relation names and synonyms)."""

    def __init__(
        self,
        relations: Iterable[str],
        synonyms: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.relations = frozenset(relations)
        # (stem sequence) -> relations it cues; single words and declared phrases
        self.cues: dict[tuple[str, ...], set[str]] = {}
        for relation in self.relations:
            for word in relation_words(relation):
                self.cues.setdefault((stem(word),), set()).add(relation)
        for relation, phrases in (synonyms or {}).items():
            for phrase in [phrases] if isinstance(phrases, str) else phrases:
                stems = tuple(stem(t.text) for t in tokenize(phrase))
                if stems:
                    self.cues.setdefault(stems, set()).add(relation)
        self.longest = max((len(k) for k in self.cues), default=1)

    def mentions(self, tokens: Sequence[str]) -> list[tuple[int, frozenset[str], bool]]:
        """``(position, relations cued, share cue)`` in question order."""
        stems = [t if t == ENTITY else stem(t) for t in tokens]
        found: list[tuple[int, frozenset[str], bool]] = []
        i = 0
        while i < len(stems):
            for n in range(min(self.longest, len(stems) - i), 0, -1):
                rels = self.cues.get(tuple(stems[i : i + n]))
                if rels:
                    before = {tokens[j] for j in range(max(0, i - 3), i)}
                    found.append((i, frozenset(rels), bool(before & _SHARE_CUES)))
                    i += n
                    break
            else:
                i += 1
        return found

    def candidates(
        self,
        tokens: Sequence[str],
        start: str,
        adj: Adjacency,
        allowed: frozenset[str],
        *,
        max_hops: int = 3,
    ) -> list[Candidate]:
        """Paths from the cues, nearest the entity first, directions read off the graph
        (only through ``allowed`` relations; a forbidden cued relation stays in the path
        so that running it is denied, not silently replaced)."""
        if ENTITY not in tokens:
            return []
        at = tokens.index(ENTITY)
        merged: list[tuple[int, frozenset[str], bool]] = []
        for m in self.mentions(tokens):
            if merged and merged[-1][1] == m[1] and (merged[-1][0] < at) == (m[0] < at):
                merged[-1] = (merged[-1][0], m[1], merged[-1][2] or m[2])
            else:
                merged.append(m)
        cues = sorted(merged, key=lambda m: (abs(m[0] - at), m[0]))
        if not cues:
            return []
        out: list[Candidate] = []
        # one reading per choice of relation at the nearest ambiguous cue (bounded)
        for choice in _choices([sorted(rels) for _, rels, _ in cues], limit=8):
            steps: list[Step] = []
            frontier = {start}
            for (_, _, share), relation in zip(cues, choice, strict=True):
                if len(steps) >= max_hops:
                    break
                if relation not in allowed:
                    steps.append(Step(relation, "both"))
                    frontier = set()
                    break
                ways = [
                    d for d in ("out", "in") if any(Step(relation, d) in adj(n) for n in frontier)
                ]
                if not ways:
                    break
                if share and len(steps) + 2 <= max_hops:
                    there = ways[0]
                    back = "in" if there == "out" else "out"
                    steps += [Step(relation, there), Step(relation, back)]  # type: ignore[arg-type]
                else:
                    steps.append(Step(relation, "both" if len(ways) == 2 else ways[0]))  # type: ignore[arg-type]
                frontier = _advance(frontier, steps[-2:] if share else steps[-1:], adj, start)
            if steps:
                path = RelationPath(tuple(steps))
                if all(c.path != path for c in out):
                    covered = len(steps) / max(len(cues), 1)
                    out.append(Candidate(path, 0.5 * min(1.0, covered), "names"))
        return out


def _advance(frontier: set[str], steps: Sequence[Step], adj: Adjacency, start: str) -> set[str]:
    for step in steps:
        nxt: set[str] = set()
        for node in frontier:
            found = adj(node)
            if step.direction == "both":
                nxt.update(found.get(Step(step.relation, "out"), ()))
                nxt.update(found.get(Step(step.relation, "in"), ()))
            else:
                nxt.update(found.get(step, ()))
        nxt.discard(start)
        frontier = nxt
    return frontier


def _choices(options: list[list[str]], *, limit: int) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for opts in options:
        combos = [(*c, o) for c in combos for o in opts][:limit]
    return combos
