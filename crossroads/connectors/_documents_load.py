"""Reading documents for the document index: JSONL files, folders of files, SQL tables.

Each reader checks all of its input before returning anything, so a bad line,
file or row raises :class:`~crossroads.errors.ConfigError` (with the file and
line where there is one) and nothing is half-loaded. Metadata is normalised to
JSON values here (:func:`json_metadata`), so what is indexed is what is saved.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from crossroads.connectors._chunking import sections
from crossroads.connectors._html import html_to_text
from crossroads.connectors._sql_schema import did_you_mean
from crossroads.connectors.base import SQLBackend, Table
from crossroads.errors import ConfigError

__all__ = ["Record", "json_metadata", "read_folder", "read_jsonl", "read_sql"]

_HTML_SUFFIXES = frozenset({".html", ".htm"})
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)


class Record(NamedTuple):
    """One document read from a source, not yet chunked."""

    id: str
    text: str
    metadata: dict[str, Any]


# --- metadata ----------------------------------------------------------------------------------


def json_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` with every value made a JSON value, or ConfigError naming the key.

    Dates and times become ISO strings, decimals numbers, tuples lists, sets sorted
    lists; anything else that is not a string, number, bool, None, list or mapping
    with string keys is refused.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ConfigError(
            f"metadata must be a mapping of field names to values, got {type(metadata).__name__}",
            key="metadata",
        )
    return {_key(k, "metadata"): _json_value(v, f"metadata.{k}") for k, v in metadata.items()}


def _key(key: object, where: str) -> str:
    if not isinstance(key, str):
        raise ConfigError(f"metadata keys must be strings, got {key!r}", key=where)
    return key


def _json_value(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        return sorted((_json_value(v, where) for v in value), key=repr)
    if isinstance(value, Mapping):
        return {_key(k, where): _json_value(v, f"{where}.{k}") for k, v in value.items()}
    raise ConfigError(
        f"{type(value).__name__} is not a JSON value (string, number, bool, null, list or "
        "object); convert it before adding the document",
        key=where,
    )


# --- JSONL -------------------------------------------------------------------------------------


def read_jsonl(
    path: str | os.PathLike[str],
    *,
    id_field: str,
    text_fields: Sequence[str],
    metadata_fields: Sequence[str] | None,
) -> list[Record]:
    """One :class:`Record` per non-blank line of a UTF-8 JSONL file; see
    :meth:`DocumentIndex.from_jsonl <crossroads.connectors.DocumentIndex.from_jsonl>`."""
    text_fields = _names(text_fields, "text_fields")
    if not text_fields:
        raise ConfigError("text_fields must name at least one field", key="text_fields")
    wanted = None if metadata_fields is None else _names(metadata_fields, "metadata_fields")
    name = os.fspath(path)
    records: list[Record] = []
    seen: dict[str, int] = {}
    for lineno, line in _lines(name):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"not valid JSON ({exc.msg} at column {exc.colno}); each line must hold one "
                "JSON object",
                file=name,
                line=lineno,
            ) from exc
        try:
            record = _jsonl_record(obj, id_field, text_fields, wanted)
        except ConfigError as exc:
            raise ConfigError(exc.reason, file=name, line=lineno, key=exc.key) from None
        if record.id in seen:
            raise ConfigError(
                f"duplicate document id {record.id!r} (first on line {seen[record.id]}); "
                "ids must be unique within a file",
                file=name,
                line=lineno,
            )
        seen[record.id] = lineno
        records.append(record)
    return records


def _jsonl_record(
    obj: Any, id_field: str, text_fields: Sequence[str], wanted: Sequence[str] | None
) -> Record:
    if not isinstance(obj, dict):
        raise ConfigError(f"expected a JSON object, got {type(obj).__name__}")
    if id_field not in obj:
        raise ConfigError(
            f"no {id_field!r} field; the fields are {sorted(obj)}. Pass id_field= to name "
            "the field holding the document id"
        )
    doc_id = _id(obj[id_field], id_field)
    if not any(f in obj for f in text_fields):
        raise ConfigError(
            f"none of the text fields {list(text_fields)} is present; the fields are "
            f"{sorted(obj)}. Pass text_fields= to name the fields holding the text"
        )
    parts: list[str] = []
    for f in text_fields:
        value = obj.get(f)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(
                f"text field {f!r} must be a string, got {type(value).__name__}", key=f
            )
        if value.strip():
            parts.append(value.strip())
    nested = obj.get("metadata")
    if nested is not None and not isinstance(nested, dict):
        raise ConfigError(
            f"'metadata' must be a JSON object, got {type(nested).__name__}", key="metadata"
        )
    merged = dict(nested or {})  # top-level fields win over the nested ones
    merged.update((k, v) for k, v in obj.items() if k not in (id_field, "metadata", *text_fields))
    if wanted is not None:
        merged = {k: merged[k] for k in wanted if k in merged}
    return Record(doc_id, "\n\n".join(parts), json_metadata(merged))


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ConfigError(
            f"the document id must be a non-empty string or an integer, got {value!r}", key=field
        )
    return str(value)


def _lines(name: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a UTF-8 file, with the line a decoding error is on."""
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError as exc:
        raise ConfigError("no such file: check the path", file=name) from exc
    except IsADirectoryError as exc:
        raise ConfigError("is a directory, expected a JSONL file", file=name) from exc
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"not UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8",
                    file=name,
                    line=lineno,
                ) from exc
            yield lineno, line


def _names(value: Sequence[str], key: str) -> list[str]:
    if isinstance(value, str):
        raise ConfigError(f"{key} must be a list of names, not one string; write {key}=[{value!r}]")
    names = list(value)
    for n in names:
        if not isinstance(n, str) or not n:
            raise ConfigError(f"{key} must hold non-empty strings, got {n!r}", key=key)
    return names


# --- folders -----------------------------------------------------------------------------------


def read_folder(path: str | os.PathLike[str], patterns: Sequence[str]) -> list[Record]:
    """One :class:`Record` per file under ``path`` matching ``patterns``; see
    :meth:`DocumentIndex.from_folder <crossroads.connectors.DocumentIndex.from_folder>`."""
    root = Path(path)
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "no such directory"
        raise ConfigError(f"{what}: from_folder needs a folder of documents", file=str(root))
    found: dict[str, Path] = {}
    for pattern in _names(patterns, "patterns"):
        for file in root.rglob(pattern):
            rel = file.relative_to(root)
            if file.is_symlink() or not file.resolve().is_relative_to(root.resolve()):
                continue  # a link could pull another folder's (another collection's) files in
            if file.is_file() and not any(p.startswith(".") for p in rel.parts):
                found[rel.as_posix()] = file
    return [_file_record(doc_id, found[doc_id]) for doc_id in sorted(found)]


def _file_record(doc_id: str, file: Path) -> Record:
    name = str(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", file=name) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8 or leave it "
            "out with patterns=",
            file=name,
        ) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    modified = dt.datetime.fromtimestamp(file.stat().st_mtime, dt.UTC)
    metadata: dict[str, Any] = {
        "path": file.as_posix(),
        "title": file.stem,
        "modified": modified.isoformat(timespec="seconds"),
    }
    if file.suffix.lower() in _HTML_SUFFIXES:
        text, title = html_to_text(text)
    else:
        text, front = _front_matter(text, name)
        title = next((s.heading for s in sections(text) if s.heading), None)
        metadata.update(front)  # what the author wrote wins over what was derived
        if "title" in front:
            title = None
    if title:
        metadata["title"] = title
    return Record(doc_id, text, json_metadata(metadata))


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML without aliases: ``*name`` references can blow up exponentially."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", event.start_mark
            )
        return super().compose_node(parent, index)


def _front_matter(text: str, name: str) -> tuple[str, dict[str, Any]]:
    """The text without its ``---`` YAML block, and the block's mapping."""
    m = _FRONT_MATTER.match(text)
    if m is None:
        return text, {}
    try:
        data = yaml.load(m.group(1) or "", Loader=_FrontMatterLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 2  # + the opening "---" line, 1-based
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"the front matter is not valid YAML ({problem}); fix it or remove the '---' block",
            file=name,
            line=line,
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the front matter must be a mapping of 'key: value' lines, got {type(data).__name__}",
            file=name,
            line=2,
        )
    return text[m.end() :], data


# --- SQL ---------------------------------------------------------------------------------------


def read_sql(
    db: SQLBackend,
    table: str,
    *,
    id_column: str,
    text_columns: Sequence[str],
    metadata_columns: Sequence[str] | None,
    max_rows: int,
) -> tuple[str, list[Record]]:
    """``(table name as the database spells it, records)``, one record per row; see
    :meth:`DocumentIndex.from_sql <crossroads.connectors.DocumentIndex.from_sql>`."""
    schema = db.schema()
    found = schema.table(table)
    if found is None:
        known = [t.name for t in schema.tables.values()]
        raise ConfigError(
            f"no table or view {table!r} in the database.{did_you_mean(table, known)} "
            "Check the name against db.schema()",
            key="table",
        )
    id_col = _columns(found, [id_column], "id_column")[0]
    text_cols = _columns(found, _names(text_columns, "text_columns"), "text_columns")
    if not text_cols:
        raise ConfigError("text_columns must name at least one column", key="text_columns")
    # metadata is returned to every reader of a document: only named columns become
    # metadata, so a column masked on the SQL route never leaks through the index
    names = _names(metadata_columns or (), "metadata_columns")
    meta_cols = _columns(found, names, "metadata_columns")
    sql = _select_sql(db.dialect, found, [id_col, *text_cols, *meta_cols], id_col)
    result = db.execute(sql, max_rows=max_rows)
    if result.truncated:
        raise ConfigError(
            f"table {found.name!r} has more than max_rows={max_rows} rows; raise max_rows",
            key="max_rows",
        )
    records: list[Record] = []
    seen: set[str] = set()
    n_text = len(text_cols)
    for rowno, row in enumerate(result.rows, start=1):
        where = f"{found.name} row {rowno}"
        if row[0] is None:
            raise ConfigError(f"{where}: {id_col} is NULL; every row needs an id", key="id_column")
        doc_id = _id(row[0], id_col)
        if doc_id in seen:
            raise ConfigError(
                f"{where}: duplicate id {doc_id!r} in column {id_col!r}; pick a unique column "
                "as id_column",
                key="id_column",
            )
        seen.add(doc_id)
        texts = [
            _cell_text(v, f"{where}, column {c!r}")
            for c, v in zip(text_cols, row[1 : 1 + n_text], strict=True)
        ]
        metadata = dict(zip(meta_cols, row[1 + n_text :], strict=True))
        try:
            cleaned = json_metadata(metadata)
        except ConfigError as exc:
            raise ConfigError(
                f"{where}: {exc.reason}; leave the column out with metadata_columns=",
                key=exc.key,
            ) from None
        records.append(Record(doc_id, "\n\n".join(t for t in texts if t), cleaned))
    return found.name, records


def _columns(table: Table, names: Iterable[str], key: str) -> list[str]:
    out = []
    for name in names:
        col = table.column(name)
        if col is None:
            raise ConfigError(
                f"table {table.name!r} has no column {name!r}."
                f"{did_you_mean(name, table.column_names)} The columns are "
                f"{list(table.column_names)}",
                key=key,
            )
        out.append(col.name)
    return out


def _select_sql(dialect: str, table: Table, columns: Sequence[str], order_by: str) -> str:
    from sqlglot import exp

    select = (
        exp.select(*(exp.column(c, quoted=True) for c in columns))
        .from_(exp.table_(table.name, db=table.schema, quoted=True))
        .order_by(exp.column(order_by, quoted=True))
    )
    return select.sql(dialect=dialect)


def _cell_text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        raise ConfigError(f"{where} holds bytes, not text; name a text column in text_columns")
    return str(value).strip()
