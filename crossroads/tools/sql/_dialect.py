"""Pass 8: write the governed tree in the target database's dialect — faithfully.

sqlglot raises on constructs the target cannot express (``unsupported_level=RAISE``),
but it also writes constructs that run on the target with another meaning, or that the
target lacks. Those are handled here per (source, target) dialect pair, found with
BIRD's gold queries (the same questions in SQLite, MySQL and PostgreSQL) and checked by
running the expressions on all three engines:

- where an exact equivalent exists, the statement is written with it (:func:`faithful`):
  SQLite's ``LIKE`` ignores ASCII case and PostgreSQL's does not, so a literal pattern
  becomes ``ILIKE`` one way and ``GLOB`` the other; ``EXTRACT(YEAR FROM d)`` and MySQL's
  ``YEAR(d)`` become ``CAST(STRFTIME('%Y', d) AS INTEGER)``; ``LEFT``/``RIGHT`` become
  ``SUBSTR``; MySQL's ``LENGTH`` (bytes) becomes the length of a BLOB;
- otherwise :func:`unfaithful` names the node and the statement is refused, rather than
  run to return something else: ``DATE_FORMAT(d, '%M')`` is a month name in MySQL and
  minutes in SQLite; ``CAST(3.7 AS INT)`` is 3 in SQLite and 4 in PostgreSQL and MySQL;
  SQLite casts to ``INTERVAL`` or ``BOOLEAN`` by affinity; MySQL's ``DECIMAL`` cast
  rounds; ``GREATEST`` skips NULLs in PostgreSQL only; a negative ``SUBSTRING`` start
  counts from the end everywhere but PostgreSQL.

Not covered, because the statement does not say: a MySQL column's collation (usually
case-insensitive, so ``=`` and ``LIKE`` ignore case there and not in SQLite), the
session time zone behind ``CURRENT_TIMESTAMP``, and ties in ``ROUND`` of a double.

The connector then validates the result on the target (EXPLAIN) before executing it.
Policy expressions (masks, row filters) go through :func:`unfaithful` too: a mask that
keeps four characters in SQLite must not reveal the whole value on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from sqlglot import ErrorLevel, exp
from sqlglot.errors import UnsupportedError

from crossroads.tools.sql._context import COLUMN_TYPE, POLICY_NODE, GovernContext, deny

__all__ = ["faithful", "faithful_rewrites", "render_target", "to_target_sql", "unfaithful"]

Problem = tuple[exp.Expr, str]
_Check = Callable[[exp.Expr, str | None, str], Problem | None]

# Dialects where SUBSTRING/SUBSTR with a negative start does not count from the end
# (PostgreSQL and T-SQL start before the string and shorten the result instead).
_NEGATIVE_SUBSTRING_DIFFERS = frozenset({"postgres", "tsql", "redshift"})
# CAST(3.7 AS INT): SQLite truncates (3); PostgreSQL and MySQL round (4).
_CAST_TRUNCATES = frozenset({"sqlite"})
_CAST_ROUNDS = frozenset({"postgres", "mysql"})
# GREATEST/LEAST: PostgreSQL skips NULL arguments; SQLite's max(a, b) and MySQL's
# GREATEST return NULL when any argument is NULL.
_GREATEST_SKIPS_NULLS = frozenset({"postgres"})
_GREATEST_NULL_IF_ANY = frozenset({"sqlite", "mysql"})
# Date format codes (in sqlglot's strftime notation) verified to print the same in
# MySQL DATE_FORMAT, PostgreSQL TO_CHAR and SQLite strftime, over 1,000 timestamps.
_SAME_TIME_CODES = frozenset({"%Y", "%m", "%d", "%H", "%M", "%S", "%j", "%%"})
# ... and %w (weekday, 0 = Sunday), the same in MySQL and SQLite only.
_STRFTIME_LIKE = frozenset({"mysql", "sqlite"})
_TIME_CODE = re.compile(r"%-?.")
_REWRITTEN = "crossroads.faithful"
"""Meta key marking the nodes :func:`faithful` wrote (so the checks do not refuse them)."""


# --- checks: constructs that would mean something else -----------------------------------


def _find(tree: exp.Expr, *types: type[exp.Expr]) -> Iterator[Any]:
    """The nodes of ``types`` the statement wrote: a row filter or mask spliced in by
    governance is the policy's (checked on its own, whatever the statement's dialect)."""
    for node in tree.walk(prune=lambda n: bool(n.meta_get(POLICY_NODE))):
        if isinstance(node, types) and not node.meta_get(POLICY_NODE):
            yield node


def _is_negative(node: exp.Expr | None) -> bool:
    if isinstance(node, exp.Neg):
        return True
    return isinstance(node, exp.Literal) and not node.is_string and str(node.this).startswith("-")


def _negative_substring(tree: exp.Expr, source: str | None, target: str) -> Problem | None:
    if target not in _NEGATIVE_SUBSTRING_DIFFERS or source in _NEGATIVE_SUBSTRING_DIFFERS:
        return None
    for node in _find(tree, exp.Substring):
        if _is_negative(node.args.get("start")):
            return node, (
                "SUBSTRING with a negative start counts from the end in SQLite and MySQL, "
                f"but not in {target}, where it returns the start of the string instead; "
                "use RIGHT(x, n) or a positive start"
            )
    return None


_TEXT_RESULTS: tuple[type[exp.Expr], ...] = (
    exp.Substring, exp.SplitPart, exp.DPipe, exp.Concat, exp.Trim, exp.Upper, exp.Lower,
    exp.Replace, exp.TimeToStr, exp.Left, exp.Right,
)  # fmt: skip
_TEXT_TYPES = ("CHAR", "TEXT", "CLOB", "STRING")


def _integral(node: exp.Expr) -> bool:
    """Whether ``node`` is an integer whatever the data (so casting it cannot round)."""
    if isinstance(node, exp.Paren | exp.Neg):
        return _integral(node.this)
    if isinstance(node, exp.Literal):
        return not node.is_string and re.fullmatch(r"-?\d+", str(node.this)) is not None
    if isinstance(node, exp.Count | exp.Length):
        return True
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.INTEGER_TYPES)
    if isinstance(node, exp.Column):
        return "INT" in str(node.meta_get(COLUMN_TYPE) or "").upper()
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod):
        return _integral(node.this) and _integral(node.expression)
    return False


def _text(node: exp.Expr) -> bool:
    """Whether ``node`` is text: casting text to an integer keeps an integer's digits in
    every dialect, or fails (PostgreSQL) where SQLite and MySQL would truncate."""
    if isinstance(node, exp.Paren):
        return _text(node.this)
    if isinstance(node, exp.Literal):
        return bool(node.is_string)
    if isinstance(node, exp.Column):
        declared = str(node.meta_get(COLUMN_TYPE) or "").upper()
        return any(t in declared for t in _TEXT_TYPES)
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.TEXT_TYPES)
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in ("strftime", "printf", "substr", "group_concat")
    return isinstance(node, _TEXT_RESULTS)


def _cast_to_integer(tree: exp.Expr, source: str | None, target: str) -> Problem | None:
    if not (
        (source in _CAST_TRUNCATES and target in _CAST_ROUNDS)
        or (source in _CAST_ROUNDS and target in _CAST_TRUNCATES)
    ):
        return None
    for node in _find(tree, exp.Cast):
        if node.to.is_type(*exp.DataType.INTEGER_TYPES) and not (
            _integral(node.this) or _text(node.this)
        ):
            how = "truncates" if source in _CAST_TRUNCATES else "rounds"
            other = "rounds" if source in _CAST_TRUNCATES else "truncates"
            return node, (
                f"CAST to an integer {how} a fraction in {source} (3.7 → "
                f"{3 if how == 'truncates' else 4}) but {other} it in {target}; write "
                "ROUND(x) or a CASE that says which you mean, or cast an integer"
            )
    return None


def _cast_to_decimal(tree: exp.Expr, source: str | None, target: str) -> Problem | None:
    if target != "sqlite" or source in (None, "sqlite"):
        return None
    for node in _find(tree, exp.Cast):
        if not node.to.is_type(exp.DataType.Type.DECIMAL):
            continue
        if _integral(node.this):
            continue
        if node.to.expressions or source == "mysql":
            scale = "its scale" if node.to.expressions else "MySQL's default scale, 0"
            return node, (
                f"CAST to DECIMAL rounds to {scale} in {source}, but SQLite keeps every "
                "digit; write ROUND(x, n)"
            )
    return None


_T = exp.DataType.Type
_SQLITE_CASTS = frozenset(
    {
        _T.INT, _T.BIGINT, _T.SMALLINT, _T.TINYINT, _T.MEDIUMINT,  # integers: _cast_to_integer
        _T.FLOAT, _T.DOUBLE, _T.DECIMAL,  # REAL; DECIMAL: _cast_to_decimal
        _T.TEXT, _T.VARCHAR, _T.CHAR, _T.NVARCHAR, _T.NCHAR,  # without a length
        _T.BLOB, _T.VARBINARY, _T.BINARY,  # without a length
        _T.DATE, _T.DATETIME, _T.TIMESTAMP, _T.TIME,  # written as SQLite's date functions
    }
)  # fmt: skip
_SIZED = frozenset({_T.VARCHAR, _T.CHAR, _T.NVARCHAR, _T.NCHAR, _T.VARBINARY, _T.BINARY})


def _cast_to_sqlite_type(tree: exp.Expr, source: str | None, target: str) -> Problem | None:
    """SQLite casts to any type name by affinity: ``CAST('1:23' AS INTERVAL)`` is 1,
    ``CAST('t' AS BOOLEAN)`` 0 and ``CAST(x AS VARCHAR(3))`` keeps every character."""
    if target != "sqlite" or source in (None, "sqlite"):
        return None
    for node in _find(tree, exp.Cast):
        kind = node.to.this
        sized = kind in _SIZED and bool(node.to.expressions)
        if kind not in _SQLITE_CASTS or sized:
            return node, (
                f"SQLite has no type {node.to.sql(dialect=source)}: it would cast by type "
                "affinity (an INTERVAL or a UUID to the number its text starts with, a "
                "BOOLEAN to 0, a VARCHAR(n) without cutting it to n characters); cast to "
                "INTEGER, REAL, TEXT, DATE or TIMESTAMP"
            )
    return None


def _greatest_nulls(tree: exp.Expr, source: str | None, target: str) -> Problem | None:
    if source is None:
        return None
    for node in _find(tree, exp.Greatest, exp.Least):
        skips = bool(node.args.get("ignore_nulls"))
        if (not skips and target in _GREATEST_SKIPS_NULLS) or (
            skips and target in _GREATEST_NULL_IF_ANY and target != "sqlite"
        ):
            args = [node.this, *node.expressions]
            if all(isinstance(a, exp.Literal) for a in args):
                continue
            name = "GREATEST" if isinstance(node, exp.Greatest) else "LEAST"
            return node, (
                f"{name} {'skips' if skips else 'returns NULL for'} NULL arguments in "
                f"{source} but {'returns NULL' if skips else 'skips them'} in {target}; "
                "wrap the arguments in COALESCE or test them for NULL"
            )
    return None


def _time_format(tree: exp.Expr, source: str | None, target: str) -> Problem | None:
    if source is None:
        return None
    letters_ok = source in _STRFTIME_LIKE and target in _STRFTIME_LIKE
    same = _SAME_TIME_CODES | ({"%w"} if letters_ok else set())
    for node in _find(tree, exp.TimeToStr):
        fmt = node.args.get("format")
        if not (isinstance(fmt, exp.Literal) and fmt.is_string):
            return node, "the date format is not a literal, so it cannot be checked"
        text = str(fmt.this)
        codes = set(_TIME_CODE.findall(text))
        bad = sorted(codes - same)
        rest = _TIME_CODE.sub("", text)
        if bad or (not letters_ok and re.search(r"[A-Za-z]", rest)):
            what = ", ".join(bad) if bad else repr(rest)
            return node, (
                f"the date format {what} (in sqlglot's strftime notation) does not print the "
                f"same in {source} and {target} (month and day names, week numbers, 12-hour "
                "clocks and fractions of a second differ); use year, month, day, hour, "
                "minute, second or day of year (%Y %m %d %H %M %S %j)"
            )
    return None


def _like_left(tree: exp.Expr, source: str | None, target: str) -> Problem | None:
    """LIKE that :func:`faithful` could not rewrite between SQLite and PostgreSQL."""
    pair = (source, target)
    if pair not in (("sqlite", "postgres"), ("postgres", "sqlite")):
        return None
    for node in _find(tree, exp.Like, exp.ILike):
        if node.meta_get(_REWRITTEN):
            continue
        if source == "sqlite":
            why = (
                "SQLite's LIKE ignores ASCII case and PostgreSQL's does not; only a literal "
                "ASCII pattern can be written exactly (as ILIKE)"
            )
        else:
            why = (
                "PostgreSQL's LIKE is case-sensitive and its ILIKE ignores the case of every "
                "letter, while SQLite's LIKE ignores ASCII case only; only a literal pattern "
                "(ASCII for ILIKE) can be written exactly"
            )
        return node, f"{why}. Compare LOWER(x) with a lower-case literal pattern instead"
    return None


_CHECKS: tuple[_Check, ...] = (
    _negative_substring,
    _cast_to_sqlite_type,
    _cast_to_integer,
    _cast_to_decimal,
    _greatest_nulls,
    _time_format,
    _like_left,
)


def unfaithful(tree: exp.Expr, target: str, *, source: str | None = None) -> Problem | None:
    """The first node of ``tree`` that would mean something else in ``target``, and why.

    ``source`` is the dialect ``tree`` was read in; None for a policy expression, which
    is checked only for what differs whatever it was written in.
    """
    for check in _CHECKS:
        problem = check(tree, source, target)
        if problem is not None:
            return problem
    return None


# --- rewrites: exact equivalents -------------------------------------------------------


def _literal_text(node: exp.Expr | None) -> str | None:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    return None


def _glob_pattern(pattern: str, escape: str | None) -> str | None:
    """PostgreSQL ``LIKE`` pattern (``\\`` escapes unless ESCAPE says otherwise) as an
    SQLite ``GLOB`` pattern, or None when it cannot be translated."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if escape and ch == escape:
            literal = next(chars, None)
            if literal is None:
                return None  # PostgreSQL refuses a pattern ending in its escape
            out.append(f"[{literal}]" if literal in "*?[" else literal)
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        else:
            out.append(f"[{ch}]" if ch in "*?[" else ch)
    return "".join(out)


def _negated(node: exp.Expr, negate: bool) -> exp.Expr:
    for like in node.find_all(exp.Like, exp.ILike, exp.Glob):
        like.meta[_REWRITTEN] = True
    return exp.Not(this=node) if negate else node


def _like_sqlite_to_postgres(like: exp.Like, escape: str | None) -> exp.Expr | None:
    pattern = _literal_text(like.expression)
    if pattern is None or not pattern.isascii():
        return None
    new: exp.Expr = exp.ILike(this=like.this.copy(), expression=like.expression.copy())
    if escape is not None:
        new = exp.Escape(this=new, expression=exp.Literal.string(escape))
    elif "\\" in pattern:  # SQLite has no default escape character; PostgreSQL has '\'
        new = exp.Escape(this=new, expression=exp.Literal.string(""))
    return _negated(new, bool(like.args.get("negate")))


def _like_postgres_to_sqlite(like: exp.Like | exp.ILike, escape: str | None) -> exp.Expr | None:
    pattern = _literal_text(like.expression)
    if pattern is None:
        return None
    esc = "\\" if escape is None else escape
    negate = bool(like.args.get("negate"))
    if isinstance(like, exp.Like):  # case-sensitive: GLOB is, LIKE is not
        glob = _glob_pattern(pattern, esc or None)
        if glob is None:
            return None
        return _negated(
            exp.Glob(this=like.this.copy(), expression=exp.Literal.string(glob)), negate
        )
    if not pattern.isascii():
        return None  # ILIKE folds every letter's case, SQLite's LIKE only ASCII
    new: exp.Expr = exp.Like(this=like.this.copy(), expression=like.expression.copy())
    if esc and esc in pattern:
        new = exp.Escape(this=new, expression=exp.Literal.string(esc))
    return _negated(new, negate)


_DATE_PARTS = {"YEAR": "%Y", "MONTH": "%m", "DAY": "%d", "HOUR": "%H", "MINUTE": "%M"}


def _date_part_to_sqlite(node: exp.Expr) -> exp.Expr | None:
    """``EXTRACT(YEAR FROM d)`` / MySQL ``YEAR(d)`` as ``CAST(STRFTIME('%Y', d) AS INTEGER)``
    (SQLite has neither; sqlglot writes them unchanged)."""
    if isinstance(node, exp.Extract):
        unit, value = node.this.name.upper(), node.expression
    else:
        unit, value = type(node).__name__.upper(), node.this
    fmt = _DATE_PARTS.get(unit)
    if fmt is None or not isinstance(value, exp.Expr):
        return None
    strftime = exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string(fmt), value.copy()])
    return exp.Cast(this=strftime, to=exp.DataType.build("INTEGER"))


def _left_right_to_sqlite(node: exp.Left | exp.Right) -> exp.Expr | None:
    """``LEFT(x, n)`` / ``RIGHT(x, n)`` (n a positive literal) as ``SUBSTR`` (SQLite has
    neither; sqlglot writes them unchanged)."""
    n = node.expression
    if not (isinstance(n, exp.Literal) and not n.is_string and str(n.this).isdigit()):
        return None
    if int(n.this) == 0:
        return None
    if isinstance(node, exp.Left):
        return exp.Substring(this=node.this.copy(), start=exp.Literal.number(1), length=n.copy())
    return exp.Substring(this=node.this.copy(), start=exp.Literal.number(-int(n.this)))


def _byte_length_to_sqlite(node: exp.Length) -> exp.Expr | None:
    """MySQL's ``LENGTH`` counts bytes, SQLite's characters; a BLOB's length is its bytes."""
    if not node.args.get("binary"):
        return None
    blob = exp.Cast(this=node.this.copy(), to=exp.DataType.build("BLOB"))
    return exp.Length(this=blob)


def _rewrite(node: exp.Expr, source: str, target: str) -> tuple[exp.Expr, exp.Expr, str] | None:
    """(the node to replace, its replacement, a label such as ``LIKE → GLOB``), or None."""
    pair = (source, target)
    if isinstance(node, exp.Like | exp.ILike) and pair in (
        ("sqlite", "postgres"),
        ("postgres", "sqlite"),
    ):
        parent = node.parent
        escape: str | None = None
        old: exp.Expr = node
        if isinstance(parent, exp.Escape) and parent.this is node:
            escape = _literal_text(parent.expression)
            if escape is None:
                return None  # a computed escape: left for unfaithful() to refuse
            old = parent
        name = "ILIKE" if isinstance(node, exp.ILike) else "LIKE"
        if source == "sqlite" and isinstance(node, exp.Like):
            new = _like_sqlite_to_postgres(node, escape)
            label = "LIKE → ILIKE"
        elif source == "postgres":
            new = _like_postgres_to_sqlite(node, escape)
            label = f"{name} → {'GLOB' if name == 'LIKE' else 'LIKE'}"
        else:
            return None
        return (old, new, label) if new is not None else None
    if target == "sqlite" and source in ("postgres", "mysql"):
        if isinstance(node, exp.Extract | exp.Year | exp.Month | exp.Day):
            new = _date_part_to_sqlite(node)
            name = "EXTRACT" if isinstance(node, exp.Extract) else type(node).__name__.upper()
            label = f"{name} → CAST(STRFTIME(…) AS INTEGER)"
        elif isinstance(node, exp.Left | exp.Right):
            new = _left_right_to_sqlite(node)
            label = f"{type(node).__name__.upper()} → SUBSTR"
        elif isinstance(node, exp.Length):
            new = _byte_length_to_sqlite(node)
            label = "LENGTH in bytes → LENGTH(CAST(… AS BLOB))"
        else:
            return None
        return (node, new, label) if new is not None else None
    return None


_REWRITABLE = (
    exp.Like, exp.ILike, exp.Extract, exp.Year, exp.Month, exp.Day, exp.Left, exp.Right,
    exp.Length,
)  # fmt: skip


def faithful_rewrites(tree: exp.Expr, source: str, target: str) -> list[str]:
    """What :func:`faithful` would rewrite in ``tree``, as ``"LIKE → GLOB"`` labels."""
    return [
        found[2]
        for node in _find(tree, *_REWRITABLE)
        if (found := _rewrite(node, source, target)) is not None
    ]


def faithful(tree: exp.Expr, source: str, target: str) -> exp.Expr:
    """``tree`` with the constructs that have an exact equivalent in ``target`` written
    with it (a copy when anything changes; ``tree`` itself otherwise)."""
    if source == target or next(_find(tree, *_REWRITABLE), None) is None:
        return tree
    copied = tree.copy()
    changed = False
    for node in reversed(list(_find(copied, *_REWRITABLE))):  # the innermost first
        found = _rewrite(node, source, target)
        if found is None:
            continue
        old, new, _ = found
        changed = True
        if old is copied:
            copied = new
        else:
            old.replace(new)
    return copied if changed else tree


# --- rendering ---------------------------------------------------------------------------


def to_target_sql(ctx: GovernContext) -> str:
    """The governed statement in the target dialect, or a denial when it cannot be
    written faithfully there."""
    root = ctx.root
    cached = ctx.rendered
    if cached is not None and cached[0] is root and _unchanged_since_hashed(root):
        return cached[1]
    tree = root
    if ctx.read_dialect != ctx.target_dialect:
        ctx.rewrites = faithful_rewrites(root, ctx.read_dialect, ctx.target_dialect)
        tree = faithful(root, ctx.read_dialect, ctx.target_dialect)
        problem = unfaithful(tree, ctx.target_dialect, source=ctx.read_dialect)
        if problem is not None:
            raise deny(
                ctx,
                "sql.transpile",
                f"the statement cannot be written faithfully in {ctx.target_dialect}: {problem[1]}",
                node=problem[0],
            )
    try:
        # sqlglot copies the tree before writing it, in case a rewrite for the target
        # changes it; a tree read in the target's own dialect holds none of those
        # constructs (and the copy is half the cost of writing it)
        sql = tree.sql(
            dialect=ctx.target_dialect,
            unsupported_level=ErrorLevel.RAISE,
            copy=tree is root and ctx.read_dialect != ctx.target_dialect,
        )
    except UnsupportedError as exc:
        raise deny(
            ctx,
            "sql.transpile",
            f"the statement cannot be written faithfully in {ctx.target_dialect} "
            f"({exc}); write it in {ctx.target_dialect} SQL directly",
        ) from None
    except RecursionError:
        raise deny(
            ctx,
            "sql.parse",
            "the statement is nested too deeply to be written out; flatten the expression",
        ) from None
    hash(root)  # marks every node; any later change to the tree clears the root's mark
    ctx.rendered = (root, sql)
    return sql


def _unchanged_since_hashed(root: exp.Expr) -> bool:
    # sqlglot caches a node's hash and drops it, up to the root, whenever the node or
    # anything below it is set, appended or replaced. (If that attribute ever goes away,
    # nothing is reused and the statement is rendered again.)
    return getattr(root, "_hash", None) is not None


def render_target(ctx: GovernContext) -> None:
    """Fail early when the statement cannot be rendered for the target dialect."""
    to_target_sql(ctx)
