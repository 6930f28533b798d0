"""The shape of a policy file, checked with pydantic, and pydantic's errors put in plain words.

Only the shape is checked here (keys, types). What the values mean (securables,
privileges, SQL) is checked when the catalog is built, by the same code that
checks rules built in Python.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import ErrorDetails

from crossroads.policy._securable import did_you_mean

__all__ = ["Loc", "PolicyModel", "describe_error", "key_path"]

Loc = tuple[str | int, ...]
"""A path into the policy document: ``("row_filters", 0, "where")``."""

SUPPORTED_VERSION = 1


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _empty_if_none(empty: Any) -> BeforeValidator:
    return BeforeValidator(lambda value: empty() if value is None else value)


def _scalar_or_list(value: Any) -> Any:
    scalars = (str, int, float, bool)
    if isinstance(value, scalars):
        return value
    if isinstance(value, list) and all(isinstance(v, scalars) for v in value):
        return value
    raise ValueError(
        f"expected a string, number, boolean or a list of those, got "
        f"{type(value).__name__} {value!r}"
    )


def _check_version(version: int) -> int:
    if version != SUPPORTED_VERSION:
        raise ValueError(
            f"unsupported policy version {version}: this crossroads reads version "
            f"{SUPPORTED_VERSION}; write 'version: {SUPPORTED_VERSION}' (and the matching format)"
        )
    return version


Grantees = Annotated[list[str], BeforeValidator(_listify)]
Value = Annotated[Any, AfterValidator(_scalar_or_list)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PrincipalEntry(_Model):
    """``alice: {groups: [...], attributes: {...}}``."""

    groups: Annotated[list[str], _empty_if_none(list)] = []
    attributes: Annotated[dict[str, Value], _empty_if_none(dict)] = {}


class GrantEntry(_Model):
    """``{to: ..., privilege: ..., on: ...}`` in ``grants:``."""

    to: Grantees
    privilege: str
    on: str


class RowFilterEntry(_Model):
    """``{on: table:..., where: ..., to: ..., except: ...}`` in ``row_filters:``."""

    on: str
    where: str
    to: Grantees = ["*"]
    except_: Grantees = Field(default=[], alias="except")


class ColumnMaskEntry(_Model):
    """``{on: column:..., mask: ..., to: ..., except: ...}`` in ``column_masks:``."""

    on: str
    mask: str
    to: Grantees = ["*"]
    except_: Grantees = Field(default=[], alias="except")


class DocumentEntry(_Model):
    """``{to: ..., on: collection:..., where: {...}}`` in ``documents:``."""

    to: Grantees
    privilege: str = "READ"
    on: str
    where: dict[str, Value] | None = None


class GraphEntry(_Model):
    """``{to: ..., on: relation:...}`` in ``graph:``."""

    to: Grantees
    privilege: str = "TRAVERSE"
    on: str


class PolicyModel(_Model):
    """The whole policy document."""

    version: Annotated[int, AfterValidator(_check_version)] = SUPPORTED_VERSION
    principals: Annotated[
        dict[str, Annotated[PrincipalEntry, _empty_if_none(dict)]], _empty_if_none(dict)
    ] = {}
    grants: Annotated[list[GrantEntry], _empty_if_none(list)] = []
    row_filters: Annotated[list[RowFilterEntry], _empty_if_none(list)] = []
    column_masks: Annotated[list[ColumnMaskEntry], _empty_if_none(list)] = []
    documents: Annotated[list[DocumentEntry], _empty_if_none(list)] = []
    graph: Annotated[list[GraphEntry], _empty_if_none(list)] = []


def key_path(loc: Sequence[str | int]) -> str:
    """``("row_filters", 0, "where")`` → ``row_filters[0].where``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class describing the entry at ``loc``, if it is one."""
    tp: Any = PolicyModel
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = tp.model_fields
            tp = next((f.annotation for n, f in fields.items() if part in (n, f.alias)), None)
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _keys(model: type[BaseModel], *, required: bool = False) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items() if f.is_required() or not required]


_EXPECTED = {
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "list_type": "expected a list",
    "dict_type": "expected a mapping (key: value)",
    "bool_type": "expected true or false",
}


def _what(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "the string", type(None): "nothing (null)"}
    name = names.get(type(value), f"{type(value).__name__}")
    return name if value is None else f"{name} {value!r}"


def describe_error(error: ErrorDetails) -> tuple[Loc, str]:
    """Where a pydantic error points (``[key]`` steps dropped) and what it means, in plain words."""
    loc: Loc = tuple(p for p in error["loc"] if p != "[key]")
    kind, value = error["type"], error.get("input")
    if error["loc"][-1:] == ("[key]",):  # a mapping key that is not a string: 123: {...}
        return (*loc[:-1], str(loc[-1])), f"keys here must be strings, got {_what(value)}; quote it"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = _keys(model) if model else []
        hint = did_you_mean(key, allowed)
        return loc, (
            f"unknown key {key!r}; {hint}the keys allowed here are {', '.join(allowed)}; "
            "rename or remove it"
        )
    if kind == "missing":
        model = _model_at(loc[:-1])
        needed = f" (an entry here needs {', '.join(_keys(model, required=True))})" if model else ""
        return loc, f"missing required key {loc[-1]!r}{needed}; add it"
    if kind == "value_error":
        return loc, str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "model_type":
        model = _model_at(loc)
        keys = f" with the keys {', '.join(_keys(model))}" if model else ""
        return loc, f"expected a mapping{keys}, got {_what(value)}"
    expected = _EXPECTED.get(kind, error["msg"])
    fix = f"; write [{value}]" if kind == "list_type" and isinstance(value, str) else ""
    return loc, f"{expected}, got {_what(value)}{fix}"
