"""Build a catalog from a policy file or dict, and write one back as a dict.

::

    version: 1
    principals:
      alice: {groups: [eu_sales], attributes: {region: EU}}
    grants:
      - {to: "group:analysts", privilege: SELECT, on: "table:*"}
    row_filters:
      - {on: "table:sales", where: "region = :region", except: ["group:global"]}
    column_masks:
      - {on: "column:patients.ssn", mask: "'***'", except: ["group:pv_officer"]}
    documents:
      - {to: "group:medical_info", on: "collection:labels", where: {region: ":region"}}
    graph:
      - {to: "group:medical_info", on: "relation:INTERACTS_WITH"}

Every problem becomes one :class:`ConfigError` naming the file, the line (for
YAML) and the key path; several problems are reported together. YAML is read
with YAML 1.2 booleans: only ``true``/``false`` are booleans, so the key ``on``
and a region ``NO`` stay strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import ValidationError

from crossroads.errors import ConfigError
from crossroads.policy._principal import Principal
from crossroads.policy._rules import freeze_where
from crossroads.policy._schema import (
    ColumnMaskEntry,
    Loc,
    PolicyModel,
    RowFilterEntry,
    describe_error,
    key_path,
)
from crossroads.policy._securable import (
    PRIVILEGES,
    SECURABLE_KINDS,
    Securable,
    and_list,
    check_privilege_applies,
    parse_grantee,
    parse_privilege,
)
from crossroads.policy._sql import MASK_EXAMPLE, ROW_FILTER_EXAMPLE, parse_sql_expression

if TYPE_CHECKING:
    from crossroads.policy._catalog import Catalog

__all__ = ["dump_dict", "load_dict", "load_yaml"]

T = TypeVar("T")


MAX_YAML_CHARS = 1_000_000
"""The largest policy or workflow file read (characters): far above any real one."""


class _PolicyYAMLLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (``on``, ``yes``, ``NO`` stay strings) that
    refuses anchors and aliases: a few hundred bytes of nested aliases expand to billions
    of values (and nothing in a policy or workflow needs them)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise yaml.composer.ComposerError(
                None,
                None,
                f"YAML anchors and aliases are not allowed (found {sign}{event.anchor}); "
                "write the value out where it is used",
                event.start_mark,
            )
        return super().compose_node(parent, index)


_BOOL = "tag:yaml.org,2002:bool"
_PolicyYAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PolicyYAMLLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Problems:
    """Problems found while building, each at a key path, reported together at the end."""

    def __init__(self, source: str | None, root: yaml.Node | None) -> None:
        self.source = source
        self.root = root
        self.found: list[tuple[int | None, str, str]] = []  # line, key path, message

    def add(self, loc: Loc, message: str, *, line: int | None = None) -> None:
        """Record a problem at ``loc`` (on ``line``, else the line ``loc`` leads to)."""
        self.found.append((line or _line_of(self.root, loc), key_path(loc), message))

    def attempt(self, loc: Loc, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``fn(*args, **kwargs)``, or ``None`` with its ConfigError recorded at ``loc``."""
        try:
            return fn(*args, **kwargs)
        except ConfigError as err:
            self.add(loc, err.reason)
            return None

    def raise_if_any(self) -> None:
        """Raise one ConfigError for everything found, the first line first."""
        if not self.found:
            return
        located = sorted(self.found, key=lambda item: item[0] or 0)
        line, key, message = located[0]
        if len(located) > 1:
            where = f"{self.source}:" if self.source else "line "
            rest = [
                f"\n  {where}{ln}: {k}: {m}" if ln else f"\n  {k}: {m}" for ln, k, m in located[1:]
            ]
            message += f"\n{len(rest)} more problem{'s' if len(rest) > 1 else ''}:" + "".join(rest)
        raise ConfigError(message, file=self.source, line=line, key=key or None)


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest node along ``loc`` that exists in the YAML tree."""
    if root is None:
        return None
    node, line = root, root.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next((kv for kv in node.value if str(kv[0].value) == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _duplicate_keys(problems: _Problems, node: yaml.Node, loc: Loc = ()) -> None:
    """Record mapping keys written twice (YAML itself silently keeps the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                problems.add(
                    (*loc, name),
                    f"the key {name!r} appears twice here (first on line {seen[name]}); "
                    "YAML would keep only the last one, so merge the two",
                    line=line,
                )
            seen.setdefault(name, line)
            _duplicate_keys(problems, value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _duplicate_keys(problems, item, (*loc, i))


_SECTION_OF = {
    "table": "grants",
    "column": "grants",
    "tool": "grants",
    "collection": "documents",
    "relation": "graph",
    "label": "graph",
    "graph": "graph",
}


def _typed(text: str, kinds: frozenset[str], section: str | None) -> Securable:
    """Parse a securable that must be of one of ``kinds``."""
    securable = Securable.parse(text)
    if securable.kind in kinds:
        return securable
    if section is None:  # row filters and masks: one kind each
        (kind,) = kinds
        example = "table:sales" if kind == "table" else "column:patients.ssn"
        other = "column_masks" if kind == "table" else "row_filters"
        raise ConfigError(
            f"{securable} is a {securable.kind}, but this rule applies to a {kind}; "
            f"write e.g. on: {example!r} (or move the rule to {other}:)"
        )
    listed = and_list([k for k in SECURABLE_KINDS if k in kinds])
    raise ConfigError(
        f"{securable} is a {securable.kind}, but {section}: only holds {listed} securables; "
        f"grant it under {_SECTION_OF[securable.kind]}: instead"
    )


def _privilege(text: str, securable: Securable | None, only: str | None) -> str:
    privilege = parse_privilege(text)
    if only is not None and privilege != only:
        raise ConfigError(
            f"this section only grants {only}; write privilege: {only} or leave it out"
        )
    if securable is not None:
        check_privilege_applies(privilege, securable)
    return privilege


def _build(catalog: Catalog, data: Any, source: str | None, root: yaml.Node | None) -> Catalog:
    problems = _Problems(source, root)
    if root is not None:
        _duplicate_keys(problems, root)
    try:
        policy = PolicyModel.model_validate(data)
    except ValidationError as err:
        for error in err.errors():
            problems.add(*describe_error(error))
        problems.raise_if_any()
        raise  # unreachable: a ValidationError always carries errors
    problems.raise_if_any()
    attempt = problems.attempt

    for pid, entry in policy.principals.items():
        principal = attempt(("principals", pid), Principal, pid, entry.groups, entry.attributes)
        if principal is not None:
            attempt(("principals", pid), catalog.add_principal, principal)

    simple: list[tuple[str, Any, frozenset[str], str | None]] = [
        ("grants", policy.grants, frozenset().union(*PRIVILEGES.values()), None),
        ("documents", policy.documents, PRIVILEGES["READ"], "READ"),
        ("graph", policy.graph, PRIVILEGES["TRAVERSE"], "TRAVERSE"),
    ]
    for section, entries, kinds, only in simple:
        for i, e in enumerate(entries):
            loc: Loc = (section, i)
            on = attempt((*loc, "on"), _typed, e.on, kinds, section)
            privilege = attempt((*loc, "privilege"), _privilege, e.privilege, on, only)
            to = _grantees(attempt, (*loc, "to"), e.to)
            where = getattr(e, "where", None)
            where_ok = all(
                attempt((*loc, "where", k), freeze_where, {k: v}) is not None
                for k, v in (where or {}).items()
            )
            if on is None or privilege is None or to is None or not where_ok:
                continue
            for grantee in to:
                attempt(loc, catalog.grant, privilege, on=on, to=grantee, where=where)

    _load_rules(problems, "row_filters", policy.row_filters, catalog.add_row_filter)
    _load_rules(problems, "column_masks", policy.column_masks, catalog.add_column_mask)
    problems.raise_if_any()
    return catalog


def _load_rules(
    problems: _Problems,
    section: str,
    entries: Sequence[RowFilterEntry | ColumnMaskEntry],
    add: Callable[..., object],
) -> None:
    """Check and add row filters (``where``) or column masks (``mask``), each key on its own."""
    kind, key, example = (
        ("table", "where", ROW_FILTER_EXAMPLE)
        if section == "row_filters"
        else ("column", "mask", MASK_EXAMPLE)
    )
    attempt = problems.attempt
    for i, entry in enumerate(entries):
        loc: Loc = (section, i)
        text = entry.where if isinstance(entry, RowFilterEntry) else entry.mask
        on = attempt((*loc, "on"), _typed, entry.on, frozenset({kind}), None)
        what = f"{'row filter' if kind == 'table' else 'column mask'} on {entry.on}"
        parsed = attempt((*loc, key), parse_sql_expression, text, what=what, example=example)
        to = _grantees(attempt, (*loc, "to"), entry.to)
        except_ = _grantees(attempt, (*loc, "except"), entry.except_, allow_empty=True)
        if on and parsed and to is not None and except_ is not None:
            # what is left to find (a second mask on one column) is about the securable
            attempt((*loc, "on"), add, on, text, to=to, except_=except_)


def _grantees(
    attempt: Callable[..., Any], loc: Loc, values: list[str], *, allow_empty: bool = False
) -> list[str] | None:
    if not values and not allow_empty:
        attempt(loc, _fail, "an empty list applies to nobody; name a grantee, or '*' for everyone")
        return None
    parsed = [
        attempt(loc if len(values) == 1 else (*loc, j), parse_grantee, v)
        for j, v in enumerate(values)
    ]
    return None if None in parsed else [p for p in parsed if p is not None]


def _fail(message: str) -> None:
    raise ConfigError(message)


def load_dict(catalog: Catalog, data: Mapping[str, Any], *, source: str | None) -> Catalog:
    """Fill ``catalog`` from the dict form; ``source`` names it in errors."""
    return _build(catalog, data, source, None)


def _policy_hint(problem: str) -> str:
    if "alias" in problem:
        return 'a bare * starts a YAML alias: write "*" (quoted) for everyone'
    return ""


def parse_yaml(
    text: str, file: str | None, *, hint: Callable[[str], str] | None = None
) -> tuple[yaml.Node | None, Any]:
    """Parse one YAML document safely (no anchors or aliases, no tags, at most
    :data:`MAX_YAML_CHARS`), keeping its node tree for line numbers. A syntax error is a
    ConfigError at its line; ``hint`` turns the parser's problem text into advice ("" for
    none)."""
    if len(text) > MAX_YAML_CHARS:
        raise ConfigError(
            f"the file holds {len(text):,} characters; policy and workflow files are capped "
            f"at {MAX_YAML_CHARS:,}: split it, or check it is the file you meant",
            file=file,
        )
    loader = _PolicyYAMLLoader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or "a syntax error"
        context = f" ({err.context})" if err.context else ""
        advice = hint(f"{err.context} {err.problem}") if hint else ""
        raise ConfigError(
            f"invalid YAML: {problem}{context}{'; ' + advice if advice else ''}; "
            "fix the syntax there",
            file=file,
            line=mark.line + 1 if mark else None,
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML: {err}", file=file) from err
    finally:
        loader.dispose()
    return root, data


def load_yaml(catalog: Catalog, path: str | os.PathLike[str]) -> Catalog:
    """Fill ``catalog`` from a YAML policy file."""
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"the policy file {file} does not exist (looked in {Path(file).resolve().parent}); "
            "check the path",
            file=file,
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{file} is a directory, not a policy file", file=file) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"the policy file is not UTF-8 text ({err.reason})", file=file) from err
    except OSError as err:
        raise ConfigError(f"the policy file cannot be read: {err.strerror}", file=file) from err
    root, data = parse_yaml(text, file, hint=_policy_hint)
    if root is None:
        raise ConfigError(
            "the policy file is empty; write at least 'version: 1' and the grants it holds",
            file=file,
            line=1,
        )
    if not isinstance(root, yaml.MappingNode):
        found = "a list" if isinstance(root, yaml.SequenceNode) else f"the value {data!r}"
        raise ConfigError(
            f"the top level of a policy file must be a mapping with keys such as version, "
            f"principals, grants; found {found}",
            file=file,
            line=root.start_mark.line + 1,
        )
    return _build(catalog, data, file, root)


def _rule_entry(
    on: Securable, key: str, text: str, to: tuple[str, ...], except_: tuple[str, ...]
) -> dict[str, Any]:
    entry: dict[str, Any] = {"on": str(on), key: text}
    if to != ("*",):
        entry["to"] = to[0] if len(to) == 1 else list(to)
    if except_:
        entry["except"] = list(except_)
    return entry


def dump_dict(catalog: Catalog) -> dict[str, Any]:
    """The dict form of ``catalog`` (``Catalog.from_dict`` reads it back)."""
    principals: dict[str, Any] = {}
    for pid, p in catalog.principals.items():
        entry: dict[str, Any] = {}
        if p.groups:
            entry["groups"] = list(p.groups)
        if p.attributes:
            entry["attributes"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in p.attributes.items()
            }
        principals[pid] = entry
    sections: dict[str, list[dict[str, Any]]] = {"grants": [], "documents": [], "graph": []}
    for g in catalog.grants:
        item: dict[str, Any] = {"to": g.to, "privilege": g.privilege, "on": str(g.on)}
        if g.where:
            item["where"] = {k: v[0] if len(v) == 1 else list(v) for k, v in g.where.items()}
        section = {"READ": "documents", "TRAVERSE": "graph"}.get(g.privilege, "grants")
        sections[section].append(item)
    rules: dict[str, list[dict[str, Any]]] = {
        "row_filters": [
            _rule_entry(r.on, "where", r.where, r.to, r.except_) for r in catalog.row_filters
        ],
        "column_masks": [
            _rule_entry(m.on, "mask", m.mask, m.to, m.except_) for m in catalog.column_masks
        ],
    }
    out: dict[str, Any] = {"version": 1}
    if principals:
        out["principals"] = principals
    for name in ("grants", "row_filters", "column_masks", "documents", "graph"):
        entries = sections.get(name) or rules.get(name)
        if entries:
            out[name] = entries
    return out
