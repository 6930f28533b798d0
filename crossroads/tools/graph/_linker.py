"""Entity linking: which nodes of the graph does a question name?

A mention is matched at the strictest level that finds it: **exact** (the text is a
node's id or display name), **alias** (a declared alternative name), **normalised**
(case, accents and punctuation ignored: ``chloe sevigny`` finds ``Chloë Sevigny``) and
**plural** (each word made singular: ``statins`` finds ``Statin``). Text in
``[brackets]`` (MetaQA's convention) is taken as the mention; otherwise every span of
up to as many words as the longest name is looked up, and the planner picks among the
spans by how well the rest of the question reads as a known question.

When one mention matches several nodes at its level, all of them are kept as
candidates: the caller disambiguates by the graph or reports the ambiguity.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from crossroads.connectors.base import GraphStore
from crossroads.errors import ConfigError
from crossroads.tools.graph._planner import ENTITY
from crossroads.tools.graph._text import Token, key, loose_key, singular, tokenize

__all__ = ["EntityLinker", "LinkedEntity", "Mention"]

Method = Literal["exact", "alias", "normalised", "plural"]
_BRACKETS = re.compile(r"\[([^\[\]]+)\]")
_RANK: dict[str, int] = {"exact": 0, "alias": 1, "normalised": 2, "plural": 3}


def _glued(ch: str) -> bool:
    """Punctuation that can belong to a name it touches (not brackets or quotes)."""
    return not ch.isspace() and not ch.isalnum() and ch not in "[]()\"'“”‘’,;:"


@dataclass(frozen=True, slots=True)
class Mention:
    """A span of the question that names one or more nodes."""

    text: str
    """The span as written in the question."""
    start: int
    end: int
    nodes: tuple[str, ...]
    """Every node the span names at its matching level (several: ambiguous)."""
    method: Method
    bracketed: bool = False
    words: int = 1
    """How many words the span has."""

    def template(self, question: str) -> list[str]:
        """The question's folded words with this span replaced by ``<e>``."""
        before = [t.text for t in tokenize(question[: self.start])]
        after = [t.text for t in tokenize(question[self.end :])]
        return [*before, ENTITY, *after]


@dataclass(frozen=True, slots=True)
class LinkedEntity:
    """The node a question's mention was linked to, and how."""

    mention: str
    node: str
    method: Method
    candidates: tuple[str, ...] = ()
    """Every node the mention could name (the chosen one included)."""


class EntityLinker:
    """An index of a graph's node names for linking questions to nodes.

    Built on first use from :meth:`GraphStore.nodes` and ``node_name``, and rebuilt
    when the graph's node or edge count has changed; ``aliases`` maps extra names to
    node ids (``{"paracetamol": "Acetaminophen"}``).
    """

    def __init__(
        self, graph: GraphStore, aliases: Mapping[str, str | Sequence[str]] | None = None
    ) -> None:
        self.graph = graph
        self._aliases: dict[str, tuple[str, ...]] = {}
        for name, nodes in (aliases or {}).items():
            targets = (nodes,) if isinstance(nodes, str) else tuple(nodes)
            if not name.strip() or not targets:
                raise ConfigError(
                    f"alias {name!r} -> {nodes!r}: an alias needs a name and at least one node",
                    key="aliases",
                )
            self._aliases[name] = targets
        self._lock = threading.Lock()
        self._built: tuple[int, int] | None = None  # the graph's (nodes, edges) when built
        self._exact: dict[str, list[str]] = {}
        self._norm: dict[str, list[str]] = {}
        self._loose: dict[str, list[str]] = {}
        self._alias: dict[str, list[str]] = {}
        self._longest = 1

    def check_aliases(self) -> None:
        """ConfigError when an alias names a node the graph does not have."""
        for name, targets in self._aliases.items():
            for node in targets:
                if not self.graph.has_node(node):
                    raise ConfigError(
                        f"alias {name!r} names node {node!r}, which is not in the graph",
                        key="aliases",
                    )

    def _build(self) -> None:
        """Index the node names; again whenever the graph's size has changed."""
        size = (self.graph.node_count(), self.graph.edge_count())
        with self._lock:
            if self._built == size:
                return
            self._exact, self._norm, self._loose, self._alias = {}, {}, {}, {}
            for node in self.graph.nodes():
                name = self.graph.node_name(node)
                for text in {node, name}:
                    self._add(self._exact, text, node)
                    self._add(self._norm, key(text), node)
                    self._add(self._loose, loose_key(text), node)
            self.check_aliases()
            for name, targets in self._aliases.items():
                for node in targets:
                    self._add(self._alias, key(name), node)
            longest = max((k.count(" ") + 1 for k in self._norm), default=1)
            longest = max([longest, *(k.count(" ") + 1 for k in self._alias)])
            self._longest = min(longest, 16)
            self._built = size

    @staticmethod
    def _add(index: dict[str, list[str]], text: str, node: str) -> None:
        if not text:
            return
        bucket = index.setdefault(text, [])
        if node not in bucket:
            bucket.append(node)

    def resolve(self, text: str) -> tuple[Method, tuple[str, ...]] | None:
        """The nodes ``text`` names at the strictest level that finds any."""
        self._build()
        exact = self._exact.get(text.strip())
        if exact:
            return "exact", tuple(exact)
        norm = key(text)
        if not norm:
            return None
        for method, index, probe in (
            ("alias", self._alias, norm),
            ("normalised", self._norm, norm),
            ("plural", self._loose, " ".join(singular(w) for w in norm.split(" "))),
        ):
            found = index.get(probe)
            if found:
                return method, tuple(found)  # type: ignore[return-value]
        return None

    def mentions(self, question: str) -> list[Mention]:
        """Every span of ``question`` that names a node, most specific first.

        A ``[bracketed]`` span is the topic entity: when present, only bracketed
        spans are returned (with ``nodes=()`` when nothing of that name exists).
        """
        self._build()
        bracketed = list(_BRACKETS.finditer(question))
        if bracketed:
            found = []
            for m in bracketed:
                hit = self.resolve(m.group(1))
                method, nodes = hit if hit is not None else ("exact", ())
                found.append(
                    Mention(
                        text=m.group(1),
                        start=m.start(),
                        end=m.end(),
                        nodes=nodes,
                        method=method,
                        bracketed=True,
                        words=len(tokenize(m.group(1))),
                    )
                )
            return found
        return self._spans(question, tokenize(question))

    def _spans(self, question: str, tokens: list[Token]) -> list[Mention]:
        out: list[Mention] = []
        for i in range(len(tokens)):
            for n in range(min(self._longest, len(tokens) - i), 0, -1):
                start, end = tokens[i].start, tokens[i + n - 1].end
                start, end = self._widen(question, start, end)
                text = question[start:end]
                hit = self._span_hit(text, tokens[i : i + n])
                if hit is not None:
                    method, nodes = hit
                    out.append(Mention(text, start, end, nodes, method, words=n))
        out.sort(key=lambda m: (-m.words, _RANK[m.method], m.start))
        return out

    def _widen(self, question: str, start: int, end: int) -> tuple[int, int]:
        """The span grown over punctuation touching it (``Moulin Rouge!``, ``+1``) when
        that names a node exactly; else the span as it is."""
        left, right = start, end
        while left > 0 and _glued(question[left - 1]):
            left -= 1
        while right < len(question) and _glued(question[right]):
            right += 1
        for a, b in ((left, right), (start, right), (left, end)):
            if (a, b) != (start, end) and question[a:b] in self._exact:
                return a, b
        return start, end

    def _span_hit(self, text: str, words: list[Token]) -> tuple[Method, tuple[str, ...]] | None:
        exact = self._exact.get(text)
        if exact:
            return "exact", tuple(exact)
        norm = " ".join(t.text for t in words)
        for method, index, probe in (
            ("alias", self._alias, norm),
            ("normalised", self._norm, norm),
            ("plural", self._loose, " ".join(singular(t.text) for t in words)),
        ):
            found = index.get(probe)
            if found:
                return method, tuple(found)  # type: ignore[return-value]
        return None

    def names(self, nodes: Iterable[str]) -> list[str]:
        """Display names of ``nodes``."""
        return [self.graph.node_name(n) for n in nodes]
