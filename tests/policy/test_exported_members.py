"""The package exports exactly its public names, sorted, each documented."""

from __future__ import annotations

import dataclasses

import pytest

import crossroads.policy as policy


def test_all_is_exact_and_sorted() -> None:
    public = {name for name in dir(policy) if not name.startswith("_")}
    assert sorted(policy.__all__) == sorted(public)
    assert policy.__all__ == sorted(policy.__all__, key=lambda n: (not n.isupper(), n))


@pytest.mark.parametrize("name", policy.__all__)
def test_every_export_is_documented(name: str) -> None:
    obj = getattr(policy, name)
    if callable(obj):
        assert obj.__doc__, name


@pytest.mark.parametrize(
    "cls",
    [
        policy.Grant,
        policy.RowFilter,
        policy.ColumnMask,
        policy.BoundRowFilter,
        policy.BoundMask,
        policy.DocumentFilter,
        policy.Securable,
    ],
)
def test_values_are_frozen_slotted_dataclasses(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "__slots__" in cls.__dict__
    assert hasattr(cls, "describe") or cls is policy.Securable


def test_a_grant_cannot_be_changed() -> None:
    grant = policy.Grant(privilege="SELECT", on="table:t", to="*")
    with pytest.raises(dataclasses.FrozenInstanceError):
        grant.to = "user:x"  # type: ignore[misc]
