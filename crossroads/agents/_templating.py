"""Safe templates and conditions for workflows: a small expression language, no ``eval``.

A template is text with ``{{ expression }}`` holes; a condition is one expression::

    {{ inputs.week }}
    {{ steps.counts.rows[0][1] }}
    {{ steps.counts | table }}
    {{ steps.counts | column("product") | join(", ") }}
    {{ "flagged" if steps.counts.row_count > 0 else "quiet" }}

    steps.counts.row_count > 0 and inputs.region in ["EU", "US"]

Expressions are parsed with :mod:`ast` and every node is checked against a whitelist
before anything is evaluated: names (the context's roots: ``inputs``, ``steps``, ``run``),
``.attribute`` and ``[index]`` access into mappings and lists, literals (strings, numbers,
``True``/``False``/``None``, lists), comparisons (``== != < <= > >= in not in``), ``and``,
``or``, ``not``, ``a if c else b``, ``+ - * / %`` on numbers (``+`` also joins two
strings), a few functions
(:data:`FUNCTIONS`: ``len``, ``min`` …) and filters after ``|`` (:data:`FILTERS`). No
attribute of a Python object is ever read — ``.name`` is a key lookup in a mapping — and
names starting with ``_`` are refused, so nothing reaches ``__class__`` and friends.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crossroads.errors import ConfigError
from crossroads.policy._securable import did_you_mean

__all__ = [
    "FILTERS",
    "FUNCTIONS",
    "Expression",
    "Missing",
    "Template",
    "markdown_table",
    "parse_condition",
    "parse_template",
]

Path = tuple[str | int, ...]
"""A constant access path from a root: ``("steps", "counts", "rows", 0)``."""

_HOLE = re.compile(r"\{\{(.*?)\}\}|\{%", re.S)


class Missing(Exception):
    """A lookup found nothing: ``path`` is how far it got, ``reason`` why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _arith(op: Callable[[Any, Any], Any], symbol: str) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if not (_number(a) and _number(b)):
            raise ValueError(
                f"{symbol} works on numbers only, got {type(a).__name__} and {type(b).__name__}"
            )
        return op(a, b)

    return apply


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, str) or isinstance(b, str):
        raise ValueError(
            f"+ joins two strings or adds two numbers, got {type(a).__name__} and "
            f"{type(b).__name__}; write str(x) to turn a number into text"
        )
    return _arith(operator.add, "+")(a, b)


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _arith(operator.sub, "-"),
    ast.Mult: _arith(operator.mul, "*"),
    ast.Div: _arith(operator.truediv, "/"),
    ast.Mod: _arith(operator.mod, "%"),
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _as_rows(value: Any) -> tuple[list[str], list[Sequence[Any]]]:
    """Columns and rows of a SQL step's output, a list of mappings or a list of lists."""
    if isinstance(value, Mapping) and "rows" in value:
        rows = list(value["rows"])
        columns = [
            str(c) for c in value.get("columns") or range(1, len(rows[0]) + 1 if rows else 1)
        ]
        return columns, rows
    if isinstance(value, list) and value and all(isinstance(r, Mapping) for r in value):
        columns = list(dict.fromkeys(str(k) for r in value for k in r))
        return columns, [[r.get(c) for c in columns] for r in value]
    if isinstance(value, list) and all(isinstance(r, list | tuple) for r in value):
        width = max((len(r) for r in value), default=1)
        return [str(i) for i in range(1, width + 1)], value
    raise ValueError(
        f"table needs a SQL step's output or a list of rows, got {type(value).__name__}"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = f"{value:,.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(value: Any) -> str:
    """A Markdown table of a SQL step's output (or a list of rows / mappings)."""
    columns, rows = _as_rows(value)
    lines = [
        "| " + " | ".join(_cell(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    if not rows:
        lines.append("| " + " | ".join("" for _ in columns) + " |")
    return "\n".join(lines)


def _column(value: Any, which: int | str = 0) -> list[Any]:
    columns, rows = _as_rows(value)
    if isinstance(which, str):
        if which not in columns:
            raise ValueError(
                f"no column {which!r}; {did_you_mean(which, columns)}the columns are "
                f"{', '.join(columns)}"
            )
        which = columns.index(which)
    if not isinstance(which, int) or isinstance(which, bool):
        raise ValueError(f"column takes a column name or number, got {which!r}")
    if rows and not all(-len(row) <= which < len(row) for row in rows):
        raise ValueError(f"no column {which}; the rows have {len(columns)} column(s)")
    return [row[which] for row in rows]


def _join(value: Any, separator: str = ", ") -> str:
    if not isinstance(value, list | tuple):
        raise ValueError(f"join needs a list, got {type(value).__name__}")
    return separator.join(_text(v) for v in value)


def _first(value: Any) -> Any:
    if isinstance(value, Mapping) and "rows" in value:
        value = value["rows"]
    if not isinstance(value, list | tuple | str):
        raise ValueError(f"first needs a list, got {type(value).__name__}")
    if not value:
        raise Missing("first", "the list is empty")
    return value[0]


def _round(value: Any, digits: int = 0) -> Any:
    if not _number(value):
        raise ValueError(f"round needs a number, got {type(value).__name__}")
    return round(value, digits) if digits else round(value)


FILTERS: Mapping[str, Callable[..., Any]] = {
    "column": _column,
    "default": lambda value, fallback="": fallback if value is None or value == "" else value,
    "first": _first,
    "join": _join,
    "json": lambda value: json.dumps(value, ensure_ascii=False, default=str),
    "lower": lambda value: _text(value).lower(),
    "round": _round,
    "table": markdown_table,
    "upper": lambda value: _text(value).upper(),
}
"""Filters written after ``|``: ``table`` (a SQL step's rows as a Markdown table),
``column(name_or_index)`` (one column's values), ``join(sep)``, ``first``,
``default(fallback)`` (also when the left side is undefined), ``json``, ``lower``,
``upper``, ``round(digits)``."""

FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "abs": abs,
    "len": len,
    "max": max,
    "min": min,
    "str": lambda value: _text(value),
    "sum": sum,
}
"""Functions an expression may call."""


def _text(value: Any) -> str:
    """How a value is written into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("text"), str):
        return str(value["text"])
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str)


# --- checking ----------------------------------------------------------------------------


def _problem(source: str, node: ast.AST | None, message: str) -> ConfigError:
    col = getattr(node, "col_offset", None)
    at = f" (at column {col + 1})" if col is not None else ""
    return ConfigError(f"in {{{{ {source.strip()} }}}}{at}: {message}")


class _Checker:
    """Refuses every AST node that is not in the whitelist."""

    def __init__(self, source: str, roots: frozenset[str]) -> None:
        self.source = source
        self.roots = roots

    def fail(self, node: ast.AST | None, message: str) -> ConfigError:
        return _problem(self.source, node, message)

    def check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, str | int | float | bool | type(None)):
                raise self.fail(node, f"the literal {node.value!r} is not allowed")
        elif isinstance(node, ast.Name):
            if node.id not in self.roots and node.id not in {"true", "false", "null"}:
                raise self.fail(
                    node,
                    f"unknown name {node.id!r}; {did_you_mean(node.id, self.roots)}"
                    f"expressions start from {', '.join(sorted(self.roots))}",
                )
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise self.fail(node, f"names starting with '_' are not allowed ({node.attr!r})")
            self.check(node.value)
        elif isinstance(node, ast.Subscript):
            self.check(node.value)
            index = node.slice
            if isinstance(index, ast.Slice):
                for part in (index.lower, index.upper, index.step):
                    if part is not None:
                        self.check(part)
            else:
                self.check(index)
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitOr):
                self.check(node.left)
                self.check_filter(node.right)
            elif type(node.op) in _BINARY:
                self.check(node.left)
                self.check(node.right)
            else:
                raise self.fail(node, f"the operator {type(node.op).__name__} is not allowed")
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise self.fail(
                        node, "only == != < <= > >= in and not in compare values ('is' is not)"
                    )
            for child in (node.left, *node.comparators):
                self.check(child)
        elif isinstance(node, ast.BoolOp):
            for child in node.values:
                self.check(child)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
                raise self.fail(node, "only 'not' and a sign are allowed before a value")
            self.check(node.operand)
        elif isinstance(node, ast.IfExp):
            for child in (node.test, node.body, node.orelse):
                self.check(child)
        elif isinstance(node, ast.List | ast.Tuple):
            for child in node.elts:
                self.check(child)
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS or node.keywords:
                shown = name or ast.unparse(node.func)
                raise self.fail(
                    node,
                    f"the call {shown}(...) is not allowed; "
                    f"{did_you_mean(shown, FUNCTIONS)}functions: {', '.join(FUNCTIONS)} "
                    "(filters such as table and join go after |)",
                )
            for child in node.args:
                self.check(child)
        else:
            raise self.fail(
                node,
                f"{type(node).__name__} is not allowed; expressions may use names, .key, [i], "
                "literals, comparisons, and/or/not, a if c else b, + - * / %, "
                f"{', '.join(FUNCTIONS)}() and | filters",
            )

    def check_filter(self, node: ast.AST) -> None:
        name = node.id if isinstance(node, ast.Name) else None
        args: list[ast.expr] = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name, args = node.func.id, node.args
        if name is None or name not in FILTERS:
            shown = name or ast.unparse(node)
            raise self.fail(
                node,
                f"unknown filter {shown!r}; {did_you_mean(shown, FILTERS)}"
                f"filters: {', '.join(FILTERS)}",
            )
        for arg in args:
            self.check(arg)


def _paths(node: ast.AST, roots: frozenset[str]) -> list[tuple[Path, ast.AST]]:
    """Every access chain from a root with its constant keys: ``steps.x.rows[0]``."""
    found: list[tuple[Path, ast.AST]] = []

    def chain(n: ast.AST) -> Path | None:
        if isinstance(n, ast.Name):
            return (n.id,) if n.id in roots else None
        if isinstance(n, ast.Attribute):
            base = chain(n.value)
            return None if base is None else (*base, n.attr)
        if isinstance(n, ast.Subscript):
            base = chain(n.value)
            if base is None:
                return None
            index = n.slice
            if isinstance(index, ast.Constant) and isinstance(index.value, str | int):
                return (*base, index.value)
            return base
        return None

    def walk(n: ast.AST, top: bool) -> None:
        if isinstance(n, ast.Name | ast.Attribute | ast.Subscript):
            path = chain(n)
            if path is not None and top:
                found.append((path, n))
            # the base of a.b.c is not a reference of its own; indexes inside are
            if isinstance(n, ast.Attribute):
                walk(n.value, False)
            elif isinstance(n, ast.Subscript):
                walk(n.value, False)
                walk(n.slice, True)
            return
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            walk(n.left, True)
            for arg in n.right.args if isinstance(n.right, ast.Call) else []:
                walk(arg, True)
            return
        for child in ast.iter_child_nodes(n):
            walk(child, True)

    walk(node, True)
    return found


# --- evaluating ----------------------------------------------------------------------------


class _Evaluator:
    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context

    def run(self, node: ast.AST) -> Any:
        method: Callable[[Any], Any] = getattr(self, f"_{type(node).__name__}")
        return method(node)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in {"true", "false", "null"}:
            return {"true": True, "false": False, "null": None}[node.id]
        if node.id not in self.context:
            raise Missing(node.id, "is not defined here")
        return self.context[node.id]

    def _Attribute(self, node: ast.Attribute) -> Any:
        return self._lookup(node.value, node.attr, f".{node.attr}")

    def _Subscript(self, node: ast.Subscript) -> Any:
        if isinstance(node.slice, ast.Slice):
            base = self.run(node.value)
            parts = [
                None if p is None else self.run(p)
                for p in (node.slice.lower, node.slice.upper, node.slice.step)
            ]
            if not isinstance(base, list | tuple | str):
                raise ValueError(f"{ast.unparse(node.value)} is not a list, it cannot be sliced")
            return base[slice(*parts)]
        key = self.run(node.slice)
        return self._lookup(node.value, key, f"[{key!r}]")

    def _lookup(self, base_node: ast.AST, key: Any, shown: str) -> Any:
        base = self.run(base_node)
        where = ast.unparse(base_node)
        if isinstance(base, Mapping):
            if key in base:
                return base[key]
            if base.get("skipped") is True:
                raise Missing(f"{where}{shown}", f"{where} was skipped")
            keys = [str(k) for k in base]
            raise Missing(
                f"{where}{shown}",
                f"{where} has no {key!r}; {did_you_mean(str(key), keys)}"
                f"it has {', '.join(keys) or 'nothing'}",
            )
        if isinstance(base, list | tuple) and isinstance(key, int) and not isinstance(key, bool):
            if -len(base) <= key < len(base):
                return base[key]
            raise Missing(f"{where}{shown}", f"{where} has {len(base)} item(s), no index {key}")
        if base is None:
            raise Missing(f"{where}{shown}", f"{where} is empty (null)")
        raise Missing(
            f"{where}{shown}",
            f"{where} is a {type(base).__name__}; {shown} cannot be read from it",
        )

    def _BinOp(self, node: ast.BinOp) -> Any:
        if isinstance(node.op, ast.BitOr):
            return self._filter(node.left, node.right)
        return _BINARY[type(node.op)](self.run(node.left), self.run(node.right))

    def _filter(self, left: ast.AST, right: ast.AST) -> Any:
        if isinstance(right, ast.Call):
            name, args = right.func.id, [self.run(a) for a in right.args]  # type: ignore[attr-defined]
        else:
            name, args = right.id, []  # type: ignore[attr-defined]
        if name == "default":
            try:
                value = self.run(left)
            except Missing:
                value = None
        else:
            value = self.run(left)
            if isinstance(value, Mapping) and value.get("skipped") is True:
                where = ast.unparse(left)
                raise Missing(where, f"{where} was skipped")
        return FILTERS[name](value, *args)

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.run(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.run(right_node)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError:
                raise ValueError(
                    f"cannot compare {type(left).__name__} {left!r} with "
                    f"{type(right).__name__} {right!r}"
                ) from None
            if not ok:
                return False
            left = right
        return True

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for child in node.values:
            value = self.run(child)
            if bool(value) != is_and:
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.run(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if not _number(value):
            raise ValueError(f"a sign needs a number, got {type(value).__name__}")
        return -value if isinstance(node.op, ast.USub) else value

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.run(node.body) if self.run(node.test) else self.run(node.orelse)

    def _List(self, node: ast.List) -> list[Any]:
        return [self.run(e) for e in node.elts]

    def _Tuple(self, node: ast.Tuple) -> list[Any]:
        return [self.run(e) for e in node.elts]

    def _Call(self, node: ast.Call) -> Any:
        return FUNCTIONS[node.func.id](*[self.run(a) for a in node.args])  # type: ignore[attr-defined]


# --- public --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expression:
    """One checked expression; :meth:`evaluate` it against a context mapping."""

    source: str
    tree: ast.Expression
    offset: int = 0
    """Where the hole starts in its template (characters), for error messages."""

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """The expression's value. :class:`Missing` when a lookup finds nothing;
        :class:`~crossroads.errors.ConfigError` for a type error (``"a" < 3``)."""
        try:
            return _Evaluator(context).run(self.tree.body)
        except Missing:
            raise
        except (ValueError, TypeError, ArithmeticError, LookupError) as exc:
            # LookupError: an index or key a filter or function could not find;
            # ArithmeticError: a division by zero, a number too large (1e999 | round)
            raise _problem(self.source, None, str(exc) or type(exc).__name__) from None
        except RecursionError:
            raise _problem(self.source, None, "the value is too deeply nested") from None

    def references(self, roots: Iterable[str]) -> list[tuple[Path, int]]:
        """The constant access paths the expression reads, with their column (0-based)."""
        return [
            (path, getattr(node, "col_offset", 0))
            for path, node in _paths(self.tree.body, frozenset(roots))
        ]


MAX_EXPRESSION_CHARS = 2000
"""The longest expression between ``{{`` and ``}}``."""
MAX_EXPRESSION_DEPTH = 50
"""How deeply an expression may nest (operators, calls, lookups)."""


def _parse(source: str, roots: frozenset[str]) -> Expression:
    text = source.strip()
    if not text:
        raise ConfigError("an empty expression: write what to show between {{ and }}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ConfigError(
            f"in {{{{ {text[:40]}… }}}}: the expression is {len(text):,} characters long; "
            f"expressions are capped at {MAX_EXPRESSION_CHARS:,}: compute the value in a step"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except (RecursionError, MemoryError):
        raise _too_deep(text) from None
    except SyntaxError as err:
        col = f" at column {err.offset}" if err.offset else ""
        raise ConfigError(
            f"in {{{{ {text} }}}}: not a valid expression{col} ({err.msg}); expressions look "
            'like steps.counts.rows[0][1] > 10 and inputs.region == "EU"'
        ) from None
    if _depth(tree.body) > MAX_EXPRESSION_DEPTH:
        raise _too_deep(text)
    _Checker(text, roots).check(tree.body)
    return Expression(text, tree)


def _too_deep(text: str) -> ConfigError:
    return ConfigError(
        f"in {{{{ {text[:40]}{'…' if len(text) > 40 else ''} }}}}: the expression is too "
        f"deeply nested (more than {MAX_EXPRESSION_DEPTH} levels); split it over steps"
    )


def _depth(node: ast.AST) -> int:
    """How deep the tree goes, without recursion (a deep tree must not overflow here)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_EXPRESSION_DEPTH:
            break
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(current))
    return deepest


def parse_condition(source: str, roots: Iterable[str] = ("inputs", "steps", "run")) -> Expression:
    """Parse and check a condition (one expression, no ``{{ }}``)."""
    text = source.strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2]
    return _parse(text, frozenset(roots))


@dataclass(frozen=True, slots=True)
class Template:
    """Text with ``{{ expression }}`` holes, checked when parsed."""

    source: str
    parts: tuple[str | Expression, ...]

    @property
    def expressions(self) -> tuple[Expression, ...]:
        """The holes, in order."""
        return tuple(p for p in self.parts if isinstance(p, Expression))

    @property
    def is_single(self) -> bool:
        """True when the whole template is one hole (``"{{ inputs.n }}"``)."""
        return len(self.parts) == 1 and isinstance(self.parts[0], Expression)

    def value(self, context: Mapping[str, Any]) -> Any:
        """The native value of a one-hole template (an int stays an int), else the text."""
        if self.is_single:
            expression = self.parts[0]
            assert isinstance(expression, Expression)
            return _strict(expression, context)
        return self.render(context)

    def render(
        self,
        context: Mapping[str, Any],
        *,
        quote: Callable[[Any], str] | None = None,
        lenient: bool = False,
    ) -> str:
        """The text with every hole filled. ``quote`` writes each value (SQL literals in
        a query). A hole that cannot be filled (an undefined lookup, a type error) is a
        ConfigError, or with ``lenient`` a note in italics where its value would be."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                value = part.evaluate(context)
            except Missing as exc:
                if not lenient:
                    raise _problem(part.source, None, exc.reason) from None
                out.append(f"_({exc.reason})_")
                continue
            except ConfigError as exc:
                if not lenient:
                    raise
                out.append(f"_(cannot show {{{{ {part.source} }}}}: {exc.reason})_")
                continue
            except Exception as exc:  # a report never fails a finished run
                if not lenient:
                    raise
                out.append(f"_(cannot show {{{{ {part.source} }}}}: {type(exc).__name__})_")
                continue
            out.append(quote(value) if quote is not None else _text(value))
        return "".join(out)


def _strict(expression: Expression, context: Mapping[str, Any]) -> Any:
    try:
        return expression.evaluate(context)
    except Missing as exc:
        raise _problem(expression.source, None, exc.reason) from None


def parse_template(source: str, roots: Iterable[str] = ("inputs", "steps", "run")) -> Template:
    """Parse and check a template; a :class:`~crossroads.errors.ConfigError` says which
    hole is wrong and how."""
    allowed = frozenset(roots)
    parts: list[str | Expression] = []
    pos = 0
    for match in _HOLE.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        if match.group(1) is None:
            raise ConfigError(
                f"{match.group(0)!r} at character {match.start() + 1}: only {{{{ expression }}}} "
                "holes are supported (no {% if %} blocks); for a choice "
                "write {{ 'a' if condition else 'b' }}",
                line=line,
            )
        if match.start() > pos:
            parts.append(source[pos : match.start()])
        try:
            expression = _parse(match.group(1), allowed)
        except ConfigError as err:
            raise ConfigError(err.reason, line=line) from None
        parts.append(Expression(expression.source, expression.tree, match.start()))
        pos = match.end()
    rest = source[pos:]
    if "{{" in rest:
        at = pos + rest.index("{{") + 1
        raise ConfigError(
            f"'{{{{' at character {at} is never closed; end the hole with '}}}}'",
            line=source.count("\n", 0, at - 1) + 1,
        )
    if rest:
        parts.append(rest)
    return Template(source, tuple(parts))
