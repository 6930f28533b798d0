"""Follow-up questions, resolved deterministically against the previous question.

A chat turn such as "and in France?", "what about 2023?" or "same for Neurovia" is a
*fragment*: it names a new value and leaves the rest of the question unsaid. It is
resolved against the previous (resolved) question by finding, in that question, the
span of the same *kind* (a value of the same SQL column, a year, a graph entity of the
same label) and substituting it; when the previous question has nothing of that kind,
the fragment is appended as a filter ("… in France?").

What counts as a kind is data-driven: :func:`data_kinds` finds the values of the SQL
columns a principal may see (through its governed lexicon) and the graph entities the
linker knows. :func:`resolve_followup` itself is pure and takes the kind finder as an
argument, so it is tested on tables of cases.

>>> def kinds(text):
...     return [TypedSpan(m.start(), m.end(), frozenset({"country"}))
...             for m in re.finditer(r"Germany|France", text)]
>>> resolve_followup("How many adverse events were reported in Germany?", "and in France?", kinds)
'How many adverse events were reported in France?'
>>> resolve_followup("How many adverse events were reported in Germany?", "what about 2023?", kinds)
'How many adverse events were reported in Germany in 2023?'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crossroads.policy import Principal
    from crossroads.tools.graph import GraphQA
    from crossroads.tools.sql import GovernedSQL

__all__ = [
    "KindFinder",
    "TypedSpan",
    "data_kinds",
    "expand_principal_refs",
    "resolve_followup",
    "year_spans",
]


@dataclass(frozen=True, slots=True)
class TypedSpan:
    """A span of text that names a value of some kind (``text[start:end]``)."""

    start: int
    end: int
    kinds: frozenset[str]
    """What the span is: ``year``, ``sql:table.column``, ``graph:Label`` … Two spans are
    of the same kind when these sets intersect."""


KindFinder = Callable[[str], Sequence[TypedSpan]]
"""Finds the typed spans of a text (see :func:`data_kinds`)."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that open a follow-up and carry no content ("and", "what about", "same for" keeps
# its "for": the preposition says how the value is used).
_CUE = re.compile(
    r"^(?:and|but|so|ok(?:ay)?|now|then|also|well|"
    r"what\s+about|how\s+about|what\s+if|(?:the\s+)?same(?:\s+(?:question|thing|one|again))?)"
    r"\b[\s,]*",
    re.IGNORECASE,
)
_FILLER = re.compile(r"[\s,]*\b(?:instead|then|too|as\s+well|please|again)\s*$", re.IGNORECASE)
_TRAILING = re.compile(r"[\s?.!…]+$")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_YEAR = re.compile(r"(?<![\w-])(?:19|20)\d{2}(?![\w-])")
_QUESTION_WORDS = _words(
    "what which who whom whose when where why how is are was were do does did can could "
    "should would will has have had list show give tell find count summarise summarize "
    "describe explain compare name"
)
_VERBS = _words(
    "is are was were be been do does did has have had can could should would will may "
    "might must say says said show shows list give tell find count contain contains "
    "summarise summarize describe explain compare report reported sell sold"
)
_PREPOSITIONS = _words(
    "in for from during at on with without by since before after of among about to "
    "within under over across between per only excluding including"
)
_MAX_FRAGMENT_WORDS = 5


def year_spans(text: str) -> list[TypedSpan]:
    """Four-digit years from 1900 to 2099 (not parts of dates such as ``2024-03-01``)."""
    return [TypedSpan(m.start(), m.end(), frozenset({"year"})) for m in _YEAR.finditer(text)]


def merge_spans(spans: Iterable[TypedSpan]) -> list[TypedSpan]:
    """Non-overlapping spans in text order: the same range found twice keeps the union
    of its kinds; of overlapping ranges the longest (then the first) wins."""
    by_range: dict[tuple[int, int], frozenset[str]] = {}
    for s in spans:
        if s.end > s.start:
            by_range[(s.start, s.end)] = by_range.get((s.start, s.end), frozenset()) | s.kinds
    chosen: list[TypedSpan] = []
    for (start, end), kinds in sorted(
        by_range.items(), key=lambda kv: (kv[0][0] - kv[0][1], kv[0][0])
    ):
        if all(end <= c.start or start >= c.end for c in chosen):
            chosen.append(TypedSpan(start, end, kinds))
    return sorted(chosen, key=lambda s: s.start)


def _payload(message: str) -> tuple[str, bool] | None:
    """The content of a follow-up fragment (cue words and fillers removed) and whether it
    opened with a cue, or None when ``message`` reads as a question of its own."""
    rest = message.strip()
    had_cue = False
    while True:
        m = _CUE.match(rest)
        if m is None or not m.group(0).strip(" ,") or m.end() == 0:
            break
        had_cue = True
        rest = rest[m.end() :]
    rest = _TRAILING.sub("", rest)
    rest = _FILLER.sub("", rest)
    rest = _TRAILING.sub("", rest).strip(" ,")
    words = [w.lower() for w in _WORD.findall(rest)]
    if not words:
        return None
    if words[0] in _QUESTION_WORDS:
        return None  # "and which drugs inhibit CYP2D6?" is a question of its own
    if not had_cue and (len(words) > _MAX_FRAGMENT_WORDS or _VERBS.intersection(words)):
        return None
    if had_cue and len(words) > _MAX_FRAGMENT_WORDS + 3 and _VERBS.intersection(words):
        return None
    return rest, had_cue


def _preposition_before(text: str, start: int) -> tuple[int, str] | None:
    """The preposition right before ``start`` in ``text`` (its offset and word)."""
    m = re.search(r"([^\W\d_]+)\s+$", text[:start])
    if m is not None and m.group(1).lower() in _PREPOSITIONS:
        return m.start(1), m.group(1)
    return None


def _append(previous: str, phrase: str, *, year: bool) -> str:
    body = _TRAILING.sub("", previous)
    end = previous[len(body) :].strip() or ""
    first = phrase.split(maxsplit=1)[0].lower() if phrase.split() else ""
    if first not in _PREPOSITIONS:
        phrase = f"{'in' if year else 'for'} {phrase}"
    return f"{body} {phrase}{end[:1] if end else ''}"


def resolve_followup(previous: str, message: str, kinds: KindFinder) -> str | None:
    """``message`` read in the context of ``previous``, or None when it is not a follow-up.

    A follow-up is a fragment: it opens with a cue ("and", "what about", "how about",
    "same for" …), or it is short, has no verb and names a known value. Each value it
    names (found by ``kinds``, plus years) replaces the span of the same kind in
    ``previous``; values with no counterpart are appended with their preposition. A
    fragment that names no known value at all is appended as a whole ("… in pregnancy?").
    """
    previous, message = previous.strip(), message.strip()
    if not previous or not message:
        return None
    found = _payload(message)
    if found is None:
        return None
    payload, had_cue = found
    new = merge_spans([*year_spans(payload), *kinds(payload)])
    if not new and not had_cue:
        return None  # "Thanks!" names nothing: not a fragment of the last question
    old = merge_spans([*year_spans(previous), *kinds(previous)])
    replaced: dict[TypedSpan, TypedSpan] = {}  # span of previous → span of payload
    unmatched: list[TypedSpan] = []
    for span in new:
        candidates = [o for o in old if o not in replaced and o.kinds & span.kinds]
        if not candidates:
            unmatched.append(span)
            continue
        best = max(candidates, key=lambda o: (len(o.kinds & span.kinds), -o.start))
        replaced[best] = span
    if not replaced:
        year = bool(new) and all(s.kinds == {"year"} for s in new) and len(new) == 1
        return _append(previous, payload, year=year)
    text = previous
    for o in sorted(replaced, key=lambda o: -o.start):
        start = replaced[o].start
        article = re.search(r"\bthe\s+$", payload[:start], re.IGNORECASE)
        if article is not None and not re.search(r"\bthe\s+$", text[: o.start], re.IGNORECASE):
            start = article.start()  # "and in the United States?" keeps its "the"
        text = text[: o.start] + payload[start : replaced[o].end] + text[o.end :]
    for span in unmatched:
        value = payload[span.start : span.end]
        prep = _preposition_before(payload, span.start)
        phrase = f"{prep[1]} {value}" if prep else value
        text = _append(text, phrase, year="year" in span.kinds)
    return text


# --- the kinds a principal's data defines --------------------------------------------------

_SHORT_WORDS = _words("a an the in of and or for to all any no yes none other unknown")


def data_kinds(
    *, sql: GovernedSQL | None, graph: GraphQA | None, principal: Principal
) -> KindFinder:
    """A kind finder over what ``principal`` may see: values of visible SQL text columns
    (kind ``sql:table.column``, from the governed lexicon; masked columns are never
    indexed) and graph entities (kind ``graph:<label>`` per node label, ``graph:node``
    for unlabelled nodes)."""
    from crossroads.tools.sql._lexicon import tokenize

    def find(text: str) -> list[TypedSpan]:
        spans: list[TypedSpan] = []
        if sql is not None:
            values = sql.lexicon(principal).values
            tokens = tokenize(text)
            longest = max((len(k) for k in values), default=0)
            i = 0
            while i < len(tokens):
                for n in range(min(longest, len(tokens) - i), 0, -1):
                    window = tokens[i : i + n]
                    entries = values.get(tuple(t.norm for t in window))
                    if not entries or all(t.kind == "number" for t in window):
                        continue
                    if n == 1 and (
                        window[0].norm in _SHORT_WORDS
                        or (
                            len(window[0].text) <= 3
                            and not any(e[2] == window[0].text for e in entries)
                        )
                    ):
                        continue
                    last = window[-1]
                    end = last.start + len(last.text) + (2 if last.kind == "quoted" else 0)
                    kinds = frozenset(f"sql:{t}.{c}" for t, c, _ in entries)
                    spans.append(TypedSpan(window[0].start, end, kinds))
                    i += n - 1
                    break
                i += 1
        if graph is not None and graph.allowed_relations(principal):
            visible = graph._visible(principal, graph.catalog)
            for mention in graph.linker.mentions(text):
                nodes = [n for n in mention.nodes if visible(n)]  # never type a hidden node
                if not nodes or len(mention.text) < 2:
                    continue
                labels = {
                    f"graph:{label}" for node in nodes for label in graph.graph.node_labels(node)
                }
                spans.append(
                    TypedSpan(mention.start, mention.end, frozenset(labels or {"graph:node"}))
                )
        return merge_spans(spans)

    return find


_PRINCIPAL_REF = re.compile(r"\b(?:(?P<who>[A-Za-z][\w.-]*)['’]s|(?P<my>my|our))\s+(?P<attr>\w+)")


def expand_principal_refs(text: str, principals: Mapping[str, Principal], me: Principal) -> str:
    """``my region`` (or ``alice's region`` when alice asks) → the asker's region: a
    reference to the asker's own scalar attribute, replaced by its value. Another
    principal's attributes are never expanded: who may know bob's region is not the
    asker's to decide (``principals`` only tells the asker's own id apart)."""

    def value(m: re.Match[str]) -> str:
        who = m.group("who")
        own = m.group("my") or (who is not None and principals.get(who) is me)
        principal = me if own else None
        if principal is None:
            return m.group(0)
        attrs = {k.lower(): v for k, v in principal.attributes.items()}
        v = attrs.get(m.group("attr").lower())
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            return str(v)
        return m.group(0)

    return _PRINCIPAL_REF.sub(value, text)
