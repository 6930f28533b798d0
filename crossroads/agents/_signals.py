"""Signals: the evidence a routing decision rests on, computed on the caller's data.

Every signal is measured against what the principal may see — the visible schema and
the values the principal's row filters admit, the relations and nodes the principal
may traverse, the documents the principal may read — so a decision never rests on
(or reveals) anything the principal could not query. Features for the model are
counts and cues that mean the same in any domain (a schema hit is a schema hit,
whatever the table is called), which is what lets a model fitted on one domain's
labelled questions route another's.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossroads.agents._types import ROUTES, Route
from crossroads.errors import PolicyViolation
from crossroads.policy._principal import Principal

if TYPE_CHECKING:
    from crossroads.tools.graph import GraphQA
    from crossroads.tools.long_context import LongContext
    from crossroads.tools.rag import RAG
    from crossroads.tools.sql import GovernedSQL

__all__ = ["FEATURES", "SignalExtractor", "Signals", "split_compound"]

_AGGREGATE = {"count", "avg", "sum", "max", "min"}
_SUPERLATIVE = {"most", "least", "most_age", "least_age", "top"}
_COMPARE = {">", "<", ">=", "<=", ">age", "<age", "between"}
_GROUP = {"each", "order", "order_asc", "order_desc"}

_DOC_CUES = re.compile(
    r"\b(say|says|said|state|states|stated|describe|describes|explain|explains|according|"
    r"recommend|recommends|recommended|recommendation|guidance|advise|advice|advises|"
    r"mention|mentions|warn|warns|warning|warnings|instruct|instructions|procedure|"
    r"what should|how should|what is the (?:recommended|advice|guidance)|documented|"
    r"wording|section|policy|text)\b",
    re.I,
)
_HOLISTIC_CUES = re.compile(
    r"\b(summari[sz]e|summary|summaries|overview|compare|comparison|contrast|differences?|"
    r"every|all (?:the |of the |our )?\w+|across|each of (?:the|our)|common themes?|"
    r"whole|entire|throughout|in total across)\b",
    re.I,
)
_CHAIN = re.compile(
    # a relative clause after some word (not the question's opening "Which X are …")
    r"(?<=\w)\s+(?:that|which|who|whose)\b(?:\s+\w+){0,3}?\s+\b(?:are|is|were|was|have|has|"
    r"interact\w*|inhibit\w*|induc\w*|metaboli[sz]\w*|contain\w*|manufactur\w*|treat\w*|"
    r"indicat\w*|contraindicat\w*|direct\w*|writ\w*|star\w*|act\w*)\b|\bof the\b.+\bof\b",
    re.I,
)
_MODAL = re.compile(
    r"\b(must|should|may|might|can|could|allowed|permitted|required|recommended|advised)\b",
    re.I,
)
_FORMS: dict[str, re.Pattern[str]] = {
    "q.how_many": re.compile(
        r"^\s*(how many|how much|what (?:is|was|were) the (?:total|number|average|count))\b",
        re.I,
    ),
    "q.what_does": re.compile(r"\b(what|how) (?:does|do|did|should)\b", re.I),
    "q.which_who": re.compile(r"^\s*(which|who|whom|whose)\b", re.I),
    "q.summarise": re.compile(
        r"^\s*(summari[sz]e|give an overview|overview|compare|contrast)\b", re.I
    ),
    "q.list": re.compile(r"^\s*(list|show|name|give me)\b", re.I),
    "q.why": re.compile(r"^\s*(why|how (?:is|are|should|can|do))\b", re.I),
}  # fmt: skip
_OPENERS = (
    r"(?:what|which|who|whom|whose|how|when|where|why|does|do|did|is|are|was|were|can|list|"
    r"show|summari[sz]e|compare|give|tell|name)\b"
)
_SPLIT = re.compile(
    # after a comma (", and …"): a new question or an imperative
    r"(?P<comma>\s*,\s*(?:and\s+|also\s+)?)(?=" + _OPENERS + ")"
    # after a bare "and": only a wh-word or an imperative ("… and are metabolised by …"
    # is one question with two verbs)
    r"|(?P<soft>\s+and\s+(?:also\s+)?)"
    r"(?=(?:what|which|who|whom|whose|how|when|where|why|list|show|summari[sz]e|compare|"
    r"give|tell)\b)"
    # after "?" or ";": any question ("…? Does …", "…; is …")
    r"|(?P<hard>\s*[;?]\s*(?:and\s+|also\s+)?)(?=" + _OPENERS + ")",
    re.I,
)
_OPENS = re.compile(r"^\s*" + _OPENERS, re.I)

FEATURES: tuple[str, ...] = (
    "bias",
    "sql.tables",
    "sql.columns",
    "sql.values",
    "sql.any",
    "sql.coverage",
    "sql.numbers",
    "sql.year",
    "cue.aggregate",
    "cue.superlative",
    "cue.compare",
    "cue.group",
    "graph.entities",
    "graph.relations",
    "graph.chain",
    "graph.entity_relation",
    "graph.relation_only",
    "sql.values_only",
    "docs.coverage",
    "docs.strong",
    "docs.weak",
    "docs.cue",
    "docs.modal",
    "docs.collection",
    "holistic.cue",
    "holistic.fits",
    "corpus.fits",
    "corpus.over",
    *_FORMS,
)
"""The model's inputs, in order (every one means the same in any domain)."""


def split_compound(question: str) -> list[str]:
    """``"How many X …, and what does the label say about Y?"`` → the two questions;
    a question with one clause comes back alone. A part needs three words or more."""
    pieces: list[str] = []
    last = 0
    for m in _SPLIT.finditer(question):
        left = question[last : m.start()].strip(" ,;")
        # after "and" or a comma, the left part must be a question of its own: "Across
        # the whole set, how do … differ?" is one question
        if m.group("hard") is None and not _OPENS.match(left):
            continue
        if len(left.split()) >= 3 and len(question[m.end() :].split()) >= 3:
            pieces.append(left)
            last = m.end()
    pieces.append(question[last:].strip(" ,;"))
    out = [p[0].upper() + p[1:] if p else p for p in pieces if p]
    return [p if p.endswith("?") or len(out) == 1 else p + "?" for p in out] or [question]


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """What was measured for one question and principal."""

    values: Mapping[str, Any]
    """The signals by name, readable (lists of hits, numbers, flags)."""
    features: Mapping[str, float]
    """The model's inputs (:data:`FEATURES`)."""
    available: tuple[Route, ...]
    """The routes this app has and the principal may use for this question."""
    unavailable: Mapping[Route, str] = field(default_factory=dict)
    """Routes left out, and why (not configured, nothing readable, over the budget)."""
    scope: tuple[str, ...] | None = None
    """Collections a holistic question names (long-context reads only those)."""


_FUNCTION_WORDS = frozenset(
    """a an the what which who whom whose where when why how is are was were be been do does
    did of in on at to for from by with and or not no yes more most less least many much all
    any some each every other than this that these those it its there here one ones it's
    can could would should will may might must has have had""".split()  # noqa: SIM905
)


def _is_named(text: str, start: int) -> bool:
    """A proper name rather than a plain word: several words, a capital after the
    question's first letter, or a digit."""
    return (
        len(text.split()) > 1
        or any(ch.isdigit() for ch in text)
        or (start > 0 and any(ch.isupper() for ch in text))
        or any(ch.isupper() for ch in text[1:])
    )


def _log(n: float) -> float:
    return math.log1p(max(n, 0.0))


class SignalExtractor:
    """Computes :class:`Signals` for the routes an app has."""

    def __init__(
        self,
        *,
        sql: GovernedSQL | None = None,
        graph: GraphQA | None = None,
        rag: RAG | None = None,
        long_context: LongContext | None = None,
    ) -> None:
        self.sql = sql
        self.graph = graph
        self.rag = rag
        self.long_context = long_context
        self._lock = threading.Lock()
        self._corpus: dict[tuple[Any, ...], int] = {}
        self._planner: tuple[frozenset[str], Any] | None = None

    # --- per route ---------------------------------------------------------------------

    def _sql(
        self, question: str, principal: Principal, out: dict[str, Any]
    ) -> tuple[str | None, set[str]]:
        """Why the route is unavailable (or None), and the question's words that name a
        visible table or column."""
        from crossroads.tools.sql._nl import coverage, link

        if self.sql is None:
            return "not configured", set()
        lexicon = self.sql.lexicon(principal)
        if not lexicon.columns:
            return "no table is visible to you", set()
        tables: list[str] = []
        columns: list[str] = []
        values: list[str] = []
        cues: list[str] = []
        numbers = 0
        year = False
        schema_words: set[str] = set()
        for m in link(question, lexicon):
            if m.kind in ("table", "column"):
                schema_words.add(m.text.lower())
            if m.kind == "table":
                tables.append(m.targets[0][1])
            elif m.kind == "column":
                columns.append(f"{m.targets[0][1]}.{m.targets[0][2]}")
            elif m.kind in ("value", "quoted") and m.targets:
                if m.kind == "value" and m.text.islower() and len(m.text) <= 3:
                    continue  # "be" is not Belgium's country code, nor "us" the US
                values.append(f"{m.text} → {m.targets[0][1]}.{m.targets[0][2]}")
            elif m.kind == "cue":
                cues.append(m.cue)
            elif m.kind == "number":
                numbers += 1
                year = year or bool(re.fullmatch(r"(19|20)\d\d", m.text))
        out["sql.tables"] = sorted(set(tables))
        out["sql.columns"] = sorted(set(columns))
        out["sql.values"] = values
        out["sql.cues"] = cues
        out["sql.numbers"] = numbers
        out["sql.year"] = year
        out["sql.coverage"] = round(coverage(question, lexicon)[0], 3)
        return None, schema_words

    def _graph(self, question: str, principal: Principal, out: dict[str, Any]) -> str | None:
        from crossroads.tools.graph._planner import NamePlanner
        from crossroads.tools.graph._text import tokenize as graph_tokens

        qa = self.graph
        if qa is None:
            return "not configured"
        allowed = qa.allowed_relations(principal)
        if not allowed:
            return "you may traverse no relation"
        visible = qa._visible(principal, qa.catalog)
        entities: list[str] = []
        covered: list[tuple[int, int]] = []
        named: list[tuple[int, int]] = []
        for m in qa.linker.mentions(question):
            if m.text.lower() in _FUNCTION_WORDS or len(m.text) <= 2 or m.text.isdigit():
                continue  # a film called "What" (or "1") is not what the word means here
            if any(m.start < e and s < m.end for s, e in covered):
                continue
            nodes = [n for n in m.nodes if visible(n)]
            if nodes:
                covered.append((m.start, m.end))
                entities.append(m.text)
                if _is_named(m.text, m.start):
                    named.append((m.start, m.end))
        relations = qa.graph.relations()
        with self._lock:
            if self._planner is None or self._planner[0] != relations:
                self._planner = (relations, NamePlanner(relations, qa.synonyms))
            planner = self._planner[1]
        # relation words inside a name ("Heart Failure Clinic") are not cues; a plain word
        # that is also a node ("actor", a tag) still is
        text = question
        for s, e in sorted(named, reverse=True):
            text = text[:s] + " " + text[e:]
        cued = [
            sorted(rels & allowed)
            for _, rels, _ in planner.mentions([t.text for t in graph_tokens(text)])
            if rels & allowed
        ]
        out["graph.entities"] = entities
        out["graph.relations"] = [r[0] if len(r) == 1 else "|".join(r) for r in cued]
        out["graph.chain"] = len(cued) >= 2 or (bool(cued) and bool(_CHAIN.search(question)))
        return None

    def _docs(
        self, question: str, principal: Principal, out: dict[str, Any]
    ) -> tuple[str | None, dict[str, Any] | None]:
        from crossroads.tools.rag._extract import terms

        rag = self.rag
        if rag is None:
            return "not configured", None
        try:
            filters = rag._filters(principal, rag.catalog)
        except PolicyViolation:
            return "you may read no collection", None
        asked = set(terms(question))
        best = 0.0
        where = ""
        if asked:
            for hit in rag._search(question, 3, filters):
                share = len(asked & set(terms(hit.text))) / len(asked)
                if share > best:
                    best, where = share, hit.doc_id
        out["docs.coverage"] = round(best, 3)
        out["docs.best"] = where
        cues = sorted({m.group(0).lower() for m in _DOC_CUES.finditer(question)})
        out["docs.cues"] = cues
        words = {w.lower().rstrip("s") for w in re.findall(r"[A-Za-z]+", question)}
        named = sorted(c for c in filters if c.lower().rstrip("s") in words)
        out["docs.collections"] = named
        return None, filters

    def _corpus_tokens(
        self, principal: Principal, filters: Mapping[str, Any], scope: Sequence[str]
    ) -> int:
        lc = self.long_context
        assert lc is not None
        # keyed by what decides the corpus (the filters), not by who asks
        rules = tuple(sorted((c, filters[c].describe()) for c in scope if c in filters))
        key = (rules, lc.catalog.version, lc.index.version)
        with self._lock:
            cached = self._corpus.get(key)
        if cached is None:
            cached = lc._corpus({c: f for c, f in filters.items() if c in scope}).tokens
            with self._lock:
                if len(self._corpus) > 4096:
                    self._corpus.clear()
                self._corpus[key] = cached
        return cached

    # --- all together --------------------------------------------------------------------

    def extract(self, question: str, principal: Principal) -> Signals:
        """Every signal for ``question`` as ``principal``."""
        values: dict[str, Any] = {}
        unavailable: dict[Route, str] = {}
        why, schema = self._sql(question, principal, values)
        if why:
            unavailable["sql"] = why
        why = self._graph(question, principal, values)
        if why:
            unavailable["graph"] = why
        else:
            # a plain word that names both a table and a node ("cars") reads as the table
            values["graph.entities"] = [
                e for e in values["graph.entities"] if e.lower() not in schema or " " in e
            ]
        why, filters = self._docs(question, principal, values)
        if why:
            unavailable["rag"] = why
        holistic = sorted({m.group(0).lower() for m in _HOLISTIC_CUES.finditer(question)})
        values["holistic.cues"] = holistic
        scope: tuple[str, ...] | None = None
        lc = self.long_context
        if lc is None:
            unavailable["long_context"] = "not configured"
        elif filters is None:
            unavailable["long_context"] = unavailable.get("rag", "you may read no collection")
        else:
            readable = [c for c in lc._collections() if c in filters]
            named = [c for c in values.get("docs.collections", []) if c in readable]
            scope = tuple(named) if named else None
            tokens = self._corpus_tokens(principal, filters, named or readable)
            values["corpus.scope"] = list(named or readable)
            values["long_context.collections"] = named
            values["corpus.tokens"] = tokens
            values["corpus.budget"] = lc.budget_tokens
            if not readable:
                unavailable["long_context"] = "you may read none of its collections"
            elif tokens > lc.budget_tokens:
                unavailable["long_context"] = (
                    f"the documents you may read come to about {tokens:,} tokens, over the "
                    f"budget of {lc.budget_tokens:,}"
                )
        available = tuple(r for r in ROUTES if r not in unavailable)
        return Signals(
            values=values,
            features=self.featurize(question, values),
            available=available,
            unavailable=unavailable,
            scope=scope,
        )

    @staticmethod
    def featurize(question: str, v: Mapping[str, Any]) -> dict[str, float]:
        """The model's inputs from the readable signals."""
        cues = set(v.get("sql.cues", []))
        entities = len(v.get("graph.entities", []))
        relations = len(v.get("graph.relations", []))
        tokens = v.get("corpus.tokens")
        budget = v.get("corpus.budget")
        fits = tokens is not None and budget is not None and 0 < tokens <= budget
        holistic = bool(v.get("holistic.cues"))
        schema = len(v.get("sql.tables", [])) + len(v.get("sql.columns", []))
        # values of the SQL route that are not also graph entities (a country, a status)
        named = {e.lower() for e in v.get("graph.entities", [])}
        sql_only = [x for x in v.get("sql.values", []) if x.split(" → ")[0].lower() not in named]
        f: dict[str, float] = {
            "bias": 1.0,
            "sql.tables": _log(len(v.get("sql.tables", []))),
            "sql.columns": _log(len(v.get("sql.columns", []))),
            "sql.values": _log(len(v.get("sql.values", []))),
            "sql.any": float(schema > 0),
            "sql.coverage": float(v.get("sql.coverage", 0.0)),
            "sql.numbers": _log(v.get("sql.numbers", 0)),
            "sql.year": float(bool(v.get("sql.year"))),
            "cue.aggregate": float(bool(cues & _AGGREGATE)),
            "cue.superlative": float(bool(cues & _SUPERLATIVE)),
            "cue.compare": float(bool(cues & _COMPARE)),
            "cue.group": float(bool(cues & _GROUP)),
            "graph.entities": _log(entities),
            "graph.relations": _log(relations),
            "graph.chain": float(bool(v.get("graph.chain"))),
            "graph.entity_relation": float(entities > 0 and relations > 0),
            "graph.relation_only": float(entities == 0 and relations > 0),
            "sql.values_only": _log(len(sql_only)),
            "docs.coverage": float(v.get("docs.coverage", 0.0)),
            "docs.strong": max(0.0, float(v.get("docs.coverage", 0.0)) - 0.5) * 2,
            "docs.weak": float(float(v.get("docs.coverage", 0.0)) < 0.5),
            "docs.modal": float(_MODAL.search(question) is not None),
            "docs.cue": _log(len(v.get("docs.cues", []))),
            "docs.collection": float(bool(v.get("docs.collections"))),
            "holistic.cue": float(holistic),
            "holistic.fits": float(holistic and fits),
            "corpus.fits": float(fits),
            "corpus.over": float(tokens is not None and not fits),
        }
        for name, pattern in _FORMS.items():
            f[name] = float(pattern.search(question) is not None)
        return f


def describe(name: str, values: Mapping[str, Any]) -> str | None:
    """A feature as a reason in words, from the signals it came from."""
    v = values
    table: dict[str, Callable[[], str]] = {
        "sql.tables": lambda: f"names tables {', '.join(v['sql.tables'])}",
        "sql.columns": lambda: f"names columns {', '.join(v['sql.columns'][:4])}",
        "sql.values": lambda: f"known values {', '.join(v['sql.values'][:3])}",
        "sql.any": lambda: "mentions the schema",
        "sql.coverage": lambda: (
            f"{v['sql.coverage']:.0%} of its terms link to the schema or values"
        ),
        "sql.year": lambda: "a year to filter on",
        "sql.numbers": lambda: "numbers to compare with",
        "cue.aggregate": lambda: f"aggregation cue ({', '.join(v['sql.cues'])})",
        "cue.superlative": lambda: f"superlative cue ({', '.join(v['sql.cues'])})",
        "cue.compare": lambda: f"comparison cue ({', '.join(v['sql.cues'])})",
        "cue.group": lambda: f"grouping cue ({', '.join(v['sql.cues'])})",
        "graph.entities": lambda: f"linked graph entities {', '.join(v['graph.entities'][:4])}",
        "graph.relations": lambda: f"relation cues {', '.join(v['graph.relations'])}",
        "graph.chain": lambda: "a chain of relations",
        "graph.entity_relation": lambda: "an entity and a relation to follow from it",
        "docs.coverage": lambda: (
            f"{v['docs.coverage']:.0%} of its terms in a readable document ({v['docs.best']})"
        ),
        "docs.cue": lambda: f"asks what documents say ({', '.join(v['docs.cues'])})",
        "docs.strong": lambda: f"a readable passage covers {v['docs.coverage']:.0%} of its terms",
        "docs.modal": lambda: "asks what must, should or may be done",
        "docs.weak": lambda: "no readable passage covers half of its terms",
        "graph.relation_only": lambda: "a relation named, but no entity to start from",
        "sql.values_only": lambda: (
            f"values only the tables hold ({', '.join(v['sql.values'][:3])})"
        ),
        "docs.collection": lambda: f"names the collection {', '.join(v['docs.collections'])}",
        "holistic.cue": lambda: f"holistic cue ({', '.join(v['holistic.cues'])})",
        "holistic.fits": lambda: (
            f"the documents in scope fit the context budget ({v['corpus.tokens']:,} of "
            f"{v['corpus.budget']:,} tokens)"
        ),
        "corpus.fits": lambda: (
            f"the readable corpus fits the context budget ({v['corpus.tokens']:,} tokens)"
        ),
        "corpus.over": lambda: "the readable corpus is over the context budget",
    }
    make = table.get(name)
    if make is None:
        return (
            f"question form {name.removeprefix('q.').replace('_', ' ')}"
            if name.startswith("q.")
            else None
        )
    try:
        return make()
    except (KeyError, TypeError):
        return None
