"""Each package's ``__all__`` is exact: sorted, complete, and every name importable."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "crossroads",
    "crossroads.agents",
    "crossroads.audit",
    "crossroads.connectors",
    "crossroads.connectors.llm",
    "crossroads.errors",
    "crossroads.graphs",
    "crossroads.policy",
    "crossroads.tools",
    "crossroads.tools.graph",
    "crossroads.tools.long_context",
    "crossroads.tools.rag",
    "crossroads.tools.sql",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_unique_and_importable(name: str) -> None:
    # ruff's RUF022 keeps each __all__ sorted; this checks it names real members
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported))
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member}, which is missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_are_all_exported(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith("crossroads")
        and not isinstance(v, type(importlib))
    }
    assert public <= set(module.__all__), sorted(public - set(module.__all__))


def test_every_error_has_the_one_root() -> None:
    import crossroads.errors as errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.CrossroadsError)
