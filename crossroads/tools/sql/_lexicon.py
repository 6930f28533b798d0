"""Words for schema linking: question tokens, the principal's visible schema as phrases,
and an index of the text values the principal may see.

The value index is filled through governed queries, so it holds only rows the
principal's row filters allow and never a masked column's values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ColumnInfo",
    "Lexicon",
    "Token",
    "lemma",
    "normalize",
    "split_identifier",
    "tokenize",
]

_TOKEN = re.compile(
    r"\"(?P<dq>[^\"]+)\"|'(?P<sq>[^']+)'|“(?P<cq>[^”]+)”"  # quoted values
    r"|(?P<num>-?\d+(?:[.,]\d+)*(?:\.\d+)?)"  # numbers
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)?|\w+)",
    re.UNICODE,
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NUMERIC_TYPES = ("INT", "REAL", "FLOAT", "DOUBLE", "NUMERIC", "DECIMAL", "NUMBER", "BIGINT")
_DATE_TYPES = ("DATE", "TIME")
_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman"}
_KEEP = {"status", "address", "class", "series", "species", "bus", "gas", "news", "business"}


def normalize(text: str) -> str:
    """Lower-cased, accents removed (``Zürich`` → ``zurich``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def lemma(word: str) -> str:
    """A crude singular: ``singers`` → ``singer``, ``cities`` → ``city``, ``boxes`` → ``box``."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or w in _KEEP or w.endswith(("ss", "us", "is")):
        return w
    if w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "xes", "zes", "sses")):
        return w[:-2]
    if w.endswith("s"):
        return w[:-1]
    return w


def split_identifier(name: str) -> list[str]:
    """``Song_release_year`` → ``[song, release, year]``; ``singerId`` → ``[singer, id]``."""
    words: list[str] = []
    for part in re.split(r"[\W_]+", name):
        words += [w for w in _CAMEL.sub(" ", part).split() if w]
    return [lemma(normalize(w)) for w in words]


@dataclass(frozen=True, slots=True)
class Token:
    """One word, number or quoted value of a question."""

    text: str
    """As written."""
    norm: str
    """Normalised and singular (for numbers: the number as written, commas removed)."""
    start: int
    """Character offset in the question."""
    kind: str = "word"
    """``word``, ``number`` or ``quoted``."""

    @property
    def capitalized(self) -> bool:
        """Starts with a capital letter (a proper noun unless it opens the sentence)."""
        return self.kind == "word" and self.text[:1].isupper()

    @property
    def number(self) -> float | None:
        """The numeric value of a number token."""
        if self.kind != "number":
            return None
        try:
            return float(self.norm)
        except ValueError:
            return None


def tokenize(question: str) -> list[Token]:
    """Words (normalised, singular), numbers and quoted values, in order."""
    out: list[Token] = []
    for m in _TOKEN.finditer(question):
        quoted = m.group("dq") or m.group("sq") or m.group("cq")
        if quoted is not None:
            out.append(Token(quoted, normalize(quoted).strip(), m.start(), "quoted"))
        elif m.group("num") is not None:
            raw = m.group("num")
            out.append(Token(raw, raw.replace(",", ""), m.start(), "number"))
        else:
            word = m.group("word")
            out.append(Token(word, lemma(normalize(word).replace("’", "'")), m.start()))
    return out


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A column the principal may read."""

    table: str
    name: str
    type: str
    primary_key: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        """The column name as words."""
        return tuple(split_identifier(self.name))

    @property
    def is_numeric(self) -> bool:
        """Numbers by type."""
        return any(t in self.type.upper() for t in _NUMERIC_TYPES)

    @property
    def is_date(self) -> bool:
        """Dates by type or name (``date``, ``time``, ``year``, ``*_on``, ``*_at``)."""
        upper = self.type.upper()
        words = self.words
        return any(t in upper for t in _DATE_TYPES) or bool(
            {"date", "time", "year", "day"} & set(words)
        )

    @property
    def is_text(self) -> bool:
        """Text by type (or untyped, as SQLite allows)."""
        upper = self.type.upper()
        return not self.is_numeric and not any(t in upper for t in (*_DATE_TYPES, "BLOB"))


Target = tuple[str, str, str]
"""``("table", table, "")``, ``("column", table, column)`` or ``("value", table, column)``."""


@dataclass
class Lexicon:
    """The principal's visible schema as phrases, with its foreign keys and values."""

    columns: dict[str, list[ColumnInfo]]
    """Visible columns by table."""
    foreign_keys: list[tuple[str, str, str, str]]
    """``(table, column, ref_table, ref_column)`` between visible columns."""
    masked: frozenset[tuple[str, str]] = frozenset()
    """``(table, column)`` pairs masked for the principal (never value-indexed)."""
    phrases: dict[tuple[str, ...], list[Target]] = field(default_factory=dict)
    values: dict[tuple[str, ...], list[tuple[str, str, str]]] = field(default_factory=dict)
    """Normalised value words → ``(table, column, value as stored)``."""

    def __post_init__(self) -> None:
        for table, cols in self.columns.items():
            words = tuple(split_identifier(table))
            self._add(words, ("table", table, ""))
            for col in cols:
                cw = col.words
                self._add(cw, ("column", table, col.name))
                # "singer_id" in table singer is also just "id" of the singer
                if len(cw) > 1 and cw[: len(words)] == words:
                    self._add(cw[len(words) :], ("column", table, col.name))

    def _add(self, words: tuple[str, ...], target: Target) -> None:
        if words:
            bucket = self.phrases.setdefault(words, [])
            if target not in bucket:
                bucket.append(target)

    def add_synonyms(self, synonyms: Mapping[str, str]) -> None:
        """``{"revenue": "sales.amount", "client": "customers"}``: extra phrases for
        columns (``table.column``) and tables, when the principal may see them."""
        for phrase, target in synonyms.items():
            words = tuple(lemma(normalize(w)) for w in re.findall(r"\w+", phrase))
            table, _, column = target.partition(".")
            if table not in self.columns:
                continue
            if not column:
                self._add(words, ("table", table, ""))
            elif any(c.name == column for c in self.columns[table]):
                self._add(words, ("column", table, column))

    def add_values(self, table: str, column: str, values: Iterable[object]) -> None:
        """Index a column's distinct text values (skipped for masked columns)."""
        if (table, column) in self.masked:
            return
        for value in values:
            if not isinstance(value, str) or not value.strip() or len(value) > 80:
                continue
            words = tuple(t.norm for t in tokenize(value) if t.kind != "quoted")
            if 0 < len(words) <= 6:
                bucket = self.values.setdefault(words, [])
                entry = (table, column, value)
                if entry not in bucket:
                    bucket.append(entry)

    def column(self, table: str, name: str) -> ColumnInfo | None:
        """A visible column by table and name."""
        for col in self.columns.get(table, []):
            if col.name == name:
                return col
        return None

    def name_column(self, table: str) -> ColumnInfo | None:
        """The column that names a row (``name``, ``title``, ``*_name``), if any."""
        cols = self.columns.get(table, [])
        for wanted in (("name",), ("title",)):
            for col in cols:
                if col.words == wanted:
                    return col
        for col in cols:
            if col.words and col.words[-1] in ("name", "title") and col.is_text:
                return col
        return None

    def label_column(self, table: str) -> ColumnInfo | None:
        """What to show for a row: its name column, else its first other text column,
        else its first primary-key column."""
        name = self.name_column(table)
        if name is not None:
            return name
        cols = self.columns.get(table, [])
        for group in (
            [c for c in cols if c.is_text and not c.primary_key],
            self.primary_key(table),
        ):
            if group:
                return group[0]
        return None

    def primary_key(self, table: str) -> list[ColumnInfo]:
        """The visible primary-key columns of a table."""
        return [c for c in self.columns.get(table, []) if c.primary_key]


def text_columns(lexicon: Lexicon) -> list[ColumnInfo]:
    """Columns whose values are worth indexing: visible, unmasked text columns."""
    return [
        c
        for cols in lexicon.columns.values()
        for c in cols
        if c.is_text and (c.table, c.name) not in lexicon.masked
    ]


def fill_values(
    lexicon: Lexicon,
    fetch: Callable[[str, str], Sequence[object]],
) -> None:
    """Index every indexable column with ``fetch(table, column)`` (a governed query)."""
    for col in text_columns(lexicon):
        lexicon.add_values(col.table, col.name, fetch(col.table, col.name))
