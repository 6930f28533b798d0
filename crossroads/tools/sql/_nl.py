"""Deterministic natural language → SQL.

The question is linked to the principal's visible schema (table and column names,
synonyms) and values (an index of the text values the principal may see), its cues are
read (*how many*, *average*, *more than*, *for each*, *top 5*, *highest* …), tables are
joined along foreign keys, and a SELECT is built with sqlglot. Whatever the question
says that the plan cannot place — a number, a quoted value, a proper noun — makes it
refuse with :class:`~crossroads.errors.CannotAnswer` instead of guessing silently.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import networkx as nx
from sqlglot import exp

from crossroads.errors import CannotAnswer
from crossroads.tools.sql._lexicon import ColumnInfo, Lexicon, Target, Token, lemma, tokenize

__all__ = ["Linked", "Plan", "coverage", "link", "plan_query"]


def _phrases(text: str) -> list[tuple[str, ...]]:
    """``"how many | number of"`` → ``[("how", "many"), ("number", "of")]``."""
    return [tuple(p.split()) for p in text.split("|") if p.strip()]


# Cue phrases (in the singular forms the tokenizer produces) and what they mean.
_CUE_TABLE = {
    "count": "how many | number of | count | count of | total number of",
    "avg": "average | mean | avg",
    "sum": "total | sum | sum of | combined",
    "max": "maximum | max",
    "min": "minimum | min",
    "most": "highest | largest | biggest | greatest | most | latest | newest | longest | "
    "heaviest | tallest | richest",
    "least": "lowest | smallest | least | fewest | earliest | shortest | lightest | cheapest",
    "most_age": "oldest",
    "least_age": "youngest",
    ">": "more than | greater than | larger than | bigger than | higher than | over | above | "
    "exceeding | after | longer than | later than",
    "<": "less than | fewer than | smaller than | lower than | below | under | before | "
    "shorter than | earlier than",
    ">age": "older than",
    "<age": "younger than",
    ">=": "at least | no less than | not less than",
    "<=": "at most | no more than | not more than | up to",
    "between": "between",
    "not": "not | no | never | without | none | other than | except | excluding | isn't | "
    "aren't | don't | doesn't | didn't | haven't | hasn't",
    "each": "each | per | for each | group by | grouped by | by each",
    "order": "order by | ordered by | sort by | sorted by | in order of | ordered | sorted | "
    "rank by | ranked by | sort | arranged by",
    "order_asc": "in ascending order of | in alphabetical order of | in increasing order of",
    "order_desc": "in descending order of | in decreasing order of",
    "desc": "descending | decreasing | desc",
    "asc": "ascending | increasing | asc | alphabetical | alphabetically",
    "top": "top | first",
    "distinct": "different | distinct | unique",
}
_CUES: dict[tuple[str, ...], str] = {
    phrase: cue for cue, text in _CUE_TABLE.items() for phrase in _phrases(text)
}
# "from the oldest to the youngest", "highest to lowest": a sort direction, not superlatives
for _a in [*_CUE_TABLE["most"].split(" | "), "oldest"]:
    for _b in [*_CUE_TABLE["least"].split(" | "), "youngest"]:
        _CUES[(_a, "to", _b)] = _CUES[(_a, "to", "the", _b)] = "desc"
        _CUES[(_b, "to", _a)] = _CUES[(_b, "to", "the", _a)] = "asc"
_COMPARE = {">": exp.GT, "<": exp.LT, ">=": exp.GTE, "<=": exp.LTE}
_STOP = frozenset(
    lemma(w)
    for w in """
    a an the of for in on at to from with by and or all list show give find return tell me us
    display get what which who whom whose when where how is are was were be been being that
    this these those there their its it do does did have has had we you i please also as than
    any some both them they his her respectively whether each every one ones number name names
    about into out only just can could would should will shall may might per many much same
    other another our your my known called named having located""".split()  # noqa: SIM905
)
_ASKING = frozenset({"what", "which", "who", "whose", "list", "show", "give", "find", "name"})


@dataclass
class _Mention:
    kind: str  # table | column | value | cue | number | quoted
    start: int
    end: int
    targets: list[Target] = field(default_factory=list)
    cue: str = ""
    token: Token | None = None
    used: bool = False

    @property
    def chosen(self) -> Target | None:
        return self.targets[0] if self.targets else None


@dataclass
class Plan:
    """A parsed question: the SELECT to run and how each part of the question was read."""

    select: exp.Select
    """The query, before governance (which adds filters, masks and a limit)."""
    notes: list[str]
    """How the question was read (``'France' → singer.country``)."""
    tables: list[str]
    """The tables the query reads."""


def _segment(tokens: list[Token], lexicon: Lexicon) -> list[_Mention]:
    """Longest-match linking of token spans to values, cues, columns and tables."""
    mentions: list[_Mention] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "quoted":
            key = tuple(t.norm for t in tokenize(tok.text) if t.kind != "quoted")
            hits = [("value", t, c) for t, c, _ in lexicon.values.get(key, [])]
            mentions.append(_Mention("quoted", i, i + 1, hits, token=tok))
            i += 1
            continue
        if tok.kind == "number":
            mentions.append(_Mention("number", i, i + 1, token=tok))
            i += 1
            continue
        best: _Mention | None = None
        for n in range(min(6, len(tokens) - i), 0, -1):
            span = tokens[i : i + n]
            if any(t.kind != "word" for t in span):
                continue
            key = tuple(t.norm for t in span)
            value_hits = lexicon.values.get(key, [])
            schema_hits = lexicon.phrases.get(key, [])
            cue = _CUES.get(key)
            proper = any(t.capitalized for t in span) and not (i == 0 and n == 1)
            if value_hits and (proper or n > 1 or not schema_hits) and not cue:
                targets = [("value", t, c) for t, c, _ in value_hits]
                best = _Mention("value", i, i + n, targets, token=span[0])
                best.cue = "|".join(v for _, _, v in value_hits)
            elif cue:
                best = _Mention("cue", i, i + n, cue=cue)
            elif schema_hits:
                kind = "column" if schema_hits[0][0] == "column" else "table"
                plural = span[-1].text.lower() != span[-1].norm
                if plural and any(t[0] == "table" for t in schema_hits):
                    kind = "table"  # "how many countries": the set of rows, not a column
                tables_first = sorted(schema_hits, key=lambda t: t[0] != "table")
                # a column mention only ever resolves to columns
                columns_only = [t for t in schema_hits if t[0] == "column"]
                ranked = tables_first if kind == "table" else columns_only
                best = _Mention(kind, i, i + n, list(ranked))
            elif value_hits:
                best = _Mention("value", i, i + n, [("value", t, c) for t, c, _ in value_hits])
                best.cue = "|".join(v for _, _, v in value_hits)
            if best is not None:
                break
        if best is not None:
            mentions.append(best)
            i = best.end
        else:
            i += 1
    return mentions


class _Reader:
    """Reads one question's mentions into the parts of a SELECT."""

    def __init__(self, question: str, lexicon: Lexicon, dialect: str) -> None:
        self.question = question
        self.lexicon = lexicon
        self.dialect = dialect
        self.tokens = tokenize(question)
        self.mentions = _segment(self.tokens, lexicon)
        self.notes: list[str] = []
        self.filters: list[exp.Expr] = []
        self.aggregates: list[exp.Expr] = []
        self.group: list[ColumnInfo] = []
        self.order: list[tuple[exp.Expr, bool]] = []
        self.limit: int | None = None
        self.projection: list[ColumnInfo] = []
        self.tables: list[str] = []
        self.count_table: str | None = None
        self.distinct = False
        self.used_columns: list[ColumnInfo] = []
        self.filter_at: list[tuple[exp.Expr, ColumnInfo, int]] = []

    # --- linking ----------------------------------------------------------------------

    def _focus(self) -> list[str]:
        focus: list[str] = []
        for m in self.mentions:
            if m.kind == "table" and m.chosen and m.chosen[1] not in focus:
                focus.append(m.chosen[1])
        for m in self.mentions:
            if m.kind in ("column", "value", "quoted") and len({t[1] for t in m.targets}) == 1:
                table = m.targets[0][1]
                if table not in focus:
                    focus.append(table)
        return focus

    def _resolve(self) -> None:
        focus = self._focus()
        for m in self.mentions:
            if m.kind in ("column", "value", "quoted") and len(m.targets) > 1:
                ranked = sorted(
                    m.targets,
                    key=lambda t: (t[1] not in focus, focus.index(t[1]) if t[1] in focus else 0),
                )
                m.targets = ranked
            if m.kind == "table" and m.targets and m.targets[0][0] != "table":
                m.kind = "column"

    def col(self, m: _Mention) -> ColumnInfo:
        target = m.chosen
        assert target is not None
        info = self.lexicon.column(target[1], target[2])
        assert info is not None
        return info

    def use(self, info: ColumnInfo) -> ColumnInfo:
        if info not in self.used_columns:
            self.used_columns.append(info)
        return info

    # --- reading ----------------------------------------------------------------------

    def _next(
        self, i: int, kinds: tuple[str, ...], within: int = 4, *, reuse: bool = False
    ) -> _Mention | None:
        for m in self.mentions[i + 1 : i + 1 + within]:
            if m.kind in kinds and (reuse or not m.used):
                return m
        return None

    def _prev(self, i: int, kinds: tuple[str, ...], within: int = 4) -> _Mention | None:
        for m in reversed(self.mentions[max(0, i - within) : i]):
            if m.kind in kinds:
                return m
        return None

    def _implied_column(self, words: tuple[str, ...], numeric: bool = True) -> ColumnInfo | None:
        for table in self._focus() or list(self.lexicon.columns):
            for c in self.lexicon.columns[table]:
                if set(words) & set(c.words) and (c.is_numeric or not numeric):
                    return c
        return None

    def read(self) -> None:
        self._resolve()
        ms = self.mentions
        negate = False
        for i, m in enumerate(ms):
            if m.kind != "cue" or m.used:
                continue
            cue = m.cue
            if cue == "not":
                negate = True  # marked used only when a filter takes it
                continue
            m.used = True
            if cue == "distinct":
                self.distinct = True
            elif cue == "count":
                self._count(i)
            elif cue in ("avg", "sum", "max", "min"):
                self._aggregate(i, cue)
            elif cue in ("most", "least", "most_age", "least_age"):
                self._superlative(i, cue)
            elif cue in _COMPARE or cue in (">age", "<age", "between"):
                if negate:
                    self._take_negation(i)
                self._compare(i, cue, negate)
                negate = False
            elif cue == "each":
                self._group(i)
            elif cue in ("order", "order_asc", "order_desc"):
                self._order(i, desc=cue == "order_desc")
            elif cue == "top":
                nxt = self._next(i, ("number",), within=1)
                if nxt is not None and nxt.token is not None and nxt.token.number:
                    nxt.used = True
                    self.limit = int(nxt.token.number)
        self._directions()
        for i, m in enumerate(ms):
            if m.used:
                continue
            if m.kind in ("value", "quoted"):
                self._equals(m, negate=self._take_negation(i))
            elif m.kind == "number":
                self._bare_number(i, m)
        loose = [m for m in ms if m.kind == "cue" and m.cue == "not" and not m.used]
        if loose:
            words = " ".join(t.text for t in self.tokens[loose[0].start : loose[0].end])
            raise CannotAnswer(
                f"the question negates something ({words!r} …) that is not a value or a "
                "comparison; a plain query would drop the negation and answer another question",
                tool="sql.ask",
                reason="negation not placed",
            )
        for m in ms:
            if m.kind == "column" and not m.used:
                m.used = True
                self.projection.append(self.use(self.col(m)))
            elif m.kind == "table" and m.chosen and m.chosen[1] not in self.tables:
                self.tables.append(m.chosen[1])

    def _take_negation(self, i: int) -> bool:
        """Whether a negation cue right before mention ``i`` applies to it (and take it)."""
        prev = self._prev(i, ("cue",), within=2)
        if prev is not None and prev.cue == "not":
            prev.used = True
            return True
        return False

    def _count(self, i: int) -> None:
        nxt = self._next(i, ("table", "column", "cue"), within=3)
        while nxt is not None and nxt.kind == "cue" and nxt.cue == "distinct":
            self.distinct = True
            nxt.used = True
            nxt = self._next(self.mentions.index(nxt), ("table", "column"), within=2)
        if nxt is not None and nxt.kind == "column":
            nxt.used = True
            info = self.use(self.col(nxt))
            arg: exp.Expr = exp.column(info.name, table=info.table, quoted=True)
            if self.distinct:
                arg = exp.Distinct(expressions=[arg])
                self.distinct = False
            self.aggregates.append(exp.Count(this=arg))
            self.notes.append(f"count of {info.table}.{info.name}")
            return
        if nxt is not None and nxt.kind == "table" and nxt.chosen:
            nxt.used = True
            self.count_table = nxt.chosen[1]
            referrer = self._referrer(self.count_table) if self.distinct else None
            if referrer is not None:
                # "how many different countries do singers come from": distinct references
                table, column = referrer
                info = self.use(self.lexicon.column(table, column))  # type: ignore[arg-type]
                self.count_table, self.distinct = None, False
                arg = exp.Distinct(expressions=[_col(info)])
                self.aggregates.append(exp.Count(this=arg))
                self.notes.append(f"count of distinct {table}.{column}")
                return
        self.aggregates.append(exp.Count(this=exp.Star()))
        self.notes.append(f"count of {self.count_table or 'rows'}")

    def _referrer(self, table: str) -> tuple[str, str] | None:
        """A column of another mentioned table that references ``table``."""
        mentioned = {m.chosen[1] for m in self.mentions if m.kind == "table" and m.chosen}
        for t, c, rt, _ in self.lexicon.foreign_keys:
            if rt == table and t != table and t in mentioned:
                return t, c
        return None

    def _aggregate(self, i: int, cue: str) -> None:
        # "the average, minimum and maximum age": the aggregates share the column
        target = self._next(i, ("column",), within=5, reuse=True) or self._prev(
            i, ("column",), within=2
        )
        if target is None:
            raise CannotAnswer(
                f"'{cue}' in the question names no column I can aggregate",
                tool="sql.ask",
                reason="no column for the aggregate",
            )
        target.used = True
        info = self.use(self.col(target))
        func = {"avg": exp.Avg, "sum": exp.Sum, "max": exp.Max, "min": exp.Min}[cue]
        self.aggregates.append(func(this=exp.column(info.name, table=info.table, quoted=True)))
        self.notes.append(f"{cue} of {info.table}.{info.name}")

    def _superlative(self, i: int, cue: str) -> None:
        desc = cue.startswith("most")
        nxt = self._next(i, ("column", "table"), within=3)
        info: ColumnInfo | None = None
        if nxt is not None and nxt.kind == "column":
            nxt.used = True
            info = self.use(self.col(nxt))
        elif cue.endswith("_age"):
            info = self._implied_column(("age",))
        if info is None and nxt is not None and nxt.kind == "table" and nxt.chosen:
            # "the most singers": rank groups by how many rows they have
            nxt.used = True
            self.count_table = nxt.chosen[1]
            self.order.append((exp.Count(this=exp.Star()), desc))
            self.limit = self.limit or 1
            self.notes.append(f"ranked by the number of {nxt.chosen[1]} rows")
            return
        if info is None:
            raise CannotAnswer(
                "a superlative in the question ('highest', 'most' …) names no column",
                tool="sql.ask",
                reason="no column for the superlative",
            )
        column = exp.column(info.name, table=info.table, quoted=True)
        asking = {t.norm for t in self.tokens} & _ASKING
        others = [m for m in self.mentions if m.kind == "column" and not m.used]
        if others or (asking and not self.aggregates and "maximum" not in self.question):
            self.order.append((column, desc))
            self.limit = self.limit or 1
            self.notes.append(f"{'highest' if desc else 'lowest'} {info.table}.{info.name}")
        else:
            self.aggregates.append((exp.Max if desc else exp.Min)(this=column))
            self.notes.append(f"{'max' if desc else 'min'} of {info.table}.{info.name}")

    def _compare(self, i: int, cue: str, negate: bool) -> None:
        numbers = [m for m in self.mentions[i + 1 : i + 4] if m.kind == "number" and not m.used]
        if not numbers:
            return
        first = numbers[0]
        assert first.token is not None
        assert first.token.number is not None
        anchor = self._prev(i, ("column",), within=3)
        info: ColumnInfo | None = self.col(anchor) if anchor is not None else None
        if info is not None and not (info.is_numeric or info.is_date):
            anchor, info = None, None  # "names of singers older than 30" compares the age
        if info is None and cue.endswith("age"):
            info = self._implied_column(("age",))
        if info is None:
            after = self._next(self.mentions.index(first), ("column",), within=2)
            info = self.col(after) if after is not None else None
            if after is not None:
                after.used = True
        if info is None:
            info = self._year_column(first.token) if cue in (">", "<") else None
        if info is None:
            raise CannotAnswer(
                f"cannot tell which column the comparison with {first.token.text} applies to",
                tool="sql.ask",
                reason="comparison without a column",
            )
        if anchor is not None:
            anchor.used = True
        first.used = True
        self.use(info)
        column = _year_of(info, self.dialect) if _is_year(first.token) else _col(info)
        op = cue.removesuffix("age")
        if op == "between":
            second = numbers[1] if len(numbers) > 1 else None
            if second is None or second.token is None:
                return
            second.used = True
            pred: exp.Expr = exp.Between(
                this=column, low=_number(first.token), high=_number(second.token)
            )
        else:
            pred = _COMPARE[op](this=column, expression=_number(first.token))
        self._filter(exp.Not(this=pred) if negate else pred, info, first.start)
        self.notes.append(f"{info.table}.{info.name} {op} {first.token.text}")

    def _year_column(self, token: Token) -> ColumnInfo | None:
        if not _is_year(token):
            return None
        for table in self._focus() or list(self.lexicon.columns):
            for c in self.lexicon.columns[table]:
                if c.is_date:
                    return c
        return None

    def _group(self, i: int) -> None:
        nxt = self._next(i, ("column", "table"), within=2)
        if nxt is None:
            return
        nxt.used = True
        if nxt.kind == "column":
            self.group.append(self.use(self.col(nxt)))
        elif nxt.chosen:
            table = nxt.chosen[1]
            keys = self.lexicon.primary_key(table)
            name = self.lexicon.name_column(table)
            for c in keys + ([name] if name and name not in keys else []):
                self.group.append(self.use(c))
            if not keys and name is None:
                raise CannotAnswer(
                    f"cannot group by {table}: it has no key or name column you may read",
                    tool="sql.ask",
                )
        self.notes.append("grouped by " + ", ".join(f"{c.table}.{c.name}" for c in self.group))

    def _order(self, i: int, *, desc: bool = False) -> None:
        nxt = self._next(i, ("column",), within=4)
        if nxt is None:
            return
        nxt.used = True
        info = self.use(self.col(nxt))
        self.order.append((exp.column(info.name, table=info.table, quoted=True), desc))
        self.notes.append(f"ordered by {info.table}.{info.name}")

    def _directions(self) -> None:
        cues = [m for m in self.mentions if m.kind == "cue" and m.cue in ("asc", "desc")]
        if cues and self.order:
            desc = cues[-1].cue == "desc"
            self.order = [(e, desc) for e, _ in self.order]

    def _anchor(self, m: _Mention) -> _Mention | None:
        """A column named right before a value ("type code CV", "named 'Lettice'")."""
        index = self.mentions.index(m)
        prev = self.mentions[index - 1] if index else None
        if prev is None or prev.kind != "column" or prev.used or prev.end < m.start - 2:
            return None
        return prev

    def _equals(self, m: _Mention, *, negate: bool) -> None:
        anchor = self._anchor(m)
        if anchor is not None:
            wanted = {(t[1], t[2]) for t in anchor.targets}
            matching = [t for t in m.targets if (t[1], t[2]) in wanted]
            if matching:
                m.targets = matching + [t for t in m.targets if t not in matching]
                anchor.used = True
            elif m.kind == "quoted" and self.col(anchor).is_text:
                # a quoted value the index does not hold, named by its column: compare with
                # it as written (no row may match, which is then the true answer)
                chosen = anchor.chosen
                assert chosen is not None
                m.targets = [("value", chosen[1], chosen[2])]
                anchor.used = True
        if not m.targets:
            assert m.token is not None
            raise CannotAnswer(
                f"no column you may read holds the value {m.token.text!r}",
                tool="sql.ask",
                reason="unlinked value",
            )
        m.used = True
        table, column = m.targets[0][1], m.targets[0][2]
        info = self.lexicon.column(table, column)
        assert info is not None
        assert m.token is not None
        self.use(info)
        value = m.token.text if m.kind == "quoted" else m.cue.split("|")[0]
        if m.kind != "quoted":
            value = next(v for t, c, v in self._value_hits(m) if (t, c) == (table, column))
        pred: exp.Expr = exp.EQ(this=_col(info), expression=exp.Literal.string(value))
        self._filter(exp.Not(this=pred) if negate else pred, info, m.start)
        self.notes.append(f"{value!r} → {table}.{column}")

    def _filter(self, pred: exp.Expr, info: ColumnInfo, at: int) -> None:
        """Add a predicate; "2014 or 2015" on one column becomes an OR of the two."""
        if self.filter_at:
            prev_pred, prev_info, prev_at = self.filter_at[-1]
            between = {t.norm for t in self.tokens[prev_at:at]}
            if prev_info == info and "or" in between and prev_pred in self.filters:
                index = self.filters.index(prev_pred)
                self.filters[index] = merged = exp.Paren(this=exp.or_(prev_pred, pred))
                self.filter_at[-1] = (merged, info, at)
                return
        for earlier, earlier_info, _ in self.filter_at:
            if earlier_info == info and isinstance(earlier, exp.EQ) and isinstance(pred, exp.EQ):
                # "the ship named 'Lettice' and the ship named 'HMS Atalanta'": one row
                # cannot hold both values; the question means two rows (an intersection)
                raise CannotAnswer(
                    f"the question wants {info.table}.{info.name} to equal both "
                    f"{earlier.expression.sql()} and {pred.expression.sql()}, which means "
                    "matching two different rows; a single query block cannot say that",
                    tool="sql.ask",
                    reason="two values for one column",
                )
        self.filters.append(pred)
        self.filter_at.append((pred, info, at))

    def _value_hits(self, m: _Mention) -> list[tuple[str, str, str]]:
        words = tuple(t.norm for t in self.tokens[m.start : m.end])
        return self.lexicon.values.get(words, [])

    def _bare_number(self, i: int, m: _Mention) -> None:
        assert m.token is not None
        prev = self._prev(i, ("column",), within=2)
        info = self.col(prev) if prev is not None else None
        if info is not None and not info.is_numeric and not (info.is_date and _is_year(m.token)):
            info = None
        if info is None:
            info = self._year_column(m.token)
        if info is None:
            raise CannotAnswer(
                f"the number {m.token.text} in the question matches no column",
                tool="sql.ask",
                reason="unplaced number",
            )
        if prev is not None and self.lexicon.column(*prev.chosen[1:]) == info:  # type: ignore[index]
            prev.used = True
        m.used = True
        self.use(info)
        column = _year_of(info, self.dialect) if _is_year(m.token) else _col(info)
        self._filter(exp.EQ(this=column, expression=_number(m.token)), info, m.start)
        self.notes.append(f"{info.table}.{info.name} = {m.token.text}")

    def unmatched(self) -> list[str]:
        """Content words linked to nothing (for explaining a refusal)."""
        covered = {k for m in self.mentions for k in range(m.start, m.end)}
        return [
            t.text
            for k, t in enumerate(self.tokens)
            if k not in covered and t.kind == "word" and t.norm not in _STOP and len(t.norm) > 2
        ]

    def unexplained(self) -> list[str]:
        """Proper nouns and numbers the plan did not place."""
        covered = {k for m in self.mentions for k in range(m.start, m.end)}
        out = []
        for k, t in enumerate(self.tokens):
            if k in covered or t.norm in _STOP:
                continue
            if t.kind == "number" or (t.capitalized and k > 0):
                out.append(t.text)
        return out


def _col(info: ColumnInfo) -> exp.Column:
    return exp.column(info.name, table=info.table, quoted=True)


def _year_of(info: ColumnInfo, dialect: str) -> exp.Expr:
    """The year of a date column; a column that already holds years (``year``, an
    integer) is compared as it is."""
    if info.is_numeric or "year" in info.words:
        return _col(info)
    if dialect == "sqlite":  # SQLite has neither YEAR() nor EXTRACT
        strftime = exp.Anonymous(
            this="STRFTIME", expressions=[exp.Literal.string("%Y"), _col(info)]
        )
        return exp.Cast(this=strftime, to=exp.DataType.build("INT"))
    return exp.Year(this=_col(info))


def _is_year(token: Token) -> bool:
    n = token.number
    return n is not None and float(n).is_integer() and 1000 <= n <= 2200


def _number(token: Token) -> exp.Expr:
    n = token.number
    assert n is not None
    text = str(int(n)) if float(n).is_integer() else token.norm
    return exp.Literal.number(text)


def _join_tree(tables: list[str], lexicon: Lexicon) -> list[tuple[str, str, str, str, str]]:
    """Edges ``(left, left_col, right, right_col, new_table)`` joining ``tables``."""
    graph = nx.Graph()
    graph.add_nodes_from(lexicon.columns)
    for t, c, rt, rc in lexicon.foreign_keys:
        if t != rt:
            graph.add_edge(t, rt, keys=(t, c, rt, rc))
    joined = [tables[0]]
    edges: list[tuple[str, str, str, str, str]] = []
    for target in tables[1:]:
        if target in joined:
            continue
        best: list[str] | None = None
        for source in joined:
            try:
                path = nx.shortest_path(graph, source, target)
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                continue
            if best is None or len(path) < len(best):
                best = path
        if best is None:
            raise CannotAnswer(
                f"no foreign-key path you may use links {target} to {', '.join(joined)}",
                tool="sql.ask",
                reason="tables not joinable",
            )
        for a, b in itertools.pairwise(best):
            if b in joined:
                continue
            t, c, rt, rc = graph.edges[a, b]["keys"]
            edges.append((t, c, rt, rc, b))
            joined.append(b)
    return edges


def plan_query(question: str, lexicon: Lexicon, *, dialect: str) -> Plan:
    """Build a SELECT for ``question`` over the principal's ``lexicon``, or raise
    :class:`CannotAnswer` saying what could not be placed."""
    reader = _Reader(question, lexicon, dialect)
    try:
        reader.read()
    except CannotAnswer as exc:
        words = reader.unmatched()
        hint = f" (words that match nothing you may query: {', '.join(words)})" if words else ""
        raise CannotAnswer(f"{exc}{hint}", tool="sql.ask", reason=exc.reason) from None
    loose = reader.unexplained()
    if loose:
        raise CannotAnswer(
            f"the question mentions {', '.join(repr(w) for w in loose)}, which match no table, "
            "column or value you may query; rephrase, or ask through a route that reads text",
            tool="sql.ask",
            reason="unlinked terms",
        )
    r = reader
    ranked_by_count = any(isinstance(e, exp.Count) for e, _ in r.order)
    if r.group and not r.aggregates and not ranked_by_count:
        r.group = []  # "the name of each shop": no aggregate, so nothing to group
    unique: dict[str, exp.Expr] = {}
    for agg in r.aggregates:
        unique.setdefault(agg.sql(), agg)
    r.aggregates = list(unique.values())
    if any(isinstance(e, exp.Count) for e, _ in r.order) and not r.group:
        # "which country has the most singers": group by what is asked for
        r.group = list(r.projection) or [
            c for t in r.tables if t != r.count_table and (c := lexicon.label_column(t)) is not None
        ]
        r.projection = []
        if not r.group:
            raise CannotAnswer(
                "the question ranks by how many rows there are, but not what it ranks",
                tool="sql.ask",
                reason="ranking without a subject",
            )
    select_cols = r.group + [c for c in r.projection if c not in r.group]
    tables: list[str] = []
    for c in r.used_columns + select_cols:
        if c.table not in tables:
            tables.append(c.table)
    if r.count_table and r.count_table not in tables:
        tables.append(r.count_table)
    if not tables:
        tables = r.tables[:1]
    if not tables:
        raise CannotAnswer(
            "no table or column you may query matches the question",
            tool="sql.ask",
            reason="nothing linked",
        )
    if not select_cols and not r.aggregates:
        label = lexicon.label_column(tables[0])
        select_cols = [label] if label is not None else []
    projections: list[exp.Expr] = [
        exp.column(c.name, table=c.table, quoted=True) for c in select_cols
    ] + r.aggregates
    if not projections:
        projections = [exp.Star()]
    query = exp.select(*projections).from_(exp.to_table(tables[0], quoted=True))
    for t, fk, rt, rc, new in _join_tree(tables, lexicon):
        on = exp.EQ(
            this=exp.column(fk, table=t, quoted=True),
            expression=exp.column(rc, table=rt, quoted=True),
        )
        query = query.join(exp.to_table(new, quoted=True), on=on)
    if r.filters:
        query = query.where(exp.and_(*r.filters))
    if r.group or (r.aggregates and select_cols):
        keys = r.group or select_cols
        query = query.group_by(*[exp.column(c.name, table=c.table, quoted=True) for c in keys])
    for expr, desc in r.order:
        query = query.order_by(exp.Ordered(this=expr, desc=desc))
    if r.limit is not None:
        query = query.limit(r.limit)
    if r.distinct and not r.aggregates:
        query = query.distinct()
    return Plan(select=query, notes=r.notes, tables=tables)


@dataclass(frozen=True, slots=True)
class Linked:
    """A span of a question linked to the schema, a value, or a cue (for routing)."""

    kind: str
    """``table``, ``column``, ``value``, ``cue``, ``number`` or ``quoted``."""
    text: str
    """The span as written."""
    targets: tuple[Target, ...]
    """What it links to: ``(kind, table, column or value)``."""
    cue: str = ""
    """For a cue: what it means (``count``, ``avg``, ``>``, ``each`` …)."""


def link(question: str, lexicon: Lexicon) -> list[Linked]:
    """The question's spans linked to ``lexicon`` (the same longest-match reading
    :func:`plan_query` starts from), without planning a query."""
    tokens = tokenize(question)
    out = []
    for m in _segment(tokens, lexicon):
        first, last = tokens[m.start], tokens[m.end - 1]
        text = question[first.start : last.start + len(last.text)]
        out.append(Linked(m.kind, text, tuple(m.targets), m.cue if m.kind == "cue" else ""))
    return out


def coverage(question: str, lexicon: Lexicon) -> tuple[float, list[str]]:
    """How much of the question the schema reading can use: the share of its content
    words (and numbers, quoted values) that link to a table, column, value or cue, and
    the words that link to nothing. A query built from a question whose main nouns
    link to nothing answers a different question."""
    tokens = tokenize(question)
    covered = {k for m in _segment(tokens, lexicon) for k in range(m.start, m.end)}
    content = [
        k
        for k, t in enumerate(tokens)
        if t.kind != "word" or (t.norm not in _STOP and len(t.norm) > 2)
    ]
    if not content:
        return 1.0, []
    missing = [tokens[k].text for k in content if k not in covered]
    return 1 - len(missing) / len(content), missing
