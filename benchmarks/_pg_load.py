"""Loading a SQLite file into a PostgreSQL schema, with the types SQLite actually stores.

Each column gets the PostgreSQL type of the values it holds (SQLite's ``typeof``):
integers ``BIGINT``, numbers ``DOUBLE PRECISION``, anything with text ``TEXT``, blobs
``BYTEA``; an empty column the type its declaration's affinity gives. Names are
lower-cased (SQLite's are case-insensitive), and a primary key is declared where the
data satisfies it (PostgreSQL then allows the columns it determines in a GROUP BY).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from _rows import quote, read_only, tables_and_columns


def pg_ident(name: str) -> str:
    return '"' + name.lower().replace('"', '""') + '"'


def _pg_type(storage: set[str], declared: str) -> str:
    """The PostgreSQL type holding what SQLite stores (``typeof`` of the non-null values)."""
    if storage == {"integer"}:
        return "BIGINT"
    if storage and storage <= {"integer", "real"}:
        return "DOUBLE PRECISION"
    if storage == {"blob"}:
        return "BYTEA"
    if storage:
        return "TEXT"
    affinity = declared.upper()  # no values: SQLite's affinity rules on the declared type
    if "INT" in affinity:
        return "BIGINT"
    if any(k in affinity for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if any(k in affinity for k in ("REAL", "FLOA", "DOUB")):
        return "DOUBLE PRECISION"
    return "TEXT"


def load_into_postgres(conn: Any, schema: str, path: Path) -> dict[str, Any]:
    """Create ``schema`` holding the tables of the SQLite file (names lower-cased, types
    from the stored values, primary keys where the data satisfies them)."""
    notes: list[str] = []
    src = read_only(path)
    cur = conn.cursor()
    try:
        cur.execute(f"CREATE SCHEMA {pg_ident(schema)}")
        tables = tables_and_columns(src)
        for table, _ in tables:
            info = list(src.execute(f"PRAGMA table_info({quote(table)})"))
            types: list[str] = []
            for _, column, declared, *_ in info:
                storage = {
                    r[0]
                    for r in src.execute(
                        f"SELECT DISTINCT typeof({quote(column)}) FROM {quote(table)}"
                    )
                } - {"null"}
                pg = _pg_type(storage, declared or "")
                if len(storage) > 1 and pg == "TEXT":
                    notes.append(f"{table}.{column}: mixed {sorted(storage)} stored as TEXT")
                types.append(pg)
            pk = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
            cols = ", ".join(
                f"{pg_ident(row[1])} {pg}" for row, pg in zip(info, types, strict=True)
            )
            if pk and _unique_not_null(src, table, pk):
                cols += f", PRIMARY KEY ({', '.join(pg_ident(c) for c in pk)})"
            elif pk:
                notes.append(f"{table}: primary key {pk} not satisfied by the data; left out")
            target = f"{pg_ident(schema)}.{pg_ident(table)}"
            cur.execute(f"CREATE TABLE {target} ({cols})")
            rows = [
                tuple(_pg_value(v, t) for v, t in zip(r, types, strict=True))
                for r in src.execute(f"SELECT * FROM {quote(table)}")
            ]
            if rows:
                marks = ", ".join(["%s"] * len(types))
                cur.executemany(f"INSERT INTO {target} VALUES ({marks})", rows)
        conn.commit()
        return {"tables": len(tables), "notes": notes}
    finally:
        cur.close()
        src.close()


def _unique_not_null(con: sqlite3.Connection, table: str, pk: list[str]) -> bool:
    cols = ", ".join(quote(c) for c in pk)
    nulls = " OR ".join(f"{quote(c)} IS NULL" for c in pk)
    t = quote(table)
    total = con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
    distinct = con.execute(f"SELECT COUNT(*) FROM (SELECT DISTINCT {cols} FROM {t})").fetchone()[0]
    has_null = con.execute(f"SELECT COUNT(*) FROM {t} WHERE {nulls}").fetchone()[0]
    return bool(total == distinct and has_null == 0)


def _pg_value(value: Any, pg_type: str) -> Any:
    if value is None:
        return None
    if pg_type == "TEXT" and not isinstance(value, str):
        return str(value)
    if pg_type == "DOUBLE PRECISION":
        return float(value)
    return value
