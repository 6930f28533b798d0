"""Pass 2: functions on an allow-list.

Functions sqlglot knows (``SUM``, ``SUBSTR``, ``STRFTIME`` …) are pure and allowed,
except the few that read files or reach outside the database. Functions it does not
know (``exp.Anonymous``) run only when on the dialect's allow-list (or one the caller
adds): an unknown function may read files, sleep or call out (``load_extension``,
``pg_read_file``, ``dblink``, ``lo_import``).
"""

from __future__ import annotations

import re

from sqlglot import exp

from crossroads.tools.sql._context import GovernContext, deny

__all__ = ["DENIED_FUNCTIONS", "SAFE_FUNCTIONS", "allowed_functions"]

DENIED_FUNCTIONS = frozenset(
    {
        # files and extensions
        "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_waldir",
        "lo_import", "lo_export", "lo_get", "lo_put", "lo_from_bytea", "lo_open",
        "load_file", "read_csv", "read_csv_auto", "read_parquet", "read_json",
        "read_json_auto", "read_text", "read_blob", "readcsv", "readparquet",
        # reaching other servers or running programs
        "dblink", "dblink_exec", "dblink_connect", "dblink_open", "openrowset",
        "opendatasource", "openquery", "xp_cmdshell", "sys_exec", "sys_eval",
        # executing SQL text, changing server state
        "query_to_xml", "query_to_xml_and_xmlschema", "cursor_to_xml", "table_to_xml",
        "set_config", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf",
        "pg_rotate_logfile", "pg_promote", "txid_current", "nextval", "setval",
        # stalling the server
        "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark",
    }
)  # fmt: skip
"""Never allowed, whatever the dialect or the caller's additions."""

_COMMON = {
    "coalesce", "nullif", "ifnull", "greatest", "least", "concat", "concat_ws", "replace",
    "lower", "upper", "trim", "ltrim", "rtrim", "length", "substr", "substring", "round",
    "abs", "sign", "floor", "ceil", "ceiling", "mod", "power", "sqrt", "exp", "ln", "log",
    "format", "char", "ascii", "reverse", "left", "right", "lpad", "rpad", "md5",
}  # fmt: skip

SAFE_FUNCTIONS: dict[str, frozenset[str]] = {
    "sqlite": frozenset(
        _COMMON
        | {
            "printf", "julianday", "unixepoch", "date", "time", "datetime", "strftime",
            "typeof", "iif", "likely", "unlikely", "unicode", "hex", "unhex", "quote",
            "soundex", "total", "glob", "instr", "group_concat", "random", "zeroblob",
            "json_extract", "json_array_length", "json_type", "json_valid",
        }
    ),
    "postgres": frozenset(
        _COMMON
        | {
            "to_char", "to_date", "to_timestamp", "to_number", "date_trunc", "date_part",
            "age", "justify_days", "justify_hours", "make_date", "make_timestamp", "now",
            "initcap", "split_part", "regexp_replace", "regexp_matches", "btrim", "strpos",
            "string_agg", "array_agg", "array_length", "unnest", "generate_series",
            "percentile_cont", "percentile_disc", "mode", "width_bucket", "jsonb_extract_path",
            "json_extract_path", "jsonb_array_length", "date_bin", "extract",
        }
    ),
    "mysql": frozenset(
        _COMMON
        | {
            "date_format", "str_to_date", "datediff", "timestampdiff", "timestampadd",
            "date_add", "date_sub", "if", "field", "find_in_set", "group_concat", "year",
            "month", "day", "dayofweek", "dayofmonth", "dayofyear", "week", "quarter",
            "last_day", "makedate", "curdate", "now", "locate", "instr", "json_extract",
        }
    ),
}  # fmt: skip
"""Per dialect, the functions sqlglot does not model that are known to be read-only."""


_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_MAX_FORMAT_WIDTH = 1000


def _format_bomb(node: exp.Func) -> str | None:
    """Why a printf/format call could run away inside one function call, or None.

    SQLite's statement timeout cannot interrupt a single call, and
    ``printf('%.*c', 2000000000, 'x')`` spins for many seconds building a string."""
    args = (
        [node.this, *node.expressions]
        if isinstance(node, exp.Anonymous)
        else list(node.iter_expressions())
    )
    fmt = next((a for a in args if isinstance(a, exp.Expr)), None)
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return "its format is not a string literal"
    for width, precision in _FORMAT_WIDTH.findall(fmt.this):
        for part in (width, precision):
            if part == "*":
                return "its format takes a width from an argument (*)"
            if part and int(part) > _MAX_FORMAT_WIDTH:
                return f"its format asks for a width over {_MAX_FORMAT_WIDTH}"
    return None


def _name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def allowed_functions(ctx: GovernContext) -> None:
    """Deny functions that read files, call out or change state, and unknown functions
    that are not on the dialect's allow-list."""
    safe = SAFE_FUNCTIONS.get(ctx.read_dialect, frozenset(_COMMON)) | ctx.extra_functions
    for node in ctx.root.find_all(exp.Func):
        name = _name(node)
        if name in DENIED_FUNCTIONS or name.replace("_", "") in DENIED_FUNCTIONS:
            raise deny(
                ctx,
                "sql.functions",
                f"function {name}() is never allowed: it reads files, reaches other systems or "
                "changes server state",
                node=node,
                securable=f"function:{name}",
            )
        if name in ("printf", "format") and (bomb := _format_bomb(node)) is not None:
            raise deny(
                ctx,
                "sql.functions",
                f"{name}() is refused because {bomb}: one such call can run for minutes "
                "and no timeout can interrupt it",
                node=node,
                securable=f"function:{name}",
            )
        if isinstance(node, exp.Anonymous) and name not in safe:
            raise deny(
                ctx,
                "sql.functions",
                f"function {name}() is not on the {ctx.read_dialect} allow-list; if it is "
                "read-only, allow it with GovernedSQL(..., allow_functions=[" + repr(name) + "])",
                node=node,
                securable=f"function:{name}",
            )
