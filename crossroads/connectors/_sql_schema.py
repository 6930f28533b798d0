"""Reading a database's tables, views and keys, and describing them.

Introspection goes through SQLAlchemy's inspector, so every installed dialect
is covered; the result is crossroads' own :class:`~crossroads.connectors.base.Schema`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.reflection import ObjectKind
from sqlalchemy.exc import CompileError
from sqlalchemy.sql.elements import quoted_name
from sqlalchemy.types import NullType, TypeEngine

from crossroads.connectors.base import Column, ForeignKey, QueryResult, Schema, Table
from crossroads.errors import ConfigError

__all__ = ["did_you_mean", "distinct_sql", "reflect", "render_table", "sample_sql"]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices``, or the choices if few, or ``""``."""
    pool = sorted(set(choices))
    by_lower = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        return " Did you mean " + " or ".join(repr(by_lower[c]) for c in close) + "?"
    if 0 < len(pool) <= 20:
        return " Known: " + ", ".join(pool) + "."
    return ""


def reflect(
    bind: Engine | Connection, *, schema: str | None, include: Sequence[str] | None
) -> Schema:
    """Tables and views of ``schema`` (the default one when None), optionally only ``include``."""
    insp = sa.inspect(bind)
    names = list(insp.get_table_names(schema=schema)) + list(insp.get_view_names(schema=schema))
    with suppress(NotImplementedError):  # only some dialects have materialized views
        names += insp.get_materialized_view_names(schema=schema)
    wanted = _select(names, include)
    columns = insp.get_multi_columns(schema=schema, filter_names=wanted, kind=ObjectKind.ANY)
    keys = _multi(insp.get_multi_pk_constraint, schema, wanted)
    fks = _multi(insp.get_multi_foreign_keys, schema, wanted)
    tables: dict[str, Table] = {}
    for (_, name), cols in sorted(columns.items(), key=lambda kv: kv[0][1]):
        pk = set((keys.get((schema, name)) or {}).get("constrained_columns") or ())
        tables[name.lower()] = Table(
            name=name,
            columns=tuple(
                Column(
                    name=c["name"],
                    type=_type_name(c["type"], bind.dialect),
                    nullable=bool(c.get("nullable", True)) and c["name"] not in pk,
                    primary_key=c["name"] in pk,
                )
                for c in cols
            ),
            foreign_keys=tuple(
                ForeignKey(
                    columns=tuple(fk["constrained_columns"]),
                    ref_table=fk["referred_table"],
                    ref_columns=tuple(fk["referred_columns"]),
                )
                for fk in fks.get((schema, name)) or ()
            ),
            schema=schema,
        )
    return Schema(tables)


def _select(names: list[str], include: Sequence[str] | None) -> list[str] | None:
    if include is None:
        return None
    by_lower = {n.lower(): n for n in names}
    chosen: list[str] = []
    for wanted in include:
        actual = by_lower.get(wanted.lower())
        if actual is None:
            raise ConfigError(
                f"include_tables names {wanted!r}, which is neither a table nor a view "
                f"of the database.{did_you_mean(wanted, names)} Fix the name or drop it.",
                key="include_tables",
            )
        chosen.append(actual)
    return chosen


def _multi(method: Any, schema: str | None, wanted: list[str] | None) -> dict[Any, Any]:
    # Keys and foreign keys belong to tables; views have none.
    return dict(method(schema=schema, filter_names=wanted, kind=ObjectKind.TABLE))


def _type_name(type_: TypeEngine[Any], dialect: Dialect) -> str:
    if isinstance(type_, NullType):  # SQLite columns declared without a type
        return ""
    try:
        return str(type_.compile(dialect=dialect)).upper()
    except CompileError:
        return type(type_).__name__.upper()


def distinct_sql(engine: Engine, table: Table, column: str, *, limit: int, ordered: bool) -> str:
    """``SELECT DISTINCT col FROM table WHERE col IS NOT NULL [ORDER BY col] LIMIT n``.

    Identifiers are always quoted by the engine's own dialect (so names with
    spaces, capitals or keywords work, and no name is ever pasted in raw).
    """
    col: sa.ColumnClause[Any] = sa.column(quoted_name(column, quote=True))
    source = sa.table(quoted_name(table.name, quote=True), schema=table.schema)
    query = sa.select(col).select_from(source).where(col.is_not(None)).distinct().limit(limit)
    if ordered:
        query = query.order_by(col)
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


def sample_sql(engine: Engine, table: Table, *, limit: int) -> str:
    """``SELECT <every column> FROM table LIMIT n``, identifiers quoted by the dialect."""
    cols: list[sa.ColumnClause[Any]] = [
        sa.column(quoted_name(c.name, quote=True)) for c in table.columns
    ]
    source = sa.table(quoted_name(table.name, quote=True), schema=table.schema)
    query = sa.select(*cols).select_from(source).limit(limit)
    return str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def render_table(table: Table, sample: QueryResult | None) -> str:
    """A ``CREATE TABLE`` sketch of ``table`` and, if given, a few sample rows (for prompts)."""
    lines = [
        f"  {c.name} {c.type or 'UNKNOWN'}{'' if c.nullable else ' NOT NULL'}"
        for c in table.columns
    ]
    if table.primary_key:
        lines.append(f"  PRIMARY KEY ({', '.join(table.primary_key)})")
    lines += [
        f"  FOREIGN KEY ({', '.join(fk.columns)}) REFERENCES {fk.ref_table} "
        f"({', '.join(fk.ref_columns)})"
        for fk in table.foreign_keys
    ]
    text = f"CREATE TABLE {table.name} (\n" + ",\n".join(lines) + "\n)"
    if sample is not None and sample.rows:
        rows = ["\t".join(sample.columns)] + ["\t".join(map(str, r)) for r in sample.rows]
        text += f"\n/* {len(sample.rows)} rows from {table.name}:\n" + "\n".join(rows) + "\n*/"
    return text
